"""The ideas pages' addresses (composed with every domain's in ``webapp/routes.py``)."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from webapp.ideas.views import ideas, maps, photos
from webapp.kernel.routing import BOTH, GET, POST


def routes() -> list[BaseRoute]:
    return [
        Route("/", ideas.index, methods=GET, name="index"),
        # the same list, at the address project pages link to (/ideas?project=ID)
        Route("/ideas", ideas.index, methods=GET, name="ideas"),
        Route("/ideas/new", ideas.new_idea, methods=BOTH, name="new_idea"),
        Route("/ideas/{idea_id:id}", ideas.show_idea, methods=GET, name="idea"),
        Route("/ideas/{idea_id:id}/edit", ideas.edit_idea, methods=BOTH, name="edit_idea"),
        Route("/ideas/{idea_id:id}/support", ideas.support, methods=POST, name="support"),
        Route("/ideas/{idea_id:id}/oppose", ideas.oppose, methods=POST, name="oppose"),
        Route("/ideas/{idea_id:id}/withdraw", ideas.withdraw, methods=POST, name="withdraw"),
        Route("/ideas/{idea_id:id}/comments", ideas.comment, methods=POST, name="comment"),
        Route("/my/ideas", ideas.my_ideas, methods=GET, name="my_ideas"),
        Route("/ideas/{idea_id:id}/photos", photos.photos_page, methods=BOTH, name="idea_photos"),
        Route(
            "/ideas/{idea_id:id}/photos/{photo_id:id}/remove",
            photos.remove_photo,
            methods=POST,
            name="remove_idea_photo",
        ),
        Route("/media/{file}", photos.media, methods=GET, name="media"),
        Route("/map", maps.map_page, methods=GET, name="ideas_map"),
        Route("/ideas/{idea_id:id}/place", maps.place_page, methods=BOTH, name="idea_place"),
    ]
