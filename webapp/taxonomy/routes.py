"""The taxonomy pages' addresses (composed with every domain's in ``webapp/routes.py``)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from webapp.kernel.routing import BOTH
from webapp.taxonomy.views import admin


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/categories", admin.categories, methods=BOTH, name="admin_categories"),
        Route("/admin/districts", admin.districts, methods=BOTH, name="admin_districts"),
    ]
