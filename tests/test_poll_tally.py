"""The live poll tally: current per answer, equal to a rebuild, caught up by other workers,
rebuilt after deletions; the integrity signals' flagged share; the census strata."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
from sqlalchemy import delete, select, update

from tests.helpers import Browser, make_user
from webapp.kernel.dto import CurrentUser
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    District,
    Poll,
    PollOption,
    PollQuestion,
    PollResponse,
    User,
)
from webapp.polls import results as results_service
from webapp.polls import tally as tally_service
from webapp.polls.answering import RawAnswer, submit
from webapp.polls.population import Population, population
from webapp.polls.views.results import document


@pytest.fixture(autouse=True)
def _fresh() -> None:
    results_service.clear_cache()


def _poll(session_factory: Any, slug: str, *, opens: datetime | None = None) -> dict[str, Any]:
    """An open poll with results live: a single choice with "other", a multiple choice (up to
    2), a 1..5 scale and a ranking of three options."""
    now = datetime.now(UTC)
    with transaction(session_factory) as s:
        poll = Poll(
            slug=slug,
            title_ru="Парк",
            title_en="Park",
            opens_at=opens or now - timedelta(days=1),
            closes_at=(opens or now) + timedelta(days=5),
            results_live=True,
            published=True,
            allow_change=True,
        )
        s.add(poll)
        s.flush()
        qs = {}
        kinds: list[tuple[str, dict[str, Any]]] = [
            ("single", {"allow_other": True}),
            ("multiple", {"max_choices": 2}),
            ("scale", {"scale_min": 1, "scale_max": 5}),
            ("ranking", {}),
        ]
        for pos, (kind, extra) in enumerate(kinds):
            q = PollQuestion(poll_id=poll.id, position=pos, kind=kind, text_ru=kind, **extra)
            s.add(q)
            s.flush()
            opts = []
            if kind != "scale":
                for i in range(3 if kind != "single" else 2):
                    o = PollOption(question_id=q.id, position=i, text_ru=f"{kind}-{i}")
                    s.add(o)
                    s.flush()
                    opts.append(o.id)
            qs[kind] = (q.id, opts)
        return {"poll": poll.id, "q": qs}


def _resident(session_factory: Any, email: str, district: str, *, aged: bool = True) -> CurrentUser:
    user = make_user(session_factory, email)
    with transaction(session_factory) as s:
        did = s.scalar(select(District.id).where(District.slug == district))
        values: dict[str, Any] = {"district_id": did}
        if aged:  # an ordinary account, not one of a wave created today
            values["created_at"] = datetime.now(UTC) - timedelta(days=200)
        s.execute(update(User).where(User.id == user.id).values(**values))
    return dataclasses.replace(user, district_id=did)


def _answer(
    session_factory: Any, user: CurrentUser, ids: dict[str, Any], pick: int, *, other: str = ""
) -> None:
    q = ids["q"]
    answers = {
        q["single"][0]: RawAnswer(
            options=() if other else (q["single"][1][pick % 2],), other=other
        ),
        q["multiple"][0]: RawAnswer(options=tuple(q["multiple"][1][: 1 + pick % 2])),
        q["scale"][0]: RawAnswer(value=1 + pick % 5),
        q["ranking"][0]: RawAnswer(order=tuple(np.roll(q["ranking"][1], pick).tolist())),
    }
    with transaction(session_factory) as s:
        submit(s, user, ids["poll"], answers)
    tally_service.note_answer(ids["poll"])


def _doc(session_factory: Any, poll_id: int) -> dict[str, Any]:
    with transaction(session_factory) as s:
        doc = document(results_service.poll_results(s, poll_id), "ru")
    doc.pop("computed_at")
    return doc


def _rebuilt(session_factory: Any, poll_id: int) -> dict[str, Any]:
    results_service.clear_cache()  # a worker that starts now builds from the database
    return _doc(session_factory, poll_id)


def test_each_answer_counts_at_once_and_equals_a_rebuild(session_factory: Any) -> None:
    ids = _poll(session_factory, "live-1")
    districts = ["arbat", "tverskoy", "presnensky", "basmanny"]
    people = [
        _resident(session_factory, f"live1-{i}@example.org", districts[i % 4]) for i in range(12)
    ]
    for i, user in enumerate(people[:8]):
        _answer(session_factory, user, ids, i)
    first = _doc(session_factory, ids["poll"])  # the tally is built here
    assert first["respondents"] == 8
    # a new answer, a changed one and a free-text one: counted on the very next read
    _answer(session_factory, people[8], ids, 1)
    _answer(session_factory, people[0], ids, 3)  # replaces its earlier answer
    _answer(session_factory, people[9], ids, 0, other="Свой вариант ответа")
    live = _doc(session_factory, ids["poll"])
    assert live["respondents"] == 10
    assert live["questions"][0]["other_count"] == 1
    assert live != first
    assert live == _rebuilt(session_factory, ids["poll"])


def test_another_worker_catches_up_late_commits_included(
    session_factory: Any, monkeypatch: Any
) -> None:
    ids = _poll(session_factory, "live-2")
    people = [_resident(session_factory, f"live2-{i}@example.org", "arbat") for i in range(6)]
    for i, user in enumerate(people[:3]):
        _answer(session_factory, user, ids, i)
    with transaction(session_factory) as s:
        poll = s.get(Poll, ids["poll"])
        assert poll is not None
        other = tally_service.LiveTally(tally_service.Layout.build(s, poll))
        other.build(s, poll)
    assert other.tally.n_respondents == 3
    _answer(session_factory, people[3], ids, 1)
    _answer(session_factory, people[1], ids, 2)  # changed
    # an answer whose transaction committed late: its timestamp is older than the watermark
    _answer(session_factory, people[4], ids, 0)
    with transaction(session_factory) as s:
        s.execute(
            update(PollResponse)
            .where(PollResponse.user_id == people[4].id)
            .values(updated_at=datetime.now(UTC) - timedelta(seconds=5))
        )
    monkeypatch.setattr(tally_service, "SYNC_INTERVAL_S", 0.0)
    with transaction(session_factory) as s:
        poll = s.get(Poll, ids["poll"])
        assert poll is not None
        other.sync(s, poll)
        fresh = tally_service.LiveTally(tally_service.Layout.build(s, poll))
        fresh.build(s, poll)
    assert other.tally.n_respondents == 5
    np.testing.assert_array_equal(other.tally.counts(), fresh.tally.counts())
    np.testing.assert_array_equal(other.tally.respondents(), fresh.tally.respondents())


def test_a_deleted_account_leaves_the_tally(session_factory: Any, monkeypatch: Any) -> None:
    ids = _poll(session_factory, "live-3")
    people = [_resident(session_factory, f"live3-{i}@example.org", "arbat") for i in range(4)]
    for i, user in enumerate(people):
        _answer(session_factory, user, ids, i)
    assert _doc(session_factory, ids["poll"])["respondents"] == 4
    with transaction(session_factory) as s:
        s.execute(delete(PollResponse).where(PollResponse.user_id == people[0].id))
    monkeypatch.setattr(tally_service, "CHECK_INTERVAL_S", 0.0)
    monkeypatch.setattr(tally_service, "SYNC_INTERVAL_S", 0.0)
    assert _doc(session_factory, ids["poll"])["respondents"] == 3


def test_lockstep_accounts_are_flagged_and_the_results_say_so(
    app: Any, session_factory: Any
) -> None:
    """Two accounts answer the same six polls a minute apart: the lockstep signal flags them;
    the results state the flagged share and the shares without them, moderators see who and
    when (never what), citizens cannot see that page."""
    start = datetime.now(UTC) - timedelta(days=3)
    polls = [_poll(session_factory, f"ring-{k}", opens=start) for k in range(6)]
    ring = [_resident(session_factory, f"ring-{i}@example.org", "arbat") for i in range(2)]
    organic = [_resident(session_factory, f"organic-{i}@example.org", "tverskoy") for i in range(8)]
    for k, ids in enumerate(polls):
        for user in ring:
            _answer(session_factory, user, ids, 1)  # both choose option 1 everywhere
        for i, user in enumerate(organic):
            if (i + k) % 3 != 0:
                _answer(session_factory, user, ids, 0)
    with transaction(session_factory) as s:
        for k, ids in enumerate(polls):
            for j, user in enumerate(ring):  # a minute apart, a day between polls
                s.execute(
                    update(PollResponse)
                    .where(PollResponse.poll_id == ids["poll"], PollResponse.user_id == user.id)
                    .values(created_at=start + timedelta(days=k % 3, hours=k, minutes=j))
                )
            for i, user in enumerate(organic):  # scattered over days and hours
                s.execute(
                    update(PollResponse)
                    .where(PollResponse.poll_id == ids["poll"], PollResponse.user_id == user.id)
                    .values(created_at=start + timedelta(hours=5 + 7 * i + 13 * k))
                )
    target = polls[0]["poll"]
    doc = _doc(session_factory, target)
    n = doc["respondents"]
    assert doc["flagged"] == 2 and doc["flagged_reasons"]["lockstep"] == 2
    assert doc["flagged_share"] == pytest.approx(2 / n)
    single = doc["questions"][0]["options"]
    # as answered: the ring's option 1 has its two votes; without them it has none
    assert single[1]["count"] == 2
    assert single[1]["without_flagged"]["value"] == pytest.approx(0.0)
    assert single[0]["without_flagged"]["value"] == pytest.approx(1.0)
    page = Browser(app).get(f"/polls/{target}/results", headers={"Accept-Language": "ru"})
    assert 'data-flagged="2"' in page.text
    assert "Без подозрительных ответов" in page.text
    make_user(session_factory, "mod-ring@example.org", role="moderator")
    mod = Browser(app)
    mod.login("mod-ring@example.org")
    flagged = mod.get(f"/moderation/polls/{target}/flagged", headers={"Accept-Language": "ru"})
    assert flagged.status_code == 200
    assert f"#{ring[0].id}" in flagged.text and f"#{ring[1].id}" in flagged.text
    assert f"#{organic[1].id}" not in flagged.text
    assert "single-1" not in flagged.text  # no answer is shown
    citizen = Browser(app)
    citizen.login("organic-1@example.org")
    assert citizen.get(f"/moderation/polls/{target}/flagged").status_code == 403


def _population(
    district: dict[int, int], okrug: dict[int, int], parent: dict[int, int]
) -> Population:
    empty: MappingProxyType[str, str] = MappingProxyType({})
    return Population(
        "s", "m", empty, empty, MappingProxyType(district), MappingProxyType(okrug),
        MappingProxyType(parent),
    )  # fmt: skip


def test_districts_without_a_figure_share_their_okrugs_rest() -> None:
    # okrug 1 (1000 people) has districts 10 (300, own figure), 11 and 12 (none);
    # okrug 2 has no figure and district 20 none
    pop = _population({10: 300}, {1: 1000}, {10: 1, 11: 1, 12: 1, 20: 2})
    cells = results_service.strata((1, 10, 11, 12, 2, 20), pop)
    s = cells.stratum_of.tolist()
    assert s[1] != s[2] and s[2] == s[3] == s[0]  # 11, 12 and the okrug itself: the rest
    assert s[4] == -1 and s[5] == -1
    assert cells.population[s[1]] == 300 and cells.population[s[2]] == 700
    assert cells.okrug_of.tolist() == [0, 0, 0, 0, 1, 1]


def test_with_the_shipped_figures_every_district_of_a_counted_okrug_is_weighted(
    session_factory: Any,
) -> None:
    """Every seeded district of an okrug the shipped file counts is weighted (by its own figure
    or its okrug's rest), and only districts of okrugs without a figure are left out."""
    with transaction(session_factory) as s:
        pop = population(s)
        rows = s.execute(select(District.id, District.parent_id).order_by(District.id)).all()
        cells = results_service.strata(tuple(r.id for r in rows), pop)
    for (did, parent), stratum in zip(rows, cells.stratum_of.tolist(), strict=True):
        if parent is not None:  # a district (okrugs themselves weigh only their uncounted rest)
            assert (stratum >= 0) == (parent in pop.okrug or did in pop.district), did
