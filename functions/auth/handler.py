"""Auth routes: parse, call logic, answer. Nothing here decides."""

from __future__ import annotations

from auth import logic
from auth.schemas import LoginIn, MeOut, MePatch, RefreshIn, RegisterIn, TokensOut
from core import db
from core.http import caller, client_ip, documented, lambda_handler, make_resolver
from core.models.user import User

app = make_resolver()


def _me(user: User) -> MeOut:
    return MeOut.model_validate(user, from_attributes=True)


def _tokens(issued: logic.Issued) -> TokensOut:
    return TokensOut(
        user=_me(issued.user),
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
    )


@app.post(
    "/api/v1/auth/register",
    status_code=201,
    summary="Create an account and sign in",
    tags=["auth"],
    openapi_extensions=documented(409),
)
def register(body: RegisterIn) -> TokensOut:
    with db.session_scope() as session:
        return _tokens(logic.register(session, body.email, body.username, body.password))


@app.post(
    "/api/v1/auth/login",
    summary="Sign in with email and password",
    tags=["auth"],
    openapi_extensions=documented(401, 429),
)
def login(body: LoginIn) -> TokensOut:
    return _tokens(logic.login(db.session_scope, body.email, body.password, client_ip(app)))


@app.post(
    "/api/v1/auth/refresh",
    summary="Trade a refresh token for a new pair",
    tags=["auth"],
    openapi_extensions=documented(401),
)
def refresh(body: RefreshIn) -> TokensOut:
    with db.session_scope() as session:
        return _tokens(logic.refresh(session, body.refresh_token, client_ip(app)))


@app.delete("/api/v1/auth/logout", status_code=204, summary="Revoke this token and its refresh family", tags=["auth"])
def logout() -> None:
    with db.session_scope() as session:
        logic.logout(session, caller(app), client_ip(app))


@app.get("/api/v1/auth/me", summary="The signed-in user", tags=["auth"])
def me() -> MeOut:
    with db.session_scope() as session:
        return _me(logic.get_me(session, caller(app).user_id))


@app.patch("/api/v1/auth/me", summary="Update bio or avatar", tags=["auth"])
def update_me(body: MePatch) -> MeOut:
    with db.session_scope() as session:
        changes = body.model_dump(exclude_unset=True)
        return _me(logic.update_me(session, caller(app).user_id, changes))


handler = lambda_handler(app)
