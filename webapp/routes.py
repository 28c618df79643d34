"""The one named route table. Templates and code look URLs up by name."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from webapp.views import admin, auth, ideas, moderation, pages, similar
from webapp.views.api import api_routes

GET, POST, BOTH = ["GET"], ["POST"], ["GET", "POST"]


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def build_routes(static_dir: Path) -> list[BaseRoute]:
    return [
        Route("/", ideas.index, methods=GET, name="index"),
        Route("/ideas/new", ideas.new_idea, methods=BOTH, name="new_idea"),
        Route("/ideas/similar", similar.similar_fragment, methods=GET, name="similar_ideas"),
        Route("/ideas/{idea_id:int}", ideas.show_idea, methods=GET, name="idea"),
        Route("/ideas/{idea_id:int}/edit", ideas.edit_idea, methods=BOTH, name="edit_idea"),
        Route("/ideas/{idea_id:int}/support", ideas.support, methods=POST, name="support"),
        Route("/ideas/{idea_id:int}/oppose", ideas.oppose, methods=POST, name="oppose"),
        Route("/ideas/{idea_id:int}/withdraw", ideas.withdraw, methods=POST, name="withdraw"),
        Route("/ideas/{idea_id:int}/comments", ideas.comment, methods=POST, name="comment"),
        Route("/ideas/{idea_id:int}/report", ideas.report_idea, methods=POST, name="report"),
        Route("/my/ideas", ideas.my_ideas, methods=GET, name="my_ideas"),
        Route("/register", auth.register, methods=BOTH, name="register"),
        Route("/login", auth.login, methods=BOTH, name="login"),
        Route("/logout", auth.logout, methods=POST, name="logout"),
        Route("/language", auth.set_language, methods=POST, name="set_language"),
        Route("/admin/categories", admin.categories, methods=BOTH, name="admin_categories"),
        Route("/admin/districts", admin.districts, methods=BOTH, name="admin_districts"),
        Route("/admin/audit", admin.audit_log, methods=GET, name="admin_audit"),
        Route("/admin/audit.csv", admin.audit_csv, methods=GET, name="admin_audit_csv"),
        Route("/ranking", pages.ranking_help, methods=GET, name="ranking_help"),
        Route(
            "/moderation/ideas/{idea_id:int}/weights",
            moderation.idea_weights,
            methods=GET,
            name="idea_weights",
        ),
        Route(
            "/moderation/duplicates",
            moderation.duplicates,
            methods=GET,
            name="moderation_duplicates",
        ),
        Route("/healthz", health, methods=GET, name="health"),
        Mount("/api/v1", routes=api_routes(), name="api"),
        Mount("/static", app=StaticFiles(directory=static_dir), name="static"),
    ]
