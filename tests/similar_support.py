"""Shared set-up of the similar-ideas tests: an app with a real (fast) model, planted ideas.

The model is "hashing-char-ngrams" (lexical, no weights, instant); the real default model is
tested by the ml/ tests. With it, unrelated Russian texts still score about 0.3-0.4, so these
apps show suggestions from 0.6 up (VECHE_SIMILAR_MIN_SCORE), as a site would configure a floor.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from webapp.app import create_app
from webapp.dedup.embedder import count_stale
from webapp.ideas import ideas as ideas_service
from webapp.kernel.dto import CurrentUser
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Category, Idea
from webapp.ranking import ranking_log

MODEL = "hashing-char-ngrams"
MIN_SCORE = 0.6

TARGET = (
    "Велодорожка вдоль набережной Москвы-реки",
    "Нужно построить безопасную велодорожку вдоль всей набережной, отделённую от машин бордюром.",
)
TYPED = (
    "Велодорожка вдоль набережной реки",
    "Построить безопасную велодорожку вдоль набережной, отделённую от машин бордюром.",
)
OTHERS = [
    (
        "Отремонтировать детскую площадку во дворе",
        "Площадка во дворе на улице Ленина сломана: качели и горка опасны для детей.",
    ),
    (
        "Больше урн в парке Горького",
        "В парке не хватает урн для мусора, особенно у входа и возле фонтанов.",
    ),
    (
        "Free Wi-Fi in public libraries",
        "Every city library should offer free wireless internet to visitors of all ages.",
    ),
]
# Copies of the target that must never be suggested: one hidden, one merged into the target.
HIDDEN = (TARGET[0] + "!", TARGET[1] + " Срочно.")
MERGED = (TARGET[0] + " и набережной", TARGET[1] + " Это очень нужно.")
UNRELATED = (
    "Новый светофор у школы номер пять",
    "На перекрёстке у школы нужен светофор с кнопкой, дети переходят дорогу без него.",
)


def similar_app(settings: Settings, **changes: Any) -> Any:
    values: dict[str, Any] = {"embedding_model": MODEL, "similar_min_score": MIN_SCORE}
    values.update(changes)
    return create_app(replace(settings, **values))


def category_id(session_factory: Any, slug: str = "transport") -> int:
    with transaction(session_factory) as s:
        found = s.scalar(select(Category.id).where(Category.slug == slug))
        assert found is not None, slug
        return int(found)


def plant(
    session_factory: Any, author: CurrentUser, text: tuple[str, str], category: str = "transport"
) -> int:
    """A published idea, stored the way the site stores one."""
    data = {
        "title": text[0],
        "body": text[1],
        "category_id": category_id(session_factory, category),
    }
    with transaction(session_factory) as s:
        return ideas_service.submit_idea(s, author, data)


def set_status(
    session_factory: Any, idea_id: int, status: str, merged_into: int | None = None
) -> None:
    """A moderator's change of status (with its ranking-log entry)."""
    with transaction(session_factory) as s:
        idea = s.get(Idea, idea_id)
        assert idea is not None
        idea.status = status
        idea.merged_into_id = merged_into
        s.flush()
        ranking_log.idea_changed(s, idea_id)


def settle(app: Any, timeout: float = 60.0) -> None:
    """Wait for the model, then until every idea has a vector in this worker's index."""
    service = app.state.similarity
    assert service.wait_ready(timeout), (service.status, service.error)
    deadline = time.monotonic() + timeout
    while True:
        service.embed_pending(full_scan=True)  # 0 when the background embedder holds the lock
        service.poll()
        with transaction(app.state.session_factory) as s:
            if count_stale(s, service.model_identity) == 0:
                break
        assert time.monotonic() < deadline, "ideas were not embedded in time"
        time.sleep(0.05)
    service.poll()


def plant_corpus(app: Any, author: CurrentUser) -> dict[str, int]:
    """The target, three unrelated ideas, a hidden and a merged copy of the target; embedded.

    The copies are embedded while public and hidden or merged afterwards, so their vectors are
    in the index: the lookups themselves must leave them out.
    """
    factory = app.state.session_factory
    ids = {"target": plant(factory, author, TARGET)}
    for n, text in enumerate(OTHERS):
        ids[f"other{n}"] = plant(factory, author, text)
    ids["hidden"] = plant(factory, author, HIDDEN)
    ids["merged"] = plant(factory, author, MERGED)
    settle(app)
    set_status(factory, ids["hidden"], "hidden")
    set_status(factory, ids["merged"], "merged", merged_into=ids["target"])
    return ids
