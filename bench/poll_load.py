"""The big closed poll that `make load` serves, and its baseline: the same tallies by SQL GROUP BY.

:func:`plant_poll` puts one closed, published, simulated poll into a prepared database, once
(by ``external_ref``): ``respondents`` residents (200,000 by default) x the ten questions of
``bench/polls_bench.py`` (four single choice, two multiple choice, two rating scales, two
rankings), drawn by its :func:`~bench.polls_bench.synthetic` generator — unequal response rates
by district, opinions that differ by okrug, 95 % of respondents answering each question — and
stored as the site stores answers (``webapp/polls/answering.py``): one row per chosen option,
the scale point in ``value`` (``option_id`` NULL), a ranking as one row per option with its
place in ``value``. The site only takes complete rankings, so the generator's top-3-of-5
ranking is completed with the options left, in their order. The synthetic districts map onto
the city's districts (in slug order; a few respondents have none). Respondents are the demo
voters, then bench accounts that cannot sign in where those run out. Bulk inserts: COPY on
PostgreSQL, ``executemany`` on SQLite; one transaction, so a poll is there whole or not at all.

The baseline (:data:`SQL_CELLS`, :data:`SQL_RESPONDENTS`): what the results page needs before
any arithmetic — answers per question, option, value (rank or scale point) and district, and
distinct respondents per question and district — read from the answers table by ``GROUP BY``.
:func:`compare_with_export` checks those counts against the page's JSON export.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from bench.load_client import Stats
from bench.polls_bench import QUESTIONS, synthetic

RESPONDENTS = 200_000
BENCH_DOMAIN = "poll.bench.veche.test"
USER_CHUNK = 50_000
ANSWER_CHUNK = 250_000
SQL_LABEL = "SQL GROUP BY tallies"
TITLE_RU = "Нагрузочный опрос (ответы смоделированы)"
TITLE_EN = "Load-test poll (simulated answers)"
KIND_RU = {
    "single": "один ответ",
    "multiple": "несколько ответов",
    "scale": "шкала",
    "ranking": "расставить по порядку",
}
IntArray = npt.NDArray[np.int64]

SQL_CELLS = (
    "SELECT a.question_id, a.option_id, a.value, r.district_id, count(*) "
    "FROM poll_answers a JOIN poll_responses r ON r.id = a.response_id "
    "WHERE r.poll_id = :poll GROUP BY a.question_id, a.option_id, a.value, r.district_id"
)
SQL_RESPONDENTS = (
    "SELECT a.question_id, r.district_id, count(DISTINCT a.response_id) "
    "FROM poll_answers a JOIN poll_responses r ON r.id = a.response_id "
    "WHERE r.poll_id = :poll GROUP BY a.question_id, r.district_id"
)


def poll_ref(respondents: int) -> str:
    """The planted poll's ``external_ref`` (its size in it: another size is another poll)."""
    return f"bench-load:poll-results:{respondents}"


def engine_for(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` (``postgresql://`` through psycopg 3, as the site connects)."""
    from webapp.kernel.settings import normalise_database_url

    return create_engine(normalise_database_url(url), **kwargs)


# --- the answers, as the site stores them (pure) -------------------------------------------------


@dataclass(frozen=True)
class Answers:
    """Answer rows by respondent (arrival order): question index, option index (-1: a scale
    point, stored with ``option_id`` NULL), ``value`` (-1: NULL; ranking: place from 1; scale:
    the point from 1); and each respondent's synthetic district (-1: none)."""

    respondent: IntArray
    question: IntArray
    option: IntArray
    value: IntArray
    district: IntArray

    @property
    def rows(self) -> int:
        return int(self.respondent.shape[0])


def site_answers(respondents: int, seed: int = 0) -> Answers:
    """The synthetic poll of ``bench/polls_bench.py`` as the site would store its answers."""
    poll = synthetic(respondents, seed)
    resp = poll.respondent.astype(np.int64)
    ques = poll.question.astype(np.int64)
    opt = poll.option.astype(np.int64)
    pos = poll.position.astype(np.int64)
    extra: list[tuple[IntArray, IntArray, IntArray, IntArray]] = []
    for qi, q in enumerate(QUESTIONS):
        if q.kind != "ranking" or q.limit == q.n_options:
            continue
        sel = ques == qi
        who, row_of = np.unique(resp[sel], return_inverse=True)
        chosen = np.zeros((who.size, q.n_options), dtype=np.bool_)
        chosen[row_of, opt[sel]] = True
        rows, cols = np.nonzero(~chosen)  # row-major: each respondent's missing options in order
        left = q.n_options - q.limit
        extra.append(
            (
                who[rows],
                np.full(rows.size, qi, dtype=np.int64),
                cols.astype(np.int64),
                q.limit + np.tile(np.arange(left, dtype=np.int64), who.size),
            )
        )
    if extra:
        resp = np.concatenate([resp, *(e[0] for e in extra)])
        ques = np.concatenate([ques, *(e[1] for e in extra)])
        opt = np.concatenate([opt, *(e[2] for e in extra)])
        pos = np.concatenate([pos, *(e[3] for e in extra)])
        order = np.argsort(resp, kind="stable")
        resp, ques, opt, pos = resp[order], ques[order], opt[order], pos[order]
    kinds = np.array([q.kind for q in QUESTIONS])[ques]
    scale = kinds == "scale"
    value = np.where(kinds == "ranking", pos + 1, np.where(scale, opt + 1, -1))
    option = np.where(scale, -1, opt)
    return Answers(resp, ques, option, value, poll.district.astype(np.int64))


# --- planting it -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planted:
    poll_id: int
    respondents: int
    answers: int
    created: bool
    seconds: float


def _timestamps(us: IntArray, suffix: str) -> list[str]:
    stamps = np.datetime_as_string(us.astype("datetime64[us]"), unit="us")
    return [s.replace("T", " ") + suffix for s in stamps.tolist()]


def _respondent_users(session: Session, n: int, district: list[int | None], now: datetime) -> list[int]:  # fmt: skip
    """``n`` user ids: demo voters first, then bench accounts (no usable password) made here."""
    from webapp.kernel.security import UNUSABLE_PASSWORD
    from webapp.kernel.storage.bulk import insert_rows, timestamp_suffix

    ids = [
        int(r[0])
        for r in session.execute(
            text("SELECT id FROM users WHERE email LIKE :p ORDER BY id LIMIT :n"),
            {"p": "voter-%@demo.veche.local", "n": n},
        )
    ]
    missing = n - len(ids)
    if missing <= 0:
        return ids
    stamp = _timestamps(np.array([int(now.timestamp() * 1e6)]), timestamp_suffix(session))[0]
    emails = [f"poll-respondent-{i:07d}@{BENCH_DOMAIN}" for i in range(missing)]
    for start in range(0, missing, USER_CHUNK):
        rows = [
            (emails[i], f"Bench respondent {i + 1}", UNUSABLE_PASSWORD, "citizen",
             district[len(ids) + i], False, False, stamp)
            for i in range(start, min(missing, start + USER_CHUNK))
        ]  # fmt: skip
        insert_rows(
            session,
            "users",
            ("email", "display_name", "password_hash", "role", "district_id",
             "verified_resident", "blocked", "created_at"),
            rows,
        )  # fmt: skip
    made = {
        str(r[0]): int(r[1])
        for r in session.execute(
            text("SELECT email, id FROM users WHERE email LIKE :p"), {"p": f"%@{BENCH_DOMAIN}"}
        )
    }
    return ids + [made[e] for e in emails]


def plant_poll(
    url: str,
    respondents: int = RESPONDENTS,
    log: Callable[[str], None] = print,
    now: datetime | None = None,
) -> Planted:
    """The big closed poll in the database at ``url``, once; returns its id and size."""
    from webapp.kernel.storage.bulk import insert_rows, timestamp_suffix
    from webapp.kernel.storage.models import Poll, PollOption, PollQuestion

    began = time.perf_counter()
    ref = poll_ref(respondents)
    engine = engine_for(url)
    try:
        with Session(engine) as session, session.begin():
            found = session.execute(
                text(
                    "SELECT p.id, (SELECT count(*) FROM poll_responses r WHERE r.poll_id = p.id) "
                    "FROM polls p WHERE p.external_ref = :ref"
                ),
                {"ref": ref},
            ).first()
            if found is not None:
                return Planted(int(found[0]), int(found[1]), -1, False, 0.0)
            log(
                f"planting a closed poll of {respondents:,} respondents x {len(QUESTIONS)} questions"
            )
            now = now or datetime.now(UTC)
            answers = site_answers(respondents)
            leaves = [
                int(r[0])
                for r in session.execute(
                    text("SELECT id FROM districts WHERE parent_id IS NOT NULL ORDER BY slug")
                )
            ]
            district: list[int | None] = [
                None if d < 0 or not leaves else leaves[d % len(leaves)]
                for d in answers.district.tolist()
            ]
            users = _respondent_users(session, respondents, district, now)
            opens, closes = now - timedelta(days=40), now - timedelta(days=10)
            poll = Poll(
                slug=f"bench-load-poll-{respondents}",
                # no respondent count in the title: the load test looks for it in the page text
                title_ru=TITLE_RU,
                title_en=TITLE_EN,
                description_ru="Опрос для нагрузочного теста (bench/load.py). Ответы смоделированы.",
                description_en="A poll for the load test (bench/load.py). The answers are simulated.",
                opens_at=opens,
                closes_at=closes,
                results_live=False,
                allow_change=True,
                published=True,
                simulated=True,
                frozen_at=opens,
                notified_at=opens,
                external_ref=ref,
                created_at=opens - timedelta(days=2),
                updated_at=opens - timedelta(days=2),
            )
            session.add(poll)
            session.flush()
            poll_id = poll.id
            question_ids: list[int] = []
            option_ids: list[list[int]] = []
            for qi, q in enumerate(QUESTIONS):
                scale = q.kind == "scale"
                question = PollQuestion(
                    poll_id=poll_id,
                    position=qi + 1,
                    kind=q.kind,
                    text_ru=f"Вопрос {qi + 1} ({KIND_RU[q.kind]})",
                    text_en=f"Question {qi + 1} ({q.kind})",
                    max_choices=q.max_choices if q.kind == "multiple" else None,
                    scale_min=1 if scale else None,
                    scale_max=q.n_options if scale else None,
                    required=False,
                )
                session.add(question)
                session.flush()
                options = [
                    PollOption(
                        question_id=question.id,
                        position=j,
                        text_ru=f"Вариант {j + 1}",
                        text_en=f"Option {j + 1}",
                    )
                    for j in range(0 if scale else q.n_options)
                ]
                session.add_all(options)
                session.flush()
                question_ids.append(question.id)
                option_ids.append([o.id for o in options])
            suffix = timestamp_suffix(session)
            rng = np.random.default_rng(16)
            start_us = int(opens.timestamp() * 1e6)
            span_us = int((closes - opens).total_seconds() * 1e6)
            moments = np.sort(start_us + rng.integers(0, span_us, respondents))
            stamps = _timestamps(moments, suffix)
            insert_rows(
                session,
                "poll_responses",
                ("poll_id", "user_id", "district_id", "created_at", "updated_at"),
                [(poll_id, u, d, s, s) for u, d, s in zip(users, district, stamps, strict=True)],
            )
            by_user = {
                int(r[0]): int(r[1])
                for r in session.execute(
                    text("SELECT user_id, id FROM poll_responses WHERE poll_id = :p"),
                    {"p": poll_id},
                )
            }
            response_of = np.array([by_user[u] for u in users], dtype=np.int64)
            q_ids = np.array(question_ids, dtype=np.int64)
            offsets = np.cumsum([0] + [len(o) for o in option_ids])
            flat = np.array([o for opts in option_ids for o in opts] or [0], dtype=np.int64)
            for start in range(0, answers.rows, ANSWER_CHUNK):
                part = slice(start, start + ANSWER_CHUNK)
                opt = answers.option[part]
                oid = np.where(
                    opt >= 0, flat[offsets[answers.question[part]] + np.maximum(opt, 0)], -1
                )
                val = answers.value[part]
                insert_rows(
                    session,
                    "poll_answers",
                    ("response_id", "question_id", "option_id", "value"),
                    [
                        (r, q, None if o < 0 else o, None if v < 0 else v)
                        for r, q, o, v in zip(
                            response_of[answers.respondent[part]].tolist(),
                            q_ids[answers.question[part]].tolist(),
                            oid.tolist(),
                            val.tolist(),
                            strict=True,
                        )
                    ],
                )
        planted = Planted(poll_id, respondents, answers.rows, True, time.perf_counter() - began)
        log(
            f"planted poll {poll_id}: {respondents:,} responses, {answers.rows:,} answers "
            f"in {planted.seconds:.0f} s"
        )
        return planted
    finally:
        engine.dispose()


def find_poll(url: str, respondents: int) -> int | None:
    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            found = conn.scalar(
                text("SELECT id FROM polls WHERE external_ref = :ref"),
                {"ref": poll_ref(respondents)},
            )
    finally:
        engine.dispose()
    return None if found is None else int(found)


# --- the baseline -------------------------------------------------------------------------------

Rows = list[tuple[Any, ...]]


def sql_tallies(conn: Any, poll_id: int) -> tuple[Rows, Rows]:
    """The two GROUP BY queries on an open SQLAlchemy connection: (cells, respondents)."""
    cells = [tuple(r) for r in conn.execute(text(SQL_CELLS), {"poll": poll_id})]
    resp = [tuple(r) for r in conn.execute(text(SQL_RESPONDENTS), {"poll": poll_id})]
    return cells, resp


@dataclass(frozen=True)
class SqlRun:
    stats: Stats
    seconds: float
    tallies: int
    cells: Rows
    respondents: Rows


def hammer_sql(url: str, poll_id: int, clients: int, seconds: float) -> SqlRun:
    """``clients`` threads, each with its own connection, computing the tallies until the
    deadline (a tally under way then finishes and counts; the time counts up to the last)."""
    engine = engine_for(url, poolclass=NullPool)
    stats = Stats()
    lock = threading.Lock()
    last: list[tuple[Rows, Rows]] = []
    failures: list[BaseException] = []
    clock = [0.0, 0.0]  # start, deadline: set when every client has its connection

    def go() -> None:
        clock[0] = time.monotonic()
        clock[1] = clock[0] + seconds

    ready = threading.Barrier(clients, action=go)

    def worker() -> None:
        try:
            conn = engine.connect()
        except Exception as exc:  # noqa: BLE001 - reported after the phase
            failures.append(exc)
            ready.abort()
            return
        try:
            ready.wait()
            while time.monotonic() < clock[1]:
                t = time.perf_counter()
                status: int | None = 200
                try:
                    out = sql_tallies(conn, poll_id)
                except Exception as exc:  # noqa: BLE001 - counted as an error
                    failures.append(exc)
                    status = None
                conn.rollback()  # the next tally reads a fresh snapshot
                with lock:
                    stats.record(SQL_LABEL, time.perf_counter() - t, status)
                    if status == 200 and not last:
                        last.append(out)
        except threading.BrokenBarrierError:
            pass
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.monotonic() - clock[0]
    engine.dispose()
    if failures:
        raise SystemExit(f"the SQL baseline failed ({len(failures)} times): {failures[0]!r}")
    cells, resp = last[0] if last else ([], [])
    return SqlRun(stats, elapsed, len(stats.latencies.get(SQL_LABEL, [])), cells, resp)


# --- checks (pure) --------------------------------------------------------------------------------


def count_forms(n: int) -> tuple[bytes, ...]:
    """How a page may write the count ``n``: grouped by a (no-break, narrow) space, a comma, an
    HTML entity, or not grouped (Babel's Russian and English formats among them)."""
    digits = str(n)
    groups: list[str] = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    seps = (" ", "\u00a0", "\u202f", ",", "&nbsp;", "&#160;", "")
    return tuple(dict.fromkeys(sep.join(groups).encode() for sep in seps))


def compare_with_export(cells: Sequence[Sequence[Any]], resp: Sequence[Sequence[Any]], doc: dict[str, Any]) -> list[str]:  # fmt: skip
    """Where the SQL tallies disagree with the JSON export (``/polls/{id}/results.json``): each
    question's respondents, each option's count, each scale's mean, and each district's
    respondents; empty when they agree."""
    wrong: list[str] = []
    by_q: dict[int, int] = {}
    by_qd: dict[tuple[int, int | None], int] = {}
    for q, d, n in resp:
        by_q[int(q)] = by_q.get(int(q), 0) + int(n)
        by_qd[int(q), None if d is None else int(d)] = int(n)
    by_opt: dict[tuple[int, int], int] = {}
    scale: dict[int, list[float]] = {}
    for q, o, v, _d, n in cells:
        if o is not None:
            by_opt[int(q), int(o)] = by_opt.get((int(q), int(o)), 0) + int(n)
        elif v is not None:
            acc = scale.setdefault(int(q), [0.0, 0.0])
            acc[0] += float(v) * int(n)
            acc[1] += int(n)
    questions = doc.get("questions") or []
    if not questions:
        wrong.append("the export has no questions")
    for q in questions:
        qid = int(q["question_id"])
        if q["respondents"] != by_q.get(qid, 0):
            wrong.append(f"question {qid}: {q['respondents']} respondents, SQL {by_q.get(qid, 0)}")
        for o in q.get("options") or []:
            got = by_opt.get((qid, int(o["option_id"])), 0)
            if o["count"] != got:
                wrong.append(f"question {qid} option {o['option_id']}: {o['count']}, SQL {got}")
        if q.get("kind") == "scale":
            total, n = scale.get(qid, [0.0, 0.0])
            mean = (q.get("mean") or {}).get("value")
            if n and (mean is None or abs(mean - total / n) > 1e-9 * max(1.0, abs(mean))):
                wrong.append(f"question {qid}: mean {mean}, SQL {total / n}")
        for g in q.get("districts") or []:
            d = g.get("district_id")
            if isinstance(d, int) and d >= 0 and g["respondents"] != by_qd.get((qid, d), 0):
                wrong.append(
                    f"question {qid} district {d}: {g['respondents']}, SQL {by_qd.get((qid, d), 0)}"
                )
    return wrong
