"""Merging while votes and comments arrive, with concurrent writers (SQLite and PostgreSQL).

Voter threads (each with its own users and sessions) support and withdraw on the members and on
the canonical idea while another thread merges and unmerges them, again and again. Each call's
outcome and the user's rows as its own transaction left them are recorded. At the end: every
successful support has its row, every refused call changed nothing, the rows in the database
are exactly what each user's last call left, the counters equal a recomputation from the raw
rows (nobody counted twice), and no comment was stranded on a merged idea.

On PostgreSQL the row locks (``SELECT … FOR UPDATE``) serialise a vote and a merge; on SQLite,
where that clause locks nothing, every write transaction begins with BEGIN IMMEDIATE
(``webapp.kernel.storage.db.WRITE``), so it holds the database's write lock before it reads.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from tests.merge_helpers import NAMES, add_idea, expected_counts, quick_user, stored_counts
from webapp.dedup import merges
from webapp.ideas import comments as comments_service
from webapp.ideas import votes as votes_service
from webapp.kernel.errors import Conflict
from webapp.kernel.storage import faults
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Comment, Idea, Vote

VOTER_THREADS = 6
USERS_PER_THREAD = 5
CYCLES = 6  # merge + unmerge rounds; the last round leaves the merge in place


@dataclass(frozen=True)
class Outcome:
    user_id: int
    op: str  # "support" | "withdraw"
    idea_id: int
    ok: bool  # False: refused with Conflict (a merged idea)
    changed: bool
    rows_before: frozenset[tuple[int, int]]  # (idea_id, value) of this user, in its transaction
    rows_after: frozenset[tuple[int, int]]
    cluster: frozenset[int]  # the idea's cluster as the call's transaction saw it


def _rows(session: Any, user_id: int) -> frozenset[tuple[int, int]]:
    found = session.execute(select(Vote.idea_id, Vote.value).where(Vote.user_id == user_id))
    return frozenset((r[0], r[1]) for r in found)


def _cluster(session: Any, idea_id: int) -> frozenset[int]:
    ids = session.scalars(
        select(Idea.id).where((Idea.id == idea_id) | (Idea.merged_into_id == idea_id))
    )
    return frozenset(ids)


def test_merging_while_votes_arrive_loses_no_vote_and_counts_nobody_twice(
    session_factory: Any,
) -> None:
    authors = [quick_user(session_factory, n) for n in ("Anna", "Boris", "Vera")]
    a = add_idea(session_factory, "Освещение в парке у пруда", authors[0])
    b = add_idea(session_factory, "Фонари вокруг пруда в парке", authors[1])
    c = add_idea(session_factory, "Поставить фонари у пруда", authors[2])
    ideas = [a, b, c]
    moderator = quick_user(session_factory, "Marina", role="moderator")
    users = [
        quick_user(session_factory, NAMES[n % len(NAMES)])
        for n in range(VOTER_THREADS * USERS_PER_THREAD)
    ]
    # Before anything runs: some citizens supported two members, some a member and A.
    with transaction(session_factory) as s:
        for n, user in enumerate(users):
            targets = [(b, c), (a, b), (c,), ()][n % 4]
            for idea in targets:
                votes_service.cast_vote(s, user, idea)

    outcomes: list[Outcome] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(VOTER_THREADS + 2)
    stop = threading.Event()

    def voter(seed: int, mine: list[Any]) -> None:
        rng = random.Random(seed)
        start.wait()
        try:
            while not stop.is_set():
                user = rng.choice(mine)
                op = rng.choice(["support", "support", "withdraw"])
                idea = rng.choice(ideas)
                try:
                    with transaction(session_factory) as s:
                        rows_before = _rows(s, user.id)
                        if op == "support":
                            state = votes_service.cast_vote(s, user, idea)
                        else:
                            state = votes_service.withdraw_vote(s, user, idea)
                        # After the call the idea row is locked: this is the cluster it used.
                        cluster = _cluster(s, idea)
                        rows_after = _rows(s, user.id)
                except Conflict:
                    with transaction(session_factory) as s:
                        rows = _rows(s, user.id)
                    result = Outcome(user.id, op, idea, False, False, rows, rows, frozenset())
                else:
                    result = Outcome(
                        user.id, op, idea, True, state.changed, rows_before, rows_after, cluster
                    )
                with lock:
                    outcomes.append(result)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def commenter() -> None:
        rng = random.Random(99)
        writer = users[0]
        start.wait()
        try:
            while not stop.is_set():
                try:
                    with transaction(session_factory) as s:
                        comments_service.add_comment(
                            s, writer, rng.choice(ideas), f"Комментарий {rng.random():.6f}"
                        )
                except Conflict:
                    pass  # a merged idea is closed for comments
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    merges_done: list[int] = []

    def merger() -> None:
        start.wait()
        try:
            for cycle in range(CYCLES):
                time.sleep(0.05)
                with transaction(session_factory) as s:
                    view = merges.merge(s, moderator, a, [b, c], reason="Одно и то же освещение")
                merges_done.append(view.id)
                if cycle == CYCLES - 1:
                    break
                time.sleep(0.05)
                with transaction(session_factory) as s:
                    merges.unmerge(s, moderator, view.id, reason="Проверка отмены")
            time.sleep(0.1)  # votes keep arriving on the merged cluster
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            stop.set()

    threads = [
        threading.Thread(
            target=voter,
            args=(n, users[n * USERS_PER_THREAD : (n + 1) * USERS_PER_THREAD]),
        )
        for n in range(VOTER_THREADS)
    ]
    threads += [threading.Thread(target=commenter), threading.Thread(target=merger)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung (a deadlock?)"
    assert not errors, errors
    assert len(merges_done) == CYCLES

    refused = [o for o in outcomes if not o.ok]
    assert refused, "no call ran into a merge: the test did not race anything"
    assert any(o.ok and len(o.cluster) > 1 for o in outcomes), "no call saw a merged cluster"
    for o in outcomes:
        if not o.ok:
            assert o.idea_id in (b, c)  # only the merged members refuse
            continue
        if o.op == "support":
            assert (o.idea_id, 1) in o.rows_after, o
            assert o.changed == ((o.idea_id, 1) not in o.rows_before), o
        else:
            assert not {r for r in o.rows_after if r[0] in o.cluster}, o
            assert o.rows_after == frozenset(r for r in o.rows_before if r[0] not in o.cluster)

    # The rows in the database are exactly what each user's last call left.
    last: dict[int, frozenset[tuple[int, int]]] = {}
    for o in outcomes:
        if o.ok:
            last[o.user_id] = o.rows_after
    with transaction(session_factory) as s:
        for user_id, rows in last.items():
            assert _rows(s, user_id) == rows, user_id
        assert stored_counts(s, ideas) == expected_counts(s, ideas)
        status = dict(s.execute(select(Idea.id, Idea.status).where(Idea.id.in_(ideas))).all())
        stranded = s.scalars(select(Comment.id).where(Comment.idea_id.in_([b, c]))).all()
        all_votes = s.execute(select(Vote.user_id, Vote.idea_id, Vote.value)).all()
    assert status == {a: "published", b: "merged", c: "merged"}
    assert stranded == []
    supporters = {u for u, i, v in all_votes if i in ideas and v == 1}
    assert stored_counts_of(session_factory, a)[0] == len(supporters)  # each one once


def stored_counts_of(session_factory: Any, idea_id: int) -> tuple[int, int, int]:
    with transaction(session_factory) as s:
        return stored_counts(s, [idea_id])[idea_id]


# --- A merge racing with votes, on SQLite and PostgreSQL alike (security issue #12, finding 6) -

RACE_ROUNDS = 20
RACE_VOTERS = 5


def test_merge_racing_with_votes_keeps_the_canonical_counters_exact(
    session_factory: Any,
) -> None:
    """Five distinct citizens support a member or the canonical idea while a moderator merges
    the member into it, round after round, each call in its own transaction as the site runs
    it (``faults.run_transaction``, a write). Every round the canonical idea's counter must
    equal the distinct supporters its cluster holds, and every acknowledged support its row.

    On SQLite this failed in a third to a half of the rounds before write transactions began with BEGIN IMMEDIATE:
    ``SELECT … FOR UPDATE`` locks nothing there, so a vote read the member as published, the
    merge committed its recount, and the vote then added its row and moved only the member's
    counter — the canonical idea showed 4 supporters for 5.
    """
    moderator = quick_user(session_factory, "Marina", role="moderator")
    broken: list[str] = []
    for round_no in range(RACE_ROUNDS):
        a = add_idea(session_factory, f"Скамейки у пруда, раунд {round_no}")
        b = add_idea(session_factory, f"Лавочки возле пруда, раунд {round_no}")
        voters = [quick_user(session_factory, NAMES[n]) for n in range(RACE_VOTERS)]
        rng = random.Random(round_no)
        targets = [rng.choice((a, b, b)) for _ in voters]
        delay = rng.uniform(0.0, 0.004)
        start = threading.Barrier(RACE_VOTERS + 1)
        acknowledged: dict[int, int] = {}
        errors: list[BaseException] = []

        def vote(
            user: Any,
            idea: int,
            acknowledged: dict[int, int] = acknowledged,
            start: threading.Barrier = start,
            errors: list[BaseException] = errors,
        ) -> None:
            start.wait()
            try:
                faults.run_transaction(session_factory, votes_service.cast_vote, user, idea)
                acknowledged[user.id] = idea
            except Conflict:
                pass  # the member was merged first: refused, nothing written
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                errors.append(exc)

        def merge(
            a: int = a,
            b: int = b,
            start: threading.Barrier = start,
            delay: float = delay,
            errors: list[BaseException] = errors,
        ) -> None:
            start.wait()
            time.sleep(delay)
            try:
                faults.run_transaction(
                    session_factory, merges.merge, moderator, a, [b], reason="Одно и то же"
                )
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [
            threading.Thread(target=vote, args=(u, t)) for u, t in zip(voters, targets, strict=True)
        ]
        threads.append(threading.Thread(target=merge))
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "a thread hung (a deadlock?)"
        assert not errors, errors
        with transaction(session_factory) as s:
            rows = s.execute(
                select(Vote.user_id, Vote.idea_id).where(Vote.idea_id.in_([a, b]), Vote.value == 1)
            ).all()
            stored = stored_counts(s, [a, b])
            expected = expected_counts(s, [a, b])
            status = s.scalar(select(Idea.status).where(Idea.id == b))
        assert status == "merged"
        assert {(u, i) for u, i in rows} == set(acknowledged.items()), round_no
        supporters = {u for u, _ in rows}
        if stored != expected or stored[a][0] != len(supporters):
            broken.append(
                f"round {round_no}: canonical shows {stored[a][0]} supporters for "
                f"{len(supporters)} distinct ones (stored {stored}, recount {expected})"
            )
    assert not broken, f"{len(broken)} of {RACE_ROUNDS} rounds broke:\n" + "\n".join(broken)
