"""Assets and shares: one resolver, its routes in one Router per use case (assets.routers)."""

from __future__ import annotations

from core import coldstart  # first: no garbage collection while a cold start imports

# isort: split
from assets.routers import library, playback, reports, sharing, spaces, uploads
from core.http import lambda_handler, make_resolver

app = make_resolver()
for routes in (uploads, library, playback, sharing, reports, spaces):
    app.include_router(routes.router)

handler = coldstart.entry(lambda_handler(app))
