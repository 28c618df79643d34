"""Admin pages: categories and districts are data that admins edit (/admin/categories,
/admin/districts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from webapp.kernel.dto import Named
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


MAX_FORM_FIELDS = 4_000  # two names a row: about 2,000 okrugs and districts in one save


@dataclass(frozen=True)
class OkrugGroup:
    """One okrug's section of the districts page: the okrug (None: districts of no okrug) and
    the districts shown under it."""

    okrug: Named | None
    districts: list[Named]
    matched: bool  # the filter matched the okrug itself or one of its districts


def _matches(d: Named, needle: str) -> bool:
    names = (d.name_ru, d.name_en, d.slug, d.short_ru or "", d.short_en or "")
    return any(needle in n.casefold() for n in names)


def group_districts(rows: list[Named], query: str = "") -> list[OkrugGroup]:
    """Okrugs with their districts in page order; with ``query``, only the okrugs that match
    (all their districts) or hold matching districts (only those)."""
    needle = " ".join(query.split()).casefold()
    okrugs = [d for d in rows if d.parent_id is None]
    known = {o.id for o in okrugs}
    children: dict[int | None, list[Named]] = {}
    for d in rows:
        if d.parent_id is not None:
            children.setdefault(d.parent_id if d.parent_id in known else None, []).append(d)
    groups: list[OkrugGroup] = []
    for okrug in [*okrugs, None]:
        members = children.get(okrug.id if okrug else None, [])
        if okrug is None and not members:
            continue
        if not needle:
            groups.append(OkrugGroup(okrug, members, False))
        elif okrug is not None and _matches(okrug, needle):
            groups.append(OkrugGroup(okrug, members, True))
        else:
            found = [d for d in members if _matches(d, needle)]
            if found:
                groups.append(OkrugGroup(okrug, found, True))
    return groups


def _typed_names(form: dict[str, str]) -> dict[int, tuple[object, object]]:
    """The (Russian, English) names typed per district id: fields ``name_ru-<id>`` and
    ``name_en-<id>`` (one row as ``district_id``, ``name_ru``, ``name_en`` is read too: the
    form of one row that scripts may still post)."""
    names: dict[int, tuple[object, object]] = {}
    single = form.get("district_id") or ""
    if single:
        if not single.isdigit() or len(single) >= 10:
            raise invalid("district_id", "Must be a whole number.")
        names[int(single)] = (form.get("name_ru"), form.get("name_en"))
    for key in form:
        prefix, _, raw = key.partition("-")
        if prefix == "name_ru" and raw.isdigit() and len(raw) < 10:
            names[int(raw)] = (form.get(key), form.get(f"name_en-{raw}"))
    return names


async def districts(request: Request) -> Response:
    """All okrugs and districts on one page, grouped by okrug, with a filter and ONE Save: a
    single POST renames every changed row in one transaction, or nothing when a row is wrong."""
    user = await require_user(request, "administer")
    query = (request.query_params.get("q") or "").strip()[:100]
    errors: dict[str, str] = {}
    typed: dict[int, tuple[object, object]] = {}
    status = 200
    if request.method == "POST":
        form = await read_form(request, max_fields=MAX_FORM_FIELDS)
        query = (form.get("q") or "").strip()[:100]
        typed = _typed_names(form)
        try:
            changed = await db(request, taxonomy.save_districts, user.id, typed)
        except InvalidInput as exc:
            errors = field_errors(request, exc)
            status = 422
        else:
            if changed:
                flash(request, "Saved. Names changed: %(num)s.", "success", num=len(changed))
            else:
                flash(request, "Nothing to save: no name was changed.", "info")
            return redirect(
                request, "admin_districts", query=urlencode({"q": query}) if query else ""
            )
    rows = await db(request, taxonomy.list_districts)
    by_id = {d.id: d for d in rows}
    problems = []  # (district, field id, message) for the summary above the form
    for key, message in errors.items():
        _field, _, raw = key.partition("-")
        district = by_id.get(int(raw)) if raw.isdigit() else None
        problems.append((district, key, message))
    return await render(
        request,
        "taxonomy/districts.html",
        {
            "groups": group_districts(rows, query),
            "total": len(rows),
            "q": query,
            "errors": errors,
            "problems": problems,
            "typed": {i: (str(ru or ""), str(en or "")) for i, (ru, en) in typed.items()},
        },
        status,
    )
