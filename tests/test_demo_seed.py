"""`seed_demo`: real ideas with exactly their real support counts, from distinct demo voters."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from tests.helpers import Browser
from tests.progress_helpers import RecordedProgress
from webapp.demo import demo
from webapp.demo import demo_votes as dv
from webapp.demo.demo_sources import EXTRACT_DIR, html_to_text, madrid_category, uk_category
from webapp.demo.demo_store import voter_email
from webapp.ideas.ideas import IdeaFilter, list_ideas
from webapp.kernel.errors import InvalidInput
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import District, Idea, User, Vote

LIMIT = 15


def real_counts(data_dir: Path | None = None, limit: int = LIMIT) -> dict[str, int]:
    """The support counts of the first ``limit`` eligible rows of each file, read independently."""
    uk_path = (
        EXTRACT_DIR / "uk_petitions.jsonl"
        if data_dir is None
        else data_dir / "uk_petitions" / "petitions.jsonl"
    )
    madrid_path = (
        EXTRACT_DIR / "decide_madrid.csv"
        if data_dir is None
        else data_dir / "decide_madrid" / "proposals.csv"
    )
    counts: dict[str, int] = {}
    with uk_path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    for row in [r for r in rows if r["state"] != "rejected"][:limit]:
        counts[f"uk_petitions:{row['id']}"] = row["signature_count"]
    with madrid_path.open(encoding="utf-8", newline="") as fh:
        proposals = [r for r in csv.DictReader(fh, delimiter=";") if not r["retired_at"]]
    for row in proposals[:limit]:
        counts[f"decide_madrid:{row['id']}"] = int(row["cached_votes_up"])
    return counts


def stored(session_factory: Any) -> dict[str, tuple[int, int]]:
    """external_ref -> (support_count, number of vote rows)."""
    with transaction(session_factory) as session:
        votes = (
            select(func.count()).select_from(Vote).where(Vote.idea_id == Idea.id).scalar_subquery()
        )
        rows = session.execute(select(Idea.external_ref, Idea.support_count, votes)).all()
    return {ref: (support, n) for ref, support, n in rows}


def test_seeded_ideas_have_exactly_their_real_support_counts(session_factory: Any) -> None:
    report = demo.seed_demo(session_factory, limit=LIMIT)
    expected = real_counts()
    assert stored(session_factory) == {ref: (n, n) for ref, n in expected.items()}
    assert report.ideas == 2 * LIMIT
    assert report.votes == sum(expected.values())
    assert report.voters == max(expected.values())


def test_progress_reports_voters_ideas_and_votes(session_factory: Any) -> None:
    """Seeding reports its stages; the command line draws them as bars."""
    progress = RecordedProgress()
    report = demo.seed_demo(session_factory, limit=3, progress=progress)
    assert list(progress.stages) == ["voters/user", "ideas/idea", "votes/vote"]
    assert progress.summary() == {
        "voters/user": (report.voters, report.voters),
        "ideas/idea": (report.ideas, report.ideas),
        "votes/vote": (report.votes, report.votes),
    }
    again = RecordedProgress()
    demo.seed_demo(session_factory, limit=3, progress=again)
    assert again.stages == {}  # nothing new: no stage starts


def test_voters_are_distinct_unusable_and_registered_before_their_first_vote(
    session_factory: Any,
) -> None:
    demo.seed_demo(session_factory, limit=LIMIT)
    with transaction(session_factory) as session:
        doubles = session.execute(
            select(Vote.user_id, Vote.idea_id)
            .group_by(Vote.user_id, Vote.idea_id)
            .having(func.count() > 1)
        ).all()
        assert doubles == []
        assert session.scalar(select(func.count()).select_from(Vote).where(Vote.value != 1)) == 0
        voters = session.execute(
            select(User.password_hash, User.role, User.district_id, User.verified_resident).where(
                User.email.like("voter-%@demo.veche.local")
            )
        ).all()
        assert len(voters) == max(real_counts().values())
        assert {v.password_hash for v in voters} == {"!"}
        assert {v.role for v in voters} == {"citizen"}
        assert all(v.district_id is not None for v in voters)
        assert 0.5 < np.mean([v.verified_resident for v in voters]) < 0.7
        early = session.scalar(
            select(func.count())
            .select_from(Vote)
            .join(User, User.id == Vote.user_id)
            .where(User.created_at >= Vote.created_at)
        )
        assert early == 0
        before_idea = session.scalar(
            select(func.count())
            .select_from(Vote)
            .join(Idea, Idea.id == Vote.idea_id)
            .where(Vote.created_at < Idea.created_at)
        )
        assert before_idea == 0
        latest = session.scalar(select(func.max(Vote.created_at)))
        assert latest is not None and latest <= datetime.now(UTC)


def test_madrid_ideas_draw_most_of_their_voters_from_their_okrug(session_factory: Any) -> None:
    demo.seed_demo(session_factory, limit=60)
    idea_district = aliased(District)
    voter_district = aliased(District)
    with transaction(session_factory) as session:
        rows = (
            session.execute(
                select(idea_district.parent_id == voter_district.parent_id)
                .select_from(Vote)
                .join(Idea, Idea.id == Vote.idea_id)
                .join(User, User.id == Vote.user_id)
                .join(idea_district, idea_district.id == Idea.district_id)
                .join(voter_district, voter_district.id == User.district_id)
                .where(Idea.external_ref.like("decide_madrid:%"))
            )
            .scalars()
            .all()
        )
        uk_districts = session.scalars(
            select(Idea.district_id).where(Idea.external_ref.like("uk_petitions:%"))
        ).all()
    assert len(rows) > 300
    assert 0.6 < np.mean(rows) < 0.8
    assert set(uk_districts) == {None}


def test_reseeding_is_idempotent(session_factory: Any) -> None:
    first = demo.seed_demo(session_factory, limit=LIMIT)
    before = stored(session_factory)
    again = demo.seed_demo(session_factory, limit=LIMIT)
    assert stored(session_factory) == before
    assert again.ideas == 0 and again.votes == 0 and again.voters_created == 0
    assert sum(s.skipped for s in again.sources) == first.ideas
    assert [created for _, _, created in again.accounts] == [False] * 4


def test_a_bigger_seed_after_a_smaller_one_adds_only_the_new_ideas(session_factory: Any) -> None:
    demo.seed_demo(session_factory, limit=5)
    report = demo.seed_demo(session_factory, limit=LIMIT)
    assert report.ideas == 2 * (LIMIT - 5)
    assert stored(session_factory) == {ref: (n, n) for ref, n in real_counts().items()}
    with transaction(session_factory) as session:
        early = session.scalar(
            select(func.count())
            .select_from(Vote)
            .join(User, User.id == Vote.user_id)
            .where(User.created_at >= Vote.created_at)
        )
    assert early == 0


def test_if_empty_does_nothing_on_a_database_with_ideas(session_factory: Any) -> None:
    demo.seed_demo(session_factory, limit=2)
    before = stored(session_factory)
    report = demo.seed_demo(session_factory, limit=LIMIT, if_empty=True)
    assert stored(session_factory) == before
    assert report.ideas == 0
    assert "nothing was seeded" in report.describe()


def test_if_empty_seeds_an_empty_database(session_factory: Any) -> None:
    report = demo.seed_demo(session_factory, limit=3, if_empty=True)
    assert report.ideas == 6


def test_demo_accounts_can_log_in_and_demo_voters_cannot(
    session_factory: Any, browser: Browser
) -> None:
    report = demo.seed_demo(session_factory, limit=3)
    text = report.describe()
    assert demo.DEMO_PASSWORD in text and "http://127.0.0.1:8000/login" in text
    for role, email, _name in demo.DEMO_ACCOUNTS:
        assert email in text and role in text
        browser.login(email, demo.DEMO_PASSWORD)
        browser.cookies.clear()
    for password in ("!", demo.DEMO_PASSWORD, ""):
        response = browser.submit("/login", {"email": voter_email(0), "password": password})
        assert response.status_code != 303


def test_seeded_ideas_are_found_by_search(session_factory: Any) -> None:
    demo.seed_demo(session_factory, limit=LIMIT)
    with transaction(session_factory) as session:
        uk = session.scalar(
            select(Idea).where(Idea.external_ref.like("uk_petitions:%")).order_by(Idea.id)
        )
        es = session.scalar(
            select(Idea).where(Idea.external_ref.like("decide_madrid:%")).order_by(Idea.id)
        )
        assert uk is not None and es is not None and uk.search_doc and es.search_doc
        assert (uk.language, es.language) == ("en", "es")
        # The title as the query: a lone Spanish word may be taken for English and stemmed so.
        for idea, query in (
            (uk, max(uk.title.split(), key=len).strip(".,:;!?()\"'")),
            (es, es.title),
        ):
            found = list_ideas(session, IdeaFilter(q=query), page_size=50)
            assert idea.id in [i.id for i in found.items], query


def test_madrid_bodies_are_plain_text(session_factory: Any) -> None:
    demo.seed_demo(session_factory, limit=LIMIT)
    with transaction(session_factory) as session:
        bodies = session.scalars(
            select(Idea.body).where(Idea.external_ref.like("decide_madrid:%"))
        ).all()
    assert bodies and not any("<p>" in b or "</" in b for b in bodies)


def test_missing_data_files_are_named(tmp_path: Path, session_factory: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        demo.seed_demo(session_factory, data_dir=tmp_path)
    ((message, params),) = caught.value.errors.values()
    assert str(tmp_path / "uk_petitions" / "petitions.jsonl") in message % params


def test_full_sets_seed_with_a_limit(session_factory: Any, shared_data_dir: Path | None) -> None:
    if shared_data_dir is None:
        pytest.skip("the full data sets (../shared/data) are not here")
    demo.seed_demo(session_factory, data_dir=shared_data_dir, limit=4)
    expected = real_counts(shared_data_dir, limit=4)
    assert stored(session_factory) == {ref: (n, n) for ref, n in expected.items()}


def test_extract_holds_only_eligible_rows_and_is_small() -> None:
    uk = EXTRACT_DIR / "uk_petitions.jsonl"
    madrid = EXTRACT_DIR / "decide_madrid.csv"
    assert uk.stat().st_size + madrid.stat().st_size < 3_000_000
    with uk.open(encoding="utf-8") as fh:
        assert {json.loads(line)["state"] for line in fh} <= {"open", "closed"}
    with madrid.open(encoding="utf-8", newline="") as fh:
        assert not any(r["retired_at"] for r in csv.DictReader(fh, delimiter=";"))


# --- pure parts ----------------------------------------------------------------------------------


def test_html_to_text_keeps_paragraphs_and_list_items() -> None:
    html = "<p>Uno &amp; dos</p><p>tres <strong>cuatro</strong><br>cinco</p><ul><li>a</li><li>b</li></ul>"
    assert html_to_text(html) == "Uno & dos\n\ntres cuatro\ncinco\n\n- a\n- b"


def test_categories_map_from_departments_and_spanish_keywords() -> None:
    assert uk_category(["Department for Transport"]) == "transport"
    assert uk_category(["Cabinet Office", "Department for Education"]) == "education"
    assert uk_category([]) == "other"
    assert madrid_category("Metro accesible Campamento", "") == "transport"
    assert madrid_category("Más árboles en la plaza", "") == "parks"
    assert madrid_category("Arreglar la acera", "el asfalto está roto") == "roads"
    assert madrid_category("Propuesta", "sin palabras clave") == "other"


def test_format_timestamps_matches_numpy() -> None:
    us = np.random.default_rng(0).integers(0, 4_000_000_000 * dv.US_PER_S, 10_000)
    expected = np.char.replace(np.datetime_as_string(us.astype("datetime64[us]")), "T", " ")
    assert (dv.format_timestamps(us) == expected).all()
    assert dv.format_timestamps(np.array([0]), "+00")[0] == "1970-01-01 00:00:00.000000+00"


def test_voter_pool_picks_distinct_voters_mostly_from_the_okrug() -> None:
    okrug = np.repeat(np.arange(10), 1000)
    pool = dv.VoterPool.build(np.random.default_rng(1).permutation(okrug))
    rng = np.random.default_rng(2)
    picked = pool.pick(rng, 2000, okrug=3)
    assert len(np.unique(picked)) == 2000
    assert picked.min() >= 0 and picked.max() < 10_000
    local = np.isin(picked, pool.order[pool.start[3] : pool.stop[3]]).mean()
    assert local == pytest.approx(0.5, abs=0.01)  # the okrug has only 1000 voters: all of them
    small = pool.pick(rng, 500, okrug=3)
    assert np.isin(small, pool.order[pool.start[3] : pool.stop[3]]).mean() == pytest.approx(
        dv.LOCAL_SHARE
    )
    assert len(np.unique(pool.pick(rng, 10_000, okrug=3))) == 10_000


def test_vote_times_stay_in_the_span_and_come_early() -> None:
    times = dv.vote_times(np.random.default_rng(0), 10_000, 1_000, 1_000_000)
    assert times.min() >= 1_000 and times.max() <= 1_000_000
    assert np.median(times) < 300_000
