"""Public project pages: the list of projects (open ones first) and one project with its
timeline, numbers, the action its stage allows and its ideas. Drafts are 404 for citizens and
shown to officials and admins with a "draft" badge.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from webapp.campaigns import evaluations
from webapp.kernel.routing import GET
from webapp.kernel.security import can
from webapp.kernel.web import current_user, db, page_number, render
from webapp.projects import listing
from webapp.projects.stages import allows
from webapp.taxonomy import taxonomy


def _names(session: Any) -> dict[str, Any]:
    categories = taxonomy.list_categories(session)
    districts = taxonomy.list_districts(session)
    return {
        "category_by_id": {c.id: c for c in categories},
        "district_by_id": {d.id: d for d in districts},
    }


async def projects_page(request: Request) -> Response:
    """The published projects, open ones first."""

    def load(session: Any) -> dict[str, Any]:
        return {"projects": listing.list_projects(session), **_names(session)}

    return await render(request, "campaigns/projects.html", await db(request, load))


def primary_action(p: listing.ProjectDetail) -> tuple[str, str] | None:
    """(kind, url) of the one thing a resident can do now: propose, vote, or read the results."""
    if allows(p.state, "propose", p.voting):
        return "propose", f"/ideas/new?project={p.id}"
    if allows(p.state, "ballot", p.voting):
        return "ballot", f"/projects/{p.id}/ballot"
    if allows(p.state, "support", p.voting):
        return "support", f"/ideas?project={p.id}"
    if p.results_published_at is not None:
        return "results", f"/projects/{p.id}/results"
    return None


async def project_page(request: Request) -> Response:
    """One project: cover, question, description, timeline, numbers, action and ideas; during
    the review how many ideas the experts evaluated, during and after a budget vote how many
    ballots each pot got (to everyone: counts only). In a budget vote the ideas show their cost
    and, once the results are published, their votes and which are funded."""
    project_id = request.path_params["project_id"]
    user = await current_user(request)
    staff = user is not None and can(user.role, "answer")
    page = page_number(request.query_params.get("page"))
    size = request.app.state.settings.page_size

    def load(session: Any) -> dict[str, Any]:
        detail = listing.project_detail(session, project_id, staff=staff)
        budget = detail.voting != "supports"
        return {
            "project": detail,
            "ideas": listing.project_ideas(
                session,
                project_id,
                page,
                size,
                budget=budget,
                results=budget and detail.results_published_at is not None,
            ),
            # counts only, never who chose what
            "pot_ballots": evaluations.ballot_counts(session, project_id)
            if detail.ballots_counted
            else None,
            "evaluated": listing.evaluated_ideas(session, project_id) if detail.in_review else None,
            **_names(session),
        }

    ctx = await db(request, load)
    ctx["action"] = primary_action(ctx["project"])
    ctx["staff"] = staff
    return await render(request, "campaigns/project_page.html", ctx)


ROUTES: list[BaseRoute] = [
    Route("/projects", projects_page, methods=GET, name="projects"),
    Route("/projects/{project_id:id}", project_page, methods=GET, name="project"),
]
