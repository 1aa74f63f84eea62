"""Rooms: one resolver, its routes in one Router per use case (rooms.routers). Roles are decided in
the use-case modules."""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
from core.http import lambda_handler, make_resolver
from rooms.routers import balances, forks, groups, images, invitations, members, messages, rooms

app = make_resolver()
for routes in (rooms, members, invitations, messages, groups, forks, balances, images):
    app.include_router(routes.router)

handler = coldstart.entry(lambda_handler(app))
