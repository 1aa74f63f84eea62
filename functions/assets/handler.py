"""Assets and shares: one resolver, its routes in one Router per use case (assets.routers)."""

from __future__ import annotations

from assets.routers import library, playback, reports, sharing, spaces, uploads
from core.http import lambda_handler, make_resolver

app = make_resolver()
for routes in (uploads, library, playback, sharing, reports, spaces):
    app.include_router(routes.router)

handler = lambda_handler(app)
