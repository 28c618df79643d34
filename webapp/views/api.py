"""JSON API under /api/v1 (filled in by the API work)."""

from __future__ import annotations

from starlette.routing import BaseRoute


def api_routes() -> list[BaseRoute]:
    return []
