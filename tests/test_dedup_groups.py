"""Candidate duplicate groups: built as ideas are embedded, updated incrementally, listed for
moderators (real database; the lexical hashing model)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.similarity_helpers import (
    BIKE,
    BIKE_COPY,
    OTHER,
    TREES,
    TREES_COPY,
    add_idea,
    author,
    clear_dedup,
    edit,
    fast,
    service,
)
from webapp.cli import main
from webapp.dedup.dedup_groups import list_groups
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import make_engine, make_session_factory, transaction
from webapp.kernel.storage.models import DuplicateGroup, DuplicatePair, Idea

BUS_15 = (
    "Автобус 15 до метро Сокол",
    "Пустите автобус номер 15 до станции метро Сокол каждые 10 минут.",
)
BUS_51 = (
    "Автобус 51 до метро Сокол",
    "Пустите автобус номер 51 до станции метро Сокол каждые 10 минут.",
)
BIKE_THIRD = (
    "Велодорожка по Тверской улице",
    "Нужна выделенная велодорожка вдоль Тверской улицы, от Кремля до вокзала.",
)


@pytest.fixture
def fast_settings(settings: Settings) -> Settings:
    return fast(settings)


@pytest.fixture
def factory(fast_settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(fast_settings)
    factory = make_session_factory(engine)
    clear_dedup(factory)
    yield factory
    engine.dispose()


def _groups(factory: sessionmaker[Session]) -> dict[frozenset[int], int]:
    with factory() as session:
        page, total = list_groups(session, limit=50)
    assert total == len(page)
    return {frozenset(m.idea.id for m in g.members): g.id for g in page}


def test_groups_appear_for_planted_duplicates_only_and_grow_incrementally(
    fast_settings: Settings, factory: sessionmaker[Session]
) -> None:
    user = author(factory)
    bike = add_idea(factory, user, *BIKE)
    trees = add_idea(factory, user, *TREES)
    others = [add_idea(factory, user, *o) for o in OTHER]
    bus15 = add_idea(factory, user, *BUS_15)
    bus51 = add_idea(factory, user, *BUS_51)  # similar words, another route: not a duplicate
    svc = service(fast_settings, factory)
    svc.embed_pending()
    assert _groups(factory) == {}

    bike2 = add_idea(factory, user, *BIKE_COPY)
    trees2 = add_idea(factory, user, *TREES_COPY)
    svc.note_changed(bike2)
    svc.note_changed(trees2)
    assert svc.embed_pending(full_scan=False) == 2
    groups = _groups(factory)
    assert set(groups) == {frozenset({bike, bike2}), frozenset({trees, trees2})}
    with factory() as session:
        page, _ = list_groups(session)
        pairs = session.execute(select(DuplicatePair.idea_a, DuplicatePair.idea_b)).all()
    assert {tuple(p) for p in pairs} == {(bike, bike2), (trees, trees2)}
    assert not {bus15, bus51, *others} & {m.idea.id for g in page for m in g.members}
    assert svc.finder is not None
    for g in page:
        assert g.score >= svc.finder.threshold
        assert g.members[0].score == g.score
        assert all(m.idea.status == "published" for m in g.members)
    with factory() as session:
        trees_updated = session.get_one(
            DuplicateGroup, groups[frozenset({trees, trees2})]
        ).updated_at

    # a third copy of the bike lane joins its group; the trees group is left alone
    bike3 = add_idea(factory, user, *BIKE_THIRD)
    svc.note_changed(bike3)
    assert svc.embed_pending(full_scan=False) == 1
    after = _groups(factory)
    assert frozenset({bike, bike2, bike3}) in after
    assert after[frozenset({trees, trees2})] == groups[frozenset({trees, trees2})]
    with factory() as session:
        assert (
            session.get_one(DuplicateGroup, after[frozenset({trees, trees2})]).updated_at
            == trees_updated
        )

    # the moderators' list drops members that were hidden since; a group left alone disappears
    with transaction(factory) as session:
        session.execute(update(Idea).where(Idea.id == trees2).values(status="hidden"))
    assert set(_groups(factory)) == {frozenset({bike, bike2, bike3})}


def test_an_edit_that_changes_the_subject_leaves_the_group(
    fast_settings: Settings, factory: sessionmaker[Session]
) -> None:
    user = author(factory)
    trees = add_idea(factory, user, *TREES)
    trees2 = add_idea(factory, user, *TREES_COPY)
    add_idea(factory, user, *OTHER[0])
    svc = service(fast_settings, factory)
    svc.embed_pending()
    assert set(_groups(factory)) == {frozenset({trees, trees2})}
    edit(factory, user, trees2, *OTHER[3])
    svc.note_changed(trees2)
    assert svc.embed_pending(full_scan=False) == 1
    assert _groups(factory) == {}
    with factory() as session:
        assert session.scalars(select(DuplicateGroup.id)).all() == []


def test_reindex_rebuilds_the_same_groups(
    fast_settings: Settings, factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    user = author(factory)
    ideas = [add_idea(factory, user, *t) for t in (BIKE, BIKE_COPY, TREES, TREES_COPY, *OTHER)]
    svc = service(fast_settings, factory)
    svc.embed_pending()
    incremental = set(_groups(factory))
    assert incremental == {frozenset(ideas[:2]), frozenset(ideas[2:4])}
    monkeypatch.setenv("VECHE_EMBEDDING_MODEL", "hashing-char-ngrams")
    assert (
        main(["--database-url", fast_settings.database_url, "reindex", "--force", "--quiet"]) == 0
    )
    assert set(_groups(factory)) == incremental


def test_a_copy_arriving_after_a_duplicate_was_hidden_joins_the_group(
    fast_settings: Settings, factory: sessionmaker[Session]
) -> None:
    """Hidden ideas keep their stored pairs but never hold a new copy out of a group."""
    user = author(factory)
    bike = add_idea(factory, user, *BIKE)
    bike2 = add_idea(factory, user, *BIKE_COPY)
    for o in OTHER:
        add_idea(factory, user, *o)
    svc = service(fast_settings, factory)
    svc.embed_pending()
    assert set(_groups(factory)) == {frozenset({bike, bike2})}
    with transaction(factory) as session:
        session.execute(update(Idea).where(Idea.id == bike2).values(status="hidden"))
    bike3 = add_idea(factory, user, BIKE_COPY[0], BIKE_COPY[1] + " Пожалуйста.")
    svc.note_changed(bike3)
    assert svc.embed_pending(full_scan=False) == 1
    assert set(_groups(factory)) == {frozenset({bike, bike3})}
