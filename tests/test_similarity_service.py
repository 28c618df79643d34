"""SimilarityService on a real database (SQLite, or PostgreSQL with TEST_DATABASE_URL).

The lexical ``hashing-char-ngrams`` model keeps these fast; one test (marked slow) runs the
real default model end to end.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

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
    vectors,
)
from webapp.app import create_app
from webapp.dedup.embedder import embedder_lock, load_finder
from webapp.dedup.engine import SimilarityService
from webapp.dedup.similar_ideas import SimilarityUnavailable, text_hash
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import make_engine, make_session_factory
from webapp.kernel.storage.models import IdeaEmbedding


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


def _text(title: str, body: str) -> str:
    return f"{title}\n{body}"


def test_similar_ranks_the_near_copy_first_and_never_hidden_merged_or_itself(
    fast_settings: Settings, factory: sessionmaker[Session]
) -> None:
    user = author(factory)
    bike = add_idea(factory, user, *BIKE)
    others = [add_idea(factory, user, *o) for o in OTHER]
    trees = add_idea(factory, user, *TREES)
    hidden = add_idea(factory, user, *BIKE_COPY, status="hidden")
    merged = add_idea(factory, user, BIKE_COPY[0] + "!", BIKE_COPY[1], status="merged")
    svc = service(fast_settings, factory)
    assert svc.embed_pending() == len(others) + 4  # every idea, hidden and merged included
    with factory() as session:
        found = svc.similar(session, _text(*BIKE_COPY), k=5)
        assert found, "the near-copy was not found"
        assert found[0].idea.id == bike
        ids = [s.idea.id for s in found]
        assert hidden not in ids and merged not in ids
        assert found[0].score >= found[-1].score
        assert found[0].score >= fast_settings.similar_min_score
        assert all(s.score >= fast_settings.similar_min_score for s in found)
        # the idea itself is never suggested to itself
        mine = svc.similar(session, _text(*BIKE), k=5, exclude_id=bike)
        assert bike not in [s.idea.id for s in mine]
        # an English query finds the English idea first
        english = svc.similar(session, _text(*TREES_COPY), k=3)
        assert english and english[0].idea.id == trees
        # semantic browse pages through the same ranking
        first = svc.like(session, "велодорожка Тверская", limit=2)
        second = svc.like(session, "велодорожка Тверская", limit=2, offset=2)
        assert first and first[0].idea.id == bike
        assert not {s.idea.id for s in first} & {s.idea.id for s in second}
        assert hidden not in [s.idea.id for s in first + second]


def test_min_score_drops_weak_suggestions(
    fast_settings: Settings, factory: sessionmaker[Session]
) -> None:
    user = author(factory)
    add_idea(factory, user, *BIKE)
    for o in OTHER:
        add_idea(factory, user, *o)
    strict = service(fast(fast_settings, similar_min_score=0.99), factory)
    loose = service(fast(fast_settings, similar_min_score=0.0), factory)
    loose.embed_pending()
    strict.poll()
    with factory() as session:
        query = "Ремонт качелей во дворе"
        assert loose.similar(session, query, k=5)
        assert strict.similar(session, query, k=5) == []


def test_editing_the_text_re_embeds_only_that_idea(
    fast_settings: Settings, factory: sessionmaker[Session]
) -> None:
    user = author(factory)
    bike = add_idea(factory, user, *BIKE)
    trees = add_idea(factory, user, *TREES)
    svc = service(fast_settings, factory)
    svc.embed_pending()
    before = vectors(factory)
    assert before[bike][2] == text_hash(_text(*BIKE))

    edit(factory, user, bike, *OTHER[0])  # a different text
    svc.note_changed(bike)
    assert svc.embed_pending(full_scan=False) == 1
    after = vectors(factory)
    assert after[bike][2] == text_hash(_text(*OTHER[0])) != before[bike][2]
    assert after[bike][0] > before[bike][0]  # a new row: other workers poll it
    assert after[trees] == before[trees]
    with factory() as session:
        found = svc.similar(session, _text(*OTHER[0]), k=1)
    assert found[0].idea.id == bike

    edit(factory, user, bike, *OTHER[0])  # saved again, same text: updated_at moves only
    assert svc.embed_pending() == 0
    assert vectors(factory)[bike] == after[bike]
    assert svc.embed_pending() == 0  # and it is not re-checked forever


def test_a_second_worker_takes_the_vectors_the_first_one_wrote(
    fast_settings: Settings, factory: sessionmaker[Session]
) -> None:
    user = author(factory)
    bike = add_idea(factory, user, *BIKE)
    for o in OTHER:
        add_idea(factory, user, *o)
    first = service(fast_settings, factory)
    assert first.embed_pending() == 1 + len(OTHER)
    second = service(fast_settings, factory)  # starts later: loads the stored vectors
    assert second.finder is not None
    assert len(second.finder) == 1 + len(OTHER)
    assert second.embedded == 0

    new = add_idea(factory, user, *TREES)
    first.note_changed(new)
    assert first.embed_pending(full_scan=False) == 1
    assert second.poll() == 1
    assert second.embed_pending() == 0  # nothing left to embed: computed once per city
    with factory() as session:
        assert second.similar(session, _text(*TREES_COPY), k=1)[0].idea.id == new
        assert second.similar(session, _text(*BIKE_COPY), k=1)[0].idea.id == bike


def test_only_one_process_embeds_at_a_time(
    fast_settings: Settings, factory: sessionmaker[Session]
) -> None:
    user = author(factory)
    svc = service(fast_settings, factory)
    idea = add_idea(factory, user, *BIKE)
    svc.note_changed(idea)
    with embedder_lock(factory, fast_settings) as got:  # another process is embedding
        assert got
        assert svc.embed_pending(full_scan=False) == 0
        assert svc.has_pending  # kept for the next tick
        assert vectors(factory) == {}
    assert svc.embed_pending(full_scan=False) == 1
    assert not svc.has_pending


def test_lookups_never_block_while_loading_or_disabled(
    fast_settings: Settings, factory: sessionmaker[Session]
) -> None:
    loading = SimilarityService(fast_settings, factory)
    assert loading.status == "loading"
    with factory() as session, pytest.raises(SimilarityUnavailable) as err:
        loading.similar(session, "что угодно", k=3)
    assert err.value.status == 503 and "warming up" in err.value.message
    off = SimilarityService(fast(fast_settings, embedding_model="off"), factory)
    assert off.status == "disabled"
    off.start()
    assert off.status == "disabled"
    with factory() as session, pytest.raises(SimilarityUnavailable):
        off.like(session, "что угодно")
    broken = SimilarityService(fast(fast_settings, embedding_model="no-such/model-xyz"), factory)
    broken.start()
    assert not broken.wait_ready(60)
    assert broken.status == "failed" and broken.error
    with factory() as session, pytest.raises(SimilarityUnavailable):
        broken.similar(session, "что угодно")


def test_the_app_embeds_new_ideas_in_the_background(fast_settings: Settings) -> None:
    app = create_app(fast_settings)
    factory = app.state.session_factory
    clear_dedup(factory)
    user = author(factory)
    existing = add_idea(factory, user, *BIKE)
    with TestClient(app):
        svc = app.state.similarity
        assert svc.wait_ready(60)
        new = add_idea(factory, user, *TREES)
        svc.note_changed(new)  # what the submit view does
        deadline = time.monotonic() + 20
        # stored, then indexed (the embedder polls its own rows in after the commit: on a busy
        # machine, e.g. under pytest-xdist, the search can run in between)
        while time.monotonic() < deadline and (
            set(vectors(factory)) != {existing, new} or svc.finder is None or len(svc.finder) < 2
        ):
            time.sleep(0.1)
        assert set(vectors(factory)) == {existing, new}
        with factory() as session:
            assert svc.similar(session, _text(*TREES_COPY), k=1)[0].idea.id == new
    assert not [t for t in threading.enumerate() if t.name == "veche-similarity" and t.is_alive()]


@pytest.mark.slow
def test_the_default_model_finds_a_paraphrase(settings: Settings) -> None:
    settings = fast(settings, embedding_model="veche-embedded-v1")
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    clear_dedup(factory)
    try:
        user = author(factory)
        bike = add_idea(factory, user, *BIKE)
        trees = add_idea(factory, user, *TREES)
        for o in OTHER:
            add_idea(factory, user, *o)
        svc = SimilarityService(settings, factory)
        svc.start()
        assert svc.wait_ready(300), svc.error
        assert svc.model_identity == "veche-embedded-v1"
        assert svc.embed_pending() == 2 + len(OTHER)
        with factory() as session:
            dim = session.scalar(select(IdeaEmbedding.dim).limit(1))
            assert svc.finder is not None and dim == svc.finder.dim
            # paraphrases with few shared words, in both languages
            ru = svc.similar(session, "Сделайте дорожку для велосипедистов по Тверской", k=3)
            en = svc.similar(session, "More trees for Gorky Park, please", k=3)
        assert ru and ru[0].idea.id == bike
        assert en and en[0].idea.id == trees
    finally:
        engine.dispose()


def test_a_saved_index_is_restored_and_caught_up(
    fast_settings: Settings, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """VECHE_INDEX_DIR: a worker starts from the saved index and reads only newer vectors."""
    settings = dataclasses.replace(fast_settings, index_dir=str(tmp_path / "index"))
    user = author(factory)
    bike = add_idea(factory, user, *BIKE)
    for o in OTHER:
        add_idea(factory, user, *o)
    first = service(settings, factory)
    assert first.embed_pending() == 1 + len(OTHER)
    first.stop()  # saves: the cursor moved on since start-up
    files = sorted(p.suffix for p in (tmp_path / "index").iterdir())
    assert files == [".index", ".json"]

    trees = add_idea(factory, user, *TREES)
    first.stopping.clear()
    first.note_changed(trees)
    assert first.embed_pending(full_scan=False) == 1  # written after the save

    second = SimilarityService(settings, factory, finder=load_finder(settings))
    restored = second._restore_index()
    assert restored == 1 + len(OTHER)
    assert second.cursor == first._saved_cursor
    assert second.poll() == 1  # only the vector newer than the file
    second.status = "ready"
    with factory() as session:
        assert second.similar(session, _text(*TREES_COPY), k=1)[0].idea.id == trees
        assert second.similar(session, _text(*BIKE_COPY), k=1)[0].idea.id == bike

    # a file written for another model is ignored: the index is rebuilt from the database
    meta_path = next((tmp_path / "index").glob("*.json"))
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "model": "another-model@1"}))
    third = SimilarityService(settings, factory)
    third.load()
    assert third._saved_cursor == third.cursor  # rebuilt from the database, then saved again
    assert third.finder is not None and len(third.finder) == 2 + len(OTHER)
    assert json.loads(meta_path.read_text())["model"] == third.finder.identity
