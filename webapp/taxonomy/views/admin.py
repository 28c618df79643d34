"""Admin pages: categories and districts are data that admins edit (/admin/categories,
/admin/districts)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from webapp.kernel.errors import InvalidInput, invalid
from webapp.kernel.web import db, field_errors, flash, read_form, redirect, render, require_user
from webapp.taxonomy import taxonomy


async def categories(request: Request) -> Response:
    user = await require_user(request, "administer")
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        values = await read_form(request)
        raw_id = values.get("category_id") or ""
        try:
            category_id = int(raw_id) if raw_id else None
        except ValueError:
            raise invalid("category_id", "Must be a whole number.") from None
        try:
            await db(
                request,
                taxonomy.save_category,
                user.id,
                category_id=category_id,
                slug=values.get("slug"),
                name_ru=values.get("name_ru"),
                name_en=values.get("name_en"),
            )
        except InvalidInput as exc:
            errors = field_errors(request, exc)
            status = 422
        else:
            flash(request, "Saved.", "success")
            return redirect(request, "admin_categories")
    rows = await db(request, taxonomy.list_categories)
    return await render(
        request,
        "taxonomy/categories.html",
        {"categories": rows, "errors": errors, "values": values},
        status,
    )


async def districts(request: Request) -> Response:
    user = await require_user(request, "administer")
    if request.method == "POST":
        values = await read_form(request)
        try:
            district_id = int(values.get("district_id") or "")
        except ValueError:
            raise invalid("district_id", "Must be a whole number.") from None
        await db(
            request,
            taxonomy.save_district,
            user.id,
            district_id=district_id,
            name_ru=values.get("name_ru"),
            name_en=values.get("name_en"),
        )
        flash(request, "Saved.", "success")
        return redirect(request, "admin_districts")
    rows = await db(request, taxonomy.list_districts)
    return await render(request, "taxonomy/districts.html", {"districts": rows})
