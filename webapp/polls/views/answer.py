"""Poll pages: answer (placeholder: filled by its area)."""

from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
