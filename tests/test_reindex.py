"""`veche reindex` on a real database: re-embeds every idea for a model, with a progress bar."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.progress_helpers import RecordedProgress
from tests.similarity_helpers import (
    BIKE,
    BIKE_COPY,
    OTHER,
    TREES,
    add_idea,
    author,
    clear_dedup,
    fast,
    service,
    vectors,
)
from webapp.cli import main
from webapp.dedup.embedder import load_finder
from webapp.dedup.reindex import reindex
from webapp.dedup.similar_ideas import text_hash
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import make_engine, make_session_factory


@pytest.fixture
def factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    clear_dedup(factory)
    yield factory
    engine.dispose()


def _reindex(database_url: str, *args: str) -> int:
    return main(["--database-url", database_url, "reindex", *args])


def test_reindex_replaces_another_models_vectors_with_progress(
    settings: Settings,
    factory: sessionmaker[Session],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VECHE_EMBEDDING_MODEL", "hashing-char-ngrams")
    user = author(factory)
    ids = [add_idea(factory, user, *t) for t in [BIKE, TREES, *OTHER]]
    hidden = add_idea(factory, user, *BIKE_COPY, status="hidden")
    old = service(fast(settings), factory)
    old.embed_pending()
    before = vectors(factory)
    assert {m for _, m, _ in before.values()} == {"hashing-char-ngrams@1"}

    assert _reindex(settings.database_url, "--model", "all-MiniLM-L6-v2", "--batch", "3") == 0
    out, err = capsys.readouterr()
    after = vectors(factory)
    assert set(after) == {*ids, hidden}
    assert {m for _, m, _ in after.values()} == {"st:all-MiniLM-L6-v2"}
    assert all(after[i][0] > before[i][0] for i in after)  # new rows: workers poll them
    assert all(after[i][2] == before[i][2] for i in after)  # same texts
    assert f"{len(ids) + 1} ideas, {len(ids) + 1} embedded ({len(ids) + 1} replacing" in out
    assert "embed" in err and "100%" in err  # the progress bar
    assert "VECHE_EMBEDDING_MODEL is 'hashing-char-ngrams'" in err

    # nothing changed: a second run keeps every vector; --force re-embeds them all
    assert _reindex(settings.database_url, "--model", "all-MiniLM-L6-v2", "--quiet") == 0
    out, _ = capsys.readouterr()
    assert "0 embedded" in out and vectors(factory) == after
    assert _reindex(settings.database_url, "--model", "all-MiniLM-L6-v2", "--force", "--quiet") == 0
    forced = vectors(factory)
    assert all(forced[i][0] > after[i][0] for i in forced)

    # back to the configured model: the hashing vectors come back (same texts, same hashes)
    assert _reindex(settings.database_url, "--quiet") == 0
    back = vectors(factory)
    assert {m for _, m, _ in back.values()} == {"hashing-char-ngrams@1"}
    assert back[ids[0]][2] == text_hash(f"{BIKE[0]}\n{BIKE[1]}")


def test_reindex_refuses_unknown_models_and_bad_batches(
    settings: Settings, factory: sessionmaker[Session], capsys: pytest.CaptureFixture[str]
) -> None:
    user = author(factory)
    add_idea(factory, user, *BIKE)
    assert _reindex(settings.database_url, "--model", "/nowhere/no-such-model", "--quiet") == 2
    err = capsys.readouterr().err
    assert err.startswith("veche: error: the model '/nowhere/no-such-model' is not available")
    assert "Traceback" not in err
    assert _reindex(settings.database_url, "--model", "hashing-char-ngrams", "--batch", "0") == 2
    assert "--batch must be at least 1" in capsys.readouterr().err
    assert _reindex(settings.database_url, "--model", "off") == 2
    assert "name a model with --model" in capsys.readouterr().err
    assert vectors(factory) == {}


def test_reindex_reports_its_stages(settings: Settings, factory: sessionmaker[Session]) -> None:
    """reindex() reports "embed" (every idea) and "groups" (public ideas with a vector); the
    command line draws them (test above), nothing else is drawn by the job itself."""
    user = author(factory)
    for t in [BIKE, BIKE_COPY, TREES, *OTHER]:
        add_idea(factory, user, *t)
    add_idea(factory, user, *TREES, status="hidden")
    fast_settings = fast(settings)
    progress = RecordedProgress()
    report = reindex(factory, fast_settings, load_finder(fast_settings), batch=2, progress=progress)
    ideas = len(OTHER) + 4
    assert report.embedded == ideas
    assert progress.summary() == {
        "embed/idea": (ideas, ideas),
        "groups/idea": (ideas - 1, ideas - 1),
    }
