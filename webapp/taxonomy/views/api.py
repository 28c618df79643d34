"""Categories and districts for programs: GET /api/v1/categories, /api/v1/districts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from webapp.kernel.api import named
from webapp.kernel.openapi import Call, Operation
from webapp.kernel.web import db, language
from webapp.taxonomy import taxonomy


async def categories(request: Request, call: Call) -> Response:
    """All categories"""
    lang = language(request)
    items = await db(request, taxonomy.list_categories)
    return JSONResponse({"items": [named(c, lang) for c in items]})


async def districts(request: Request, call: Call) -> Response:
    """Okrugs and districts

    Each okrug is followed by its districts, which name it as parent_id.
    """
    lang = language(request)
    items = await db(request, taxonomy.list_districts)
    return JSONResponse(
        {
            "items": [
                {
                    "id": d.id,
                    "slug": d.slug,
                    "name": d.name(lang),
                    "short_name": d.short_en if lang == "en" else d.short_ru,
                    "parent_id": d.parent_id,
                }
                for d in items
            ]
        }
    )


OPERATIONS: tuple[Operation, ...] = (
    Operation("GET /categories", categories, "CategoryList", "taxonomy", auth="none"),
    Operation("GET /districts", districts, "DistrictList", "taxonomy", auth="none"),
)
