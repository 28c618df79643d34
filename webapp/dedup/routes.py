"""The dedup pages' addresses (composed with every domain's in ``webapp/routes.py``)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from webapp.dedup.views import duplicates, merges, similar
from webapp.kernel.routing import GET, POST


def routes() -> list[BaseRoute]:
    return [
        Route("/ideas/similar", similar.similar_fragment, methods=GET, name="similar_ideas"),
        Route(
            "/moderation/duplicates",
            duplicates.queue,
            methods=GET,
            name="moderation_duplicates",
        ),
        Route(
            "/moderation/duplicates/{group_id:id}/merge",
            duplicates.merge,
            methods=POST,
            name="merge_duplicates",
        ),
        Route(
            "/moderation/duplicates/{group_id:id}/dismiss",
            duplicates.dismiss,
            methods=POST,
            name="dismiss_duplicates",
        ),
        Route("/moderation/merges", merges.history, methods=GET, name="moderation_merges"),
        Route(
            "/moderation/merges/{merge_id:id}/unmerge",
            merges.unmerge,
            methods=POST,
            name="moderation_unmerge",
        ),
        Route(
            "/moderation/ideas/{idea_id:id}/merge",
            merges.merge_idea,
            methods=POST,
            name="moderation_merge_idea",
        ),
    ]
