"""`make load`: Veche under concurrent real HTTP, with a client-side ledger of every vote.

For each backend (PostgreSQL, then SQLite in WAL mode) a fresh copy of a prepared database (the
real migrations, the demo city of `veche seed-demo` with its real votes — 821 ideas and 1,041,902 votes
since issue 14, 850 ideas and 814,111 votes before — every idea embedded by the real model)
is served by ``veche serve --workers N`` (uvicorn) in production mode — shared rate limits in Redis
when it answers, the real embedding model in every worker — and these phases run:

``mixed``
    ``--clients`` (200) simulated citizens for ``--duration`` (60 s): each registers through the
    form, then browses ranked lists, searches, opens ideas, types a new idea into the form (the
    similar-ideas lookups a browser makes while typing) and supports or withdraws, with a short
    random pause between steps. Votes pick ideas with a Zipf-like skew, so popular ideas take
    concurrent votes.
``list``
    64 connections ask for the ranked list page (anonymous visitors: the micro-cache serves it),
    as fast as they can; then ``list-signed-in``, the same page for 64 signed-in citizens (always
    rendered: the baseline the cache is compared with).
``votes``
    64 signed-in citizens support and withdraw as fast as they can through the site's vote
    button (its script asks for JSON: the vote, the worker's ranking updated at once, the support
    box re-rendered); ``votes-api``: the same through the JSON API with bearer tokens, as a mobile
    app calls it (the ranking follows within a poll).
``poll-results``
    64 signed-in citizens ask for the results page of a big closed city poll (planted once in
    the template by ``bench/poll_load.py``: 200,000 simulated respondents x 10 questions over the
    demo districts) as fast as they can; each answer must be a 200 that states the respondent
    count. Before it, rounds of concurrent requests on fresh connections warm every worker (the
    first answer is timed apart: the worker reads the poll from the database).
``poll-results-sql``
    The baseline: 64 threads, each with its own database connection, compute the same tallies by
    SQL ``GROUP BY`` — answers per question, option, value and district, and distinct
    respondents per question and district: what the page needs before any arithmetic — on the
    same database, before the server starts (nothing else runs; PostgreSQL's 100 connections
    would not hold 64 more beside the server's pools). Tallies/s and latencies; once the server
    is up its JSON export (``/polls/{id}/results.json``) must report the same counts, or the
    run stops. The docs give the ratio page req/s / SQL tallies/s.

Rate limits are raised for the run (every client comes from 127.0.0.1). The ledger records what
each vote response said (``my_vote``); afterwards every citizen's votes in the database must equal
the ledger, every idea's stored count must equal its distinct supporters recomputed from the raw
rows and its count before the run plus the ledger's net change, and the API must report the same
count. Results: ``bench/results/load.json`` and the "Load" section of ``docs/benchmarks.md``.

    python -m bench.load [--backends postgres,sqlite] [--clients 200] [--duration 60]
                         [--workers 2] [--phase-seconds 20] [--model NAME]
                         [--phases mixed,...] [--poll-respondents 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tqdm import tqdm

from bench import poll_load
from bench.load_client import Client, Stats
from bench.report import replace_section
from ml import evaluate

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
CSRF_RE = re.compile(rb'name="csrf_token" value="([^"]+)"')
DOMAIN = "load.veche.test"
PHASES = (
    "mixed",
    "list",
    "list-signed-in",
    "votes",
    "votes-api",
    "poll-results",
    "poll-results-sql",
)
POLL_PHASES = ("poll-results", "poll-results-sql")
VOTE_PHASES = ("mixed", "votes", "votes-api")
POLL_PAGE = "poll results page (signed in)"
SCHEMES = ("confident", "top", "trending", "new", "broad")
SEARCH_WORDS = ("парк", "дорога", "школа", "park", "transport", "велосипед", "свет", "bus")
BEGIN = "<!-- load:begin (written by bench/load.py) -->"
END = "<!-- load:end -->"


def log(message: str) -> None:
    print(f"[load] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def veche(args: list[str], env: dict[str, str]) -> None:
    """Run a ``veche`` command; a failure stops the benchmark with its output."""
    done = subprocess.run(
        [sys.executable, "-m", "webapp", *args],
        env=env,
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    if done.returncode != 0:
        raise SystemExit(f"veche {' '.join(args)} failed:\n{done.stdout[-3000:]}")


# --- databases ----------------------------------------------------------------------------------


def _template_ready(url: str) -> bool:
    from alembic.script import ScriptDirectory

    from webapp.kernel.storage.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.scalar(text("SELECT version_num FROM alembic_version")) != head:
                return False  # built by an older checkout: rebuild with today's schema
            ideas = conn.scalar(text("SELECT count(*) FROM ideas"))
            vectors = conn.scalar(text("SELECT count(*) FROM idea_embeddings"))
            return bool(ideas) and vectors == ideas
    except Exception:  # noqa: BLE001 - absent or half-built: rebuild it
        return False
    finally:
        engine.dispose()


def _build(url: str, env: dict[str, str], poll_respondents: int) -> None:
    env = {**env, "DATABASE_URL": url}
    log("preparing the template database: migrate, seed the demo city, embed every idea")
    veche(["migrate"], env)
    veche(["seed-demo"], env)
    veche(["reindex", "--quiet"], env)
    poll_load.plant_poll(url, poll_respondents, log)
    _settle(url)


def _settle(url: str) -> None:
    """PostgreSQL: settle it now — otherwise autovacuum works through the 800,000 fresh vote rows
    (and the poll's 4 million answers) of the template during the first run (a third fewer
    votes per second was measured so). SQLite: fresh statistics for the planner."""
    if url.startswith("postgresql"):
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("VACUUM ANALYZE"))
        admin.dispose()
    else:
        with sqlite3.connect(make_url(url).database or "") as conn:
            conn.execute("ANALYZE")


def _with_poll(url: str, poll_respondents: int) -> None:
    """A template built before the big poll existed gets it now (once)."""
    if poll_load.plant_poll(url, poll_respondents, log).created:
        _settle(url)


def _slug(model: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")[:40]


def postgres_database(
    server: str, env: dict[str, str], fresh: bool, poll_respondents: int = poll_load.RESPONDENTS
) -> tuple[str, Any]:
    """A new database copied from a prepared template; returns its URL and a drop function."""
    base = make_url(server.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    template = f"veche_load_template_{_slug(env['VECHE_EMBEDDING_MODEL'])}"
    template_url = base.set(database=template).render_as_string(hide_password=False)
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": template})
    if fresh or not exists or not _template_ready(template_url):
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{template}"'))
        _build(template_url, env, poll_respondents)
    else:
        _with_poll(template_url, poll_respondents)
    name = f"veche_load_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def sqlite_database(
    env: dict[str, str], fresh: bool, poll_respondents: int = poll_load.RESPONDENTS
) -> tuple[str, Any]:
    """A copy of a prepared SQLite template, switched to WAL; returns its URL and a cleanup."""
    CACHE.mkdir(parents=True, exist_ok=True)
    template = CACHE / f"load-template-{_slug(env['VECHE_EMBEDDING_MODEL'])}.db"
    if fresh or not template.exists() or not _template_ready(f"sqlite:///{template}"):
        template.unlink(missing_ok=True)
        _build(f"sqlite:///{template}", env, poll_respondents)
    else:
        _with_poll(f"sqlite:///{template}", poll_respondents)
    with sqlite3.connect(template) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    folder = Path(tempfile.mkdtemp(prefix="veche-load-"))
    path = folder / "veche.db"
    shutil.copyfile(template, path)
    with sqlite3.connect(path) as conn:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    assert mode == "wal", mode
    return f"sqlite:///{path}", lambda: shutil.rmtree(folder, ignore_errors=True)


# --- the server ---------------------------------------------------------------------------------


def server_env(base: dict[str, str], url: str, index_dir: str, redis_url: str) -> dict[str, str]:
    from webapp.kernel.settings import Settings

    env = {
        **base,
        "DATABASE_URL": url,
        "VECHE_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "VECHE_INDEX_DIR": index_dir,
        # 40 transactions in flight per worker: measured best on 2 cores (docs/benchmarks.md,
        # "Load: what bounds it"); 2 workers x (40 + 5) connections fit PostgreSQL's default 100
        "VECHE_DB_POOL_SIZE": base.get("VECHE_DB_POOL_SIZE", "40"),
    }
    if redis_url and "redis_url" in Settings.ENV_NAMES:
        env[Settings.ENV_NAMES["redis_url"]] = redis_url
    # every simulated citizen comes from 127.0.0.1: raise each limit out of the way
    for name, var in Settings.ENV_NAMES.items():
        if name.endswith("rate_limit"):
            env[var] = "1000000"
    return env


def start_server(env: dict[str, str], workers: int, port: int) -> subprocess.Popen[bytes]:
    logfile = open(CACHE / f"server-{port}.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "webapp",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
        stdout=logfile,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


async def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 600) -> float:
    """Until every worker answers similar-ideas lookups (model and index loaded)."""
    start = time.monotonic()
    ok_in_a_row = 0
    while ok_in_a_row < 12:
        if proc.poll() is not None:
            raise SystemExit(
                f"the server exited ({proc.returncode}): see {CACHE}/server-{port}.log"
            )
        if time.monotonic() - start > timeout:
            raise SystemExit("the server did not become ready in time")
        client = Client("127.0.0.1", port, Stats(), timeout=10)
        status, _, _ = await client.request(
            "ready", "GET", "/api/v1/ideas/similar?text=" + quote("новый парк у дома")
        )
        await client.close()  # a new connection each time: reach every worker
        ok_in_a_row = ok_in_a_row + 1 if status == 200 else 0
        await asyncio.sleep(0.2 if status == 200 else 2)
    return time.monotonic() - start


# --- simulated citizens -------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the server told each citizen about their votes."""

    votes: dict[str, dict[int, int]] = field(default_factory=dict)  # email -> idea -> my_vote
    uncertain: set[tuple[str, int]] = field(default_factory=set)  # no definite answer
    confirmed: int = 0


@dataclass
class World:
    port: int
    ideas: list[tuple[int, str]]  # (id, title) of the public ideas
    weights: list[float]
    ledger: Ledger
    rng: random.Random
    poll_id: int = 0  # the big closed poll (poll phases)
    poll_count: tuple[bytes, ...] = ()  # how its page may write the respondent count

    def pick_idea(self) -> int:
        return self.rng.choices(self.ideas, weights=self.weights)[0][0]


class Citizen:
    def __init__(self, world: World, stats: Stats, n: int) -> None:
        self.world = world
        self.client = Client("127.0.0.1", world.port, stats)
        self.email = f"load-{n}-{secrets.token_hex(3)}@{DOMAIN}"
        self.csrf = ""
        self.password = secrets.token_urlsafe(18)
        self.token = ""
        self.rng = random.Random(n)
        world.ledger.votes[self.email] = {}

    def _token(self, body: bytes) -> None:
        match = CSRF_RE.search(body)
        if match:
            self.csrf = match.group(1).decode()

    async def page(self, label: str, path: str) -> int | None:
        status, _, body = await self.client.request(label, "GET", path)
        if status == 200:
            self._token(body)
        return status

    async def register(self) -> bool:
        await self.page("register form", "/register")
        status, _, _ = await self.client.request(
            "register",
            "POST",
            "/register",
            form={
                "csrf_token": self.csrf,
                "email": self.email,
                "display_name": f"Нагрузочный житель {self.email[5:12]}",
                "password": self.password,
            },
        )
        if status != 303:
            return False
        return await self.page("list", "/") == 200  # a fresh session: fresh token

    async def api_token(self) -> bool:
        status, _, body = await self.client.request(
            "api token",
            "POST",
            "/api/v1/tokens",
            json_body={"email": self.email, "password": self.password},
        )
        if status == 201:
            self.token = json.loads(body)["token"]
        return status == 201

    async def vote(
        self, action: str, idea_id: int, label: str | None = None, api: bool = False
    ) -> None:
        ledger = self.world.ledger
        if api:  # the JSON API with a bearer token, as a mobile app calls it
            status, _, body = await self.client.request(
                label or action,
                "POST" if action == "support" else "DELETE",
                f"/api/v1/ideas/{idea_id}/support",
                headers={"Authorization": f"Bearer {self.token}", "Content-Length": "0"},
            )
        else:  # the site's vote button (its script asks for JSON)
            status, _, body = await self.client.request(
                label or action,
                "POST",
                f"/ideas/{idea_id}/{action}",
                form={"csrf_token": self.csrf},
                headers={"Accept": "application/json"},
            )
        if status == 200:
            my_vote = json.loads(body)["my_vote"]
            mine = ledger.votes[self.email]
            if my_vote:
                mine[idea_id] = my_vote
            else:
                mine.pop(idea_id, None)
            ledger.confirmed += 1
            ledger.uncertain.discard((self.email, idea_id))
        else:
            ledger.uncertain.add((self.email, idea_id))
            if status is not None and status < 500 and status != 429:
                # a vote not confirmed is an error here too (Stats counts 5xx and 429 itself):
                # a citizen logged out, refused or redirected has not voted
                self.client.stats.errors[label or action] += 1

    async def type_idea(self) -> None:
        title = self.rng.choice(self.world.ideas)[1]
        for cut in (len(title) // 3, 2 * len(title) // 3, len(title)):
            if cut >= 3:
                await self.client.request(
                    "similar (typing)", "GET", "/ideas/similar?title=" + quote(title[:cut])
                )
                await asyncio.sleep(0.3)  # the form's debounce

    async def step(self) -> None:
        r = self.rng.random()
        world = self.world
        if r < 0.30:
            scheme, page = self.rng.choice(SCHEMES), self.rng.randint(1, 3)
            await self.page("list", f"/?sort={scheme}&page={page}")
        elif r < 0.40:
            await self.page("search", "/?q=" + quote(self.rng.choice(SEARCH_WORDS)))
        elif r < 0.60:
            await self.page("idea", f"/ideas/{world.pick_idea()}")
        elif r < 0.70:
            await self.type_idea()
        elif r < 0.87:
            await self.vote("support", world.pick_idea())
        else:
            mine = list(world.ledger.votes[self.email])
            await self.vote("withdraw", self.rng.choice(mine) if mine else world.pick_idea())


async def run_mixed(world: World, citizens: list[Citizen], seconds: float, think: float) -> float:
    deadline = time.monotonic() + seconds

    async def life(c: Citizen) -> None:
        await asyncio.sleep(c.rng.random() * 2)  # arrivals spread over two seconds
        if not await c.register():
            return
        while time.monotonic() < deadline:
            await c.step()
            await asyncio.sleep(c.rng.expovariate(1 / think) if think > 0 else 0)

    start = time.monotonic()
    await asyncio.gather(*(life(c) for c in citizens))
    return time.monotonic() - start


async def run_hammer(
    port: int,
    stats: Stats,
    seconds: float,
    connections: int,
    citizens: list[Citizen] | None,
    job: str,
    world: World,
) -> float:
    """``connections`` loops without pauses: anonymous or signed-in list pages, votes, or the
    poll's results page."""
    deadline = time.monotonic() + seconds

    async def loop(n: int) -> None:
        rng = random.Random(1000 + n)
        if citizens is None:
            client = Client("127.0.0.1", port, stats)
        else:
            citizen = citizens[n % len(citizens)]
            cookies = citizen.client.cookies
            citizen.client = Client("127.0.0.1", port, stats)
            citizen.client.cookies = cookies
        while time.monotonic() < deadline:
            if job in ("votes", "votes-api"):
                assert citizens is not None
                idea = world.pick_idea()
                supported = idea in world.ledger.votes[citizen.email]
                api = job == "votes-api"
                await citizen.vote(
                    "withdraw" if supported else "support",
                    idea,
                    label="support/withdraw" + (" (API)" if api else ""),
                    api=api,
                )
            elif job == "poll-results":
                assert citizens is not None
                status, _, body = await citizen.client.request(
                    POLL_PAGE, "GET", f"/polls/{world.poll_id}/results"
                )
                # Stats counts failures, 5xx and 429; anything else but the page with its count
                # (a redirect, a 404, a page without the number) is an error here too
                if status is not None and status < 500 and status != 429:
                    if status != 200 or not any(f in body for f in world.poll_count):
                        stats.errors[POLL_PAGE] += 1
            else:
                path = f"/?page={rng.randint(1, 3)}"
                if citizens is None:
                    await client.request("list page (anonymous)", "GET", path)
                else:
                    await citizen.client.request("list page (signed in)", "GET", path)

    start = time.monotonic()
    await asyncio.gather(*(loop(n) for n in range(connections)))
    return time.monotonic() - start


# --- checks -------------------------------------------------------------------------------------


def supporter_counts(url: str) -> dict[int, tuple[int, int]]:
    """Per public idea: (stored support_count, distinct supporters recomputed from vote rows)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT i.id, i.support_count, "
                "(SELECT count(DISTINCT v.user_id) FROM votes v WHERE v.idea_id = i.id AND v.value = 1)"
                " FROM ideas i"
            )
        ).all()
    engine.dispose()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def verify(
    url: str, ledger: Ledger, before: dict[int, tuple[int, int]], expect_votes: bool = True
) -> dict[str, Any]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT u.email, v.idea_id, v.value FROM votes v JOIN users u ON u.id = v.user_id "
                "WHERE u.email LIKE :pattern"
            ),
            {"pattern": f"%@{DOMAIN}"},
        ).all()
    engine.dispose()
    stored = {(r[0], int(r[1])): int(r[2]) for r in rows}
    told = {(email, idea): v for email, votes in ledger.votes.items() for idea, v in votes.items()}
    unsure = ledger.uncertain
    lost = [k for k in told if k not in stored and k not in unsure]
    phantom = [k for k in stored if k not in told and k not in unsure]
    after = supporter_counts(url)
    net: dict[int, int] = {}
    for (_, idea), value in stored.items():
        if value == 1:
            net[idea] = net.get(idea, 0) + 1
    unsure_ideas = {idea for _, idea in unsure}
    counter_mismatch = [i for i, (count, distinct) in after.items() if count != distinct]
    ledger_mismatch = [
        i
        for i in after
        if i not in unsure_ideas
        and after[i][1]
        != before.get(i, (0, 0))[1]
        + sum(1 for (e, idea), v in told.items() if idea == i and v == 1)
    ]
    return {
        "citizens": len(ledger.votes),
        "votes_confirmed": ledger.confirmed,
        "supports_standing": sum(1 for v in told.values() if v == 1),
        "ideas_touched": len({idea for _, idea in told} | {idea for _, idea in stored}),
        "lost_votes": len(lost),
        "phantom_or_doubled_votes": len(phantom),
        "uncertain_answers": len(unsure),
        "ideas_whose_count_differs_from_raw_rows": len(counter_mismatch),
        "ideas_whose_count_differs_from_ledger": len(ledger_mismatch),
        # exact, and about something: every vote answered, and votes there were
        "ok": not lost
        and not phantom
        and not counter_mismatch
        and not ledger_mismatch
        and not unsure
        and (ledger.confirmed > 0 or not expect_votes),
    }


async def api_agrees(port: int, url: str, ideas: list[int]) -> int:
    """How many ideas the API reports with a count other than the recomputed one."""
    counts = supporter_counts(url)
    client = Client("127.0.0.1", port, Stats())
    wrong = 0
    for idea in ideas:
        status, _, body = await client.request("api", "GET", f"/api/v1/ideas/{idea}")
        if status != 200 or json.loads(body)["support_count"] != counts[idea][1]:
            wrong += 1
    await client.close()
    return wrong


# --- the poll phases ---------------------------------------------------------------------------


async def warm_poll(port: int, poll_id: int, workers: int) -> dict[str, Any]:
    """Rounds of concurrent requests for the results page on fresh connections (which reach
    every worker) until a whole round answers 200 within 2 s; given up (logged, and the timed
    phase counts the errors) after 3 rounds in a row with a failure, or 5 minutes."""
    stats = Stats()
    began = time.monotonic()
    rounds = failing = 0
    settled = False
    while time.monotonic() - began < 300 and failing < 3:
        rounds += 1
        clients = [Client("127.0.0.1", port, stats, timeout=300) for _ in range(4 * workers)]
        answers = await asyncio.gather(
            *(c.request("warm-up", "GET", f"/polls/{poll_id}/results") for c in clients)
        )
        for c in clients:
            await c.close()
        slowest = max(stats.latencies["warm-up"][-len(clients) :])
        ok = all(a[0] == 200 for a in answers)
        failing = 0 if ok else failing + 1
        if ok and slowest < 2.0:
            settled = True
            break
    if not settled:
        log(
            f"the poll results page did not settle: statuses {dict(stats.statuses['warm-up'])}, "
            f"failures {stats.errors.get('warm-up', 0)}, slowest {slowest:.1f} s"
        )
    return {
        "settled": settled,
        "rounds": rounds,
        "seconds": round(time.monotonic() - began, 1),
        "first_ms": round(stats.latencies["warm-up"][0] * 1000, 1),
        "slowest_ms": round(max(stats.latencies["warm-up"]) * 1000, 1),
    }


async def check_export(
    port: int, poll_id: int, cells: poll_load.Rows, resp: poll_load.Rows
) -> dict[str, Any]:
    """The SQL tallies against the poll's JSON export. A difference, or an export that fails,
    is logged loudly, marked in the results and the docs, and fails the run (exit status 1);
    the phases still run, so the figures are there to look at."""
    client = Client("127.0.0.1", port, Stats(), timeout=300)
    status, _, body = await client.request("export", "GET", f"/polls/{poll_id}/results.json")
    await client.close()
    wrong: list[str] = []
    doc: dict[str, Any] = {}
    if status != 200:
        wrong = [f"/polls/{poll_id}/results.json answered {status}"]
    else:
        doc = json.loads(body)
        wrong = poll_load.compare_with_export(cells, resp, doc)
    questions = doc.get("questions") or []
    out = {
        "respondents": doc.get("respondents"),
        "questions": len(questions),
        "options_checked": sum(len(q.get("options") or []) for q in questions),
        "districts_checked": sum(len(q.get("districts") or []) for q in questions),
        "equal": not wrong,
        "differences": len(wrong),
        "examples": wrong[:5],
    }
    if wrong:
        log(
            f"FAILED: the SQL GROUP BY tallies and /polls/{poll_id}/results.json disagree "
            f"({len(wrong)}): " + "; ".join(wrong[:5])
        )
    return out


def sql_phase(url: str, poll_id: int, seconds: float, clients: int) -> tuple[dict[str, Any], poll_load.SqlRun]:  # fmt: skip
    run = poll_load.hammer_sql(url, poll_id, clients, seconds)
    return {
        "seconds": round(run.seconds, 1),
        "connections": clients,
        "tallies": run.tallies,
        "endpoints": run.stats.summary(run.seconds),
    }, run


# --- one backend --------------------------------------------------------------------------------


async def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("VECHE_")}
    base_env["VECHE_EMBEDDING_MODEL"] = args.model
    base_env["OMP_WAIT_POLICY"] = "PASSIVE"
    if backend == "postgres":
        url, cleanup = postgres_database(args.pg_url, base_env, args.fresh, args.poll_respondents)
    else:
        url, cleanup = sqlite_database(base_env, args.fresh, args.poll_respondents)
    result: dict[str, Any] = {"backend": backend, "workers": args.workers}
    poll_phases = [p for p in POLL_PHASES if p in args.phases]
    poll_id = poll_load.find_poll(url, args.poll_respondents) if poll_phases else None
    if poll_phases and poll_id is None:
        cleanup()
        raise SystemExit(f"no planted poll of {args.poll_respondents:,} respondents in {url}")
    sql_rows: tuple[poll_load.Rows, poll_load.Rows] | None = None
    if poll_id is not None and "poll-results-sql" in args.phases:
        # before the server starts: nothing else runs, and PostgreSQL's 100 connections would
        # not hold 64 more beside the server's pools
        log(
            f"{backend}: poll-results-sql, {args.sql_clients} connections for "
            f"{args.phase_seconds:.0f} s (each finishes the tally it began)"
        )
        try:
            result["poll-results-sql"], run = await asyncio.to_thread(
                sql_phase, url, poll_id, args.phase_seconds, args.sql_clients
            )
        except BaseException:
            cleanup()
            raise
        sql_rows = (run.cells, run.respondents)
    index_dir = tempfile.mkdtemp(prefix="veche-load-index-")
    port = free_port()
    env = server_env(base_env, url, index_dir, args.redis_url)
    proc = start_server(env, args.workers, port)
    try:
        result["ready_after_s"] = round(await wait_ready(port, proc), 1)
        if poll_id is not None:
            if sql_rows is None:
                sql_rows = await asyncio.to_thread(_tally_once, url, poll_id)
            result["poll"] = {
                "id": poll_id,
                "respondents": args.poll_respondents,
                "answers": sum(int(r[-1]) for r in sql_rows[0]),
                "export_check": await check_export(port, poll_id, *sql_rows),
            }
        engine = create_engine(url)
        with engine.connect() as conn:
            ideas = [
                (int(r[0]), str(r[1]))
                for r in conn.execute(
                    text(
                        "SELECT id, title FROM ideas WHERE status NOT IN ('hidden', 'merged') ORDER BY id"
                    )
                )
            ]
        engine.dispose()
        rng = random.Random(7)
        order = list(range(len(ideas)))
        rng.shuffle(order)
        weights = [0.0] * len(ideas)
        for rank, i in enumerate(order):
            weights[i] = 1.0 / (rank + 1) ** 0.8
        world = World(
            port,
            ideas,
            weights,
            Ledger(),
            rng,
            poll_id or 0,
            poll_load.count_forms(args.poll_respondents),
        )
        before = supporter_counts(url)

        stats = Stats()
        citizens = [Citizen(world, stats, n) for n in range(args.clients)]
        if "mixed" in args.phases:
            log(f"{backend}: {args.clients} citizens for {args.duration:.0f} s (mixed)")
            elapsed = await run_mixed(world, citizens, args.duration, args.think)
            result["mixed"] = {
                "seconds": round(elapsed, 1),
                "clients": args.clients,
                "endpoints": stats.summary(elapsed),
            }
        else:  # the throughput phases only: register the citizens they sign in with
            citizens = citizens[:64]
            await asyncio.gather(*(c.register() for c in citizens))
        signed_in = [c for c in citizens if "veche_session" in c.client.cookies][:64]
        for c in citizens:
            await c.client.close()
        for c in signed_in:
            await c.api_token()
            await c.client.close()

        for phase, group, job in (
            ("list", None, "list"),
            ("list-signed-in", signed_in, "list"),
            ("votes", signed_in, "votes"),
            ("votes-api", signed_in, "votes-api"),
            ("poll-results", signed_in, "poll-results"),
        ):
            if phase not in args.phases:
                continue
            if phase == "poll-results":
                log(f"{backend}: poll-results: warming every worker")
                result["poll"]["warm_up"] = await warm_poll(port, world.poll_id, args.workers)
            log(f"{backend}: {phase}, 64 connections for {args.phase_seconds:.0f} s")
            stats = Stats()
            elapsed = await run_hammer(port, stats, args.phase_seconds, 64, group, job, world)
            result[phase] = {
                "seconds": round(elapsed, 1),
                "connections": 64,
                "endpoints": stats.summary(elapsed),
            }
        await asyncio.sleep(2.5)  # every worker's poller has caught up
        result["ledger"] = verify(
            url, world.ledger, before, any(p in args.phases for p in VOTE_PHASES)
        )
        touched = sorted({i for votes in world.ledger.votes.values() for i in votes})[:300]
        result["ledger"]["api_counts_differing"] = await api_agrees(port, url, touched)
        result["ledger"]["ok"] &= result["ledger"]["api_counts_differing"] == 0
    finally:
        stop_server(proc)
        cleanup()
        shutil.rmtree(index_dir, ignore_errors=True)
    return result


def _tally_once(url: str, poll_id: int) -> tuple[poll_load.Rows, poll_load.Rows]:
    engine = poll_load.engine_for(url)
    try:
        with engine.connect() as conn:
            return poll_load.sql_tallies(conn, poll_id)
    finally:
        engine.dispose()


def _ok(b: dict[str, Any]) -> bool:
    """The ledger exact, and the poll's SQL tallies equal to its export (when checked)."""
    return bool(b["ledger"]["ok"]) and b.get("poll", {}).get("export_check", {}).get("equal", True)


def machine() -> str:
    m = evaluate.machine()
    return f"{m['cpus']} cores ({m['cpu'] or 'unknown CPU'}), {m['platform']}"


def targets(res: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets, read off the PostgreSQL run."""
    pg = res["backends"].get("postgres")
    if not pg:
        return {}
    lst = pg["list"]["endpoints"]["list page (anonymous)"]
    votes = pg["votes"]["endpoints"]["support/withdraw"]
    api = pg["votes-api"]["endpoints"]["support/withdraw (API)"]
    return {
        **poll_targets(pg),
        "list_rps": lst["rps"],
        "list_p99_ms": lst["p99_ms"],
        "list_met": lst["rps"] >= 500 and lst["p99_ms"] <= 100,
        "votes_rps": votes["rps"],
        "votes_errors": votes["errors"],
        "votes_met": votes["rps"] >= 300 and votes["errors"] == 0,
        "api_votes_rps": api["rps"],
        "api_votes_errors": api["errors"],
        "api_votes_met": api["rps"] >= 300 and api["errors"] == 0,
    }


def poll_targets(b: dict[str, Any]) -> dict[str, Any]:
    """The results page against the same tallies by SQL GROUP BY, from one backend's run."""
    if "poll-results" not in b or "poll-results-sql" not in b:
        return {}
    page = b["poll-results"]["endpoints"][POLL_PAGE]
    sql = b["poll-results-sql"]["endpoints"][poll_load.SQL_LABEL]
    # not the summary's rps (one decimal): a few tallies a second need more digits
    sql_rate = b["poll-results-sql"]["tallies"] / max(b["poll-results-sql"]["seconds"], 1e-9)
    return {
        "poll_respondents": b.get("poll", {}).get("respondents"),
        "poll_page_rps": page["rps"],
        "poll_page_p99_ms": page["p99_ms"],
        "poll_page_errors": page["errors"],
        "poll_sql_tallies_per_s": float(f"{sql_rate:.3g}"),
        "poll_sql_p50_ms": sql["p50_ms"],
        "poll_page_to_sql": round(page["rps"] / max(sql_rate, 1e-9), 1),
        "poll_export_equal": b["poll"]["export_check"]["equal"],
        "poll_page_met": page["rps"] >= 300
        and page["errors"] == 0
        and b["poll"]["export_check"]["equal"],
    }


def poll_lines(b: dict[str, Any]) -> list[str]:
    """The poll paragraph of one backend's section."""
    t = poll_targets(b)
    poll = b.get("poll")
    if not t or not poll:
        return []
    check = poll["export_check"]
    warm = poll.get("warm_up") or {}
    sql = b["poll-results-sql"]
    if check["equal"]:
        verdict = (
            "The SQL counts equal what `/polls/{id}/results.json` reports "
            f"({check['questions']} questions, {check['options_checked']} options, "
            f"{check['districts_checked']} district lines checked)."
        )
    else:
        verdict = (
            f"**The SQL counts and `/polls/{{id}}/results.json` DISAGREE** "
            f"({check['differences']}: {'; '.join(check['examples'])})."
        )
    return [
        f"Poll results page vs the same tallies by SQL `GROUP BY`: a closed, simulated poll of "
        f"{poll['respondents']:,} respondents x 10 questions ({poll['answers']:,} answer rows, "
        f"`bench/poll_load.py`); the page **{t['poll_page_rps']:,} req/s** (64 signed-in "
        f"citizens, p99 {t['poll_page_p99_ms']} ms, {t['poll_page_errors']} errors) against "
        f"**{t['poll_sql_tallies_per_s']:,} tallies/s** by SQL ({sql['connections']} threads, "
        f"each with its own connection, on the same database before the server started: "
        f"{sql['tallies']} tallies in {sql['seconds']} s, p50 {t['poll_sql_p50_ms']:,} ms): "
        f"**{t['poll_page_to_sql']:,}x**. The baseline excludes HTTP, rendering and every step "
        "after the counts (shares, intervals, the census correction), which favours it: it is "
        f"the floor of what a page recomputed from the answers table would cost. {verdict} "
        f"Warm-up before the timed phase: {warm.get('rounds', '?')} rounds in "
        f"{warm.get('seconds', '?')} s, the first (cold) page {warm.get('first_ms', '?')} ms.",
        "",
    ]


def section(res: dict[str, Any]) -> str:
    lines = [BEGIN, "## Load: real HTTP, 200 citizens, a ledger of every vote (`make load`)", ""]
    lines += [
        f"Command: `{res['command']}` — {res['date']}, {res['machine']}; "
        f"`veche serve --workers {res['workers']}` (uvicorn) in production mode, model "
        f"`{res['model']}`, the load generator on the same machine (it shares the two cores). "
        "Raw numbers: `bench/results/load.json`; what each phase does: `bench/load.py`.",
        "",
    ]
    t = res.get("targets") or {}
    if t:
        lines += [
            "| target (PostgreSQL) | measured | verdict |",
            "|---|---|---|",
            f"| ranked list page ≥ 500 req/s, p99 ≤ 100 ms, 64 connections | {t['list_rps']} req/s,"
            f" p99 {t['list_p99_ms']} ms | {'met' if t['list_met'] else 'MISSED'} |",
            f"| support/withdraw ≥ 300 req/s, zero errors (site, JSON vote button) | "
            f"{t['votes_rps']} req/s, {t['votes_errors']} errors | "
            f"{'met' if t['votes_met'] else 'MISSED'} |",
            f"| support/withdraw ≥ 300 req/s, zero errors (API, bearer token) | "
            f"{t['api_votes_rps']} req/s, {t['api_votes_errors']} errors | "
            f"{'met' if t['api_votes_met'] else 'MISSED'} |",
        ]
        if "poll_page_rps" in t:
            lines.append(
                f"| poll results page ≥ 300 req/s (64 signed-in citizens; a poll of "
                f"{t['poll_respondents'] or 0:,} respondents) | "
                f"{t['poll_page_rps']} req/s, {t['poll_page_errors']} errors; "
                f"{t['poll_page_to_sql']}x the same tallies by SQL `GROUP BY` "
                f"({t['poll_sql_tallies_per_s']} tallies/s) | "
                f"{'met' if t['poll_page_met'] else 'MISSED'} |"
            )
        lines.append("")
    for name, b in res["backends"].items():
        title = "PostgreSQL" if name == "postgres" else "SQLite (WAL)"
        led = b["ledger"]
        lines += [
            f"### {title}",
            "",
            f"Ledger: {led['citizens']} citizens, {led['votes_confirmed']} confirmed vote answers, "
            f"{led['supports_standing']} supports standing on {led['ideas_touched']} ideas — "
            f"lost {led['lost_votes']}, phantom/doubled {led['phantom_or_doubled_votes']}, "
            f"answers without a verdict {led['uncertain_answers']}, ideas whose count differs from "
            f"the raw rows {led['ideas_whose_count_differs_from_raw_rows']} / from the ledger "
            f"{led['ideas_whose_count_differs_from_ledger']} / in the API "
            f"{led['api_counts_differing']}: **{'exact' if led['ok'] else 'NOT EXACT'}**.",
            "",
            "| phase | endpoint | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for phase in PHASES:
            for label, s in b.get(phase, {"endpoints": {}})["endpoints"].items():
                lines.append(
                    f"| {phase} | {label} | {s['requests']} | {s['errors']} | {s['rps']} | "
                    f"{s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} |"
                )
        anon = b["list"]["endpoints"]["list page (anonymous)"]["rps"]
        signed = b["list-signed-in"]["endpoints"]["list page (signed in)"]["rps"]
        lines += [
            "",
            f"Micro-cached anonymous list vs the rendered page (baseline, signed in): "
            f"{anon} / {signed} req/s = **{anon / max(signed, 1e-9):.1f}×**.",
            "",
            *poll_lines(b),
        ]
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_docs(res: dict[str, Any], path: Path) -> None:
    replace_section(path, BEGIN, END, section(res))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--backends",
        default="postgres,sqlite",
        help="comma-separated: postgres, sqlite (default both)",
    )
    parser.add_argument("--clients", type=int, default=200, help="simulated citizens (200)")
    parser.add_argument(
        "--duration", type=float, default=60, help="seconds of the mixed phase (60)"
    )
    parser.add_argument(
        "--phase-seconds", type=float, default=20, help="seconds of each throughput phase (20)"
    )
    parser.add_argument(
        "--think",
        type=float,
        default=0.25,
        help="mean pause between a citizen's steps, seconds (0.25)",
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (2)")
    parser.add_argument("--model", default="veche-embedded-v1", help="VECHE_EMBEDDING_MODEL")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("PG_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/14",
        help="shared rate limits (empty: per worker)",
    )
    parser.add_argument(
        "--phases",
        default=",".join(PHASES),
        help="comma-separated subset of " + ", ".join(PHASES) + " (default all; "
        "a partial run is for development: its results are not written)",
    )
    parser.add_argument(
        "--poll-respondents",
        type=int,
        default=poll_load.RESPONDENTS,
        help="respondents of the big closed poll of the poll phases (200,000; planted once per "
        "size in the template)",
    )
    parser.add_argument(
        "--sql-clients",
        type=int,
        default=64,
        help="threads of the SQL GROUP BY baseline, each with its own connection (64)",
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild the template databases")
    parser.add_argument("--json", type=Path, default=ROOT / "bench/results/load.json")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs/benchmarks.md")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for b in backends:
        if b not in ("postgres", "sqlite"):
            parser.error(f"--backends: unknown backend {b!r} (postgres, sqlite)")
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    for p in args.phases:
        if p not in PHASES:
            parser.error(f"--phases: unknown phase {p!r} ({', '.join(PHASES)})")
    if args.clients < 64:
        parser.error("--clients must be at least 64 (the throughput phases reuse 64 of them)")
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    res: dict[str, Any] = {
        "command": "make load"
        if not argv and len(sys.argv) == 1
        else "python -m bench.load " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "workers": args.workers,
        "model": args.model,
        "backends": {},
    }
    for backend in tqdm(backends, desc="backends", unit="backend"):
        res["backends"][backend] = asyncio.run(run_backend(backend, args))
        led = res["backends"][backend]["ledger"]
        log(f"{backend}: ledger {'exact' if led['ok'] else 'NOT EXACT'}: {led}")
    if len(args.phases) < len(PHASES):  # a development run: print it, keep the recorded results
        print(json.dumps(res, indent=2, ensure_ascii=False))
        return 0 if all(_ok(b) for b in res["backends"].values()) else 1
    res["targets"] = targets(res)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_docs(res, args.docs)
    log(f"results: {args.json}, summary: {args.docs}")
    ok = all(_ok(b) for b in res["backends"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
