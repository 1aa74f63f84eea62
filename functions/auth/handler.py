"""Auth routes: parse, call logic, answer. Nothing here decides."""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
from auth import logic
from auth.schemas import LoginIn, MeOut, MePatch, RefreshIn, RegisterIn, TokensOut
from core import db
from core.http import caller, client_ip, documented, lambda_handler, make_resolver, route
from core.routes import LOGIN, LOGOUT, ME, REFRESH, REGISTER, UPDATE_ME

app = make_resolver()


@route(
    app,
    REGISTER,
    status_code=201,
    summary="Create an account and sign in",
    tags=["auth"],
    openapi_extensions=documented(409),
)
def register(body: RegisterIn) -> TokensOut:
    with db.session_scope() as session:
        return TokensOut.of(logic.register(session, body.email, body.username, body.password))


@route(
    app,
    LOGIN,
    summary="Sign in with email and password",
    tags=["auth"],
    openapi_extensions=documented(401, 429),
)
def login(body: LoginIn) -> TokensOut:
    return TokensOut.of(logic.login(db.session_scope, body.email, body.password, client_ip(app)))


@route(
    app,
    REFRESH,
    summary="Trade a refresh token for a new pair",
    tags=["auth"],
    openapi_extensions=documented(401),
)
def refresh(body: RefreshIn) -> TokensOut:
    with db.session_scope() as session:
        return TokensOut.of(logic.refresh(session, body.refresh_token, client_ip(app)))


@route(app, LOGOUT, status_code=204, summary="Revoke this token and its refresh family", tags=["auth"])
def logout() -> None:
    with db.session_scope() as session:
        logic.logout(session, caller(app), client_ip(app))


@route(app, ME, summary="The signed-in user", tags=["auth"])
def me() -> MeOut:
    with db.session_scope() as session:
        return MeOut.of(logic.get_me(session, caller(app).user_id))


@route(app, UPDATE_ME, summary="Update bio or avatar", tags=["auth"])
def update_me(body: MePatch) -> MeOut:
    with db.session_scope() as session:
        changes = body.model_dump(exclude_unset=True)
        return MeOut.of(logic.update_me(session, caller(app).user_id, changes))


handler = coldstart.entry(lambda_handler(app))
