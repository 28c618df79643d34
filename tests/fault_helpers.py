"""Helpers of the fault tests (tests/test_faults.py): a real multi-worker server in a subprocess,
a client-side ledger of what each response claimed, a private PostgreSQL cluster, a small disk."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
SECRET = "fault-test-secret-0123456789abcdefghijkl"
SUPPORTERS_RE = re.compile(r'<details class="why-rank">.*?(\d+) supporters?', re.S)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a test server: rate limits out of the way, the lexical encoder."""
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        VECHE_ENV="test",
        SECRET_KEY=SECRET,
        VECHE_RANKING_POLL_SECONDS="0.2",
        VECHE_VIEW_FLUSH_SECONDS="0.5",
        VECHE_WRITE_RATE_LIMIT="1000000",
        VECHE_LOGIN_RATE_LIMIT="1000000",
        VECHE_SIMILAR_RATE_LIMIT="1000000",
        VECHE_EMBEDDING_MODEL="hashing-char-ngrams",
    )
    env.update(extra)
    return env


def migrate(database_url: str) -> None:
    """`veche migrate`, as an operator runs it."""
    subprocess.run(
        [sys.executable, "-m", "webapp", "migrate"],
        cwd=ROOT,
        env=server_env(database_url),
        check=True,
        capture_output=True,
        timeout=120,
    )


class Server:
    """`uvicorn webapp.asgi:app --workers N` (or a given command) on a free port; log in a file."""

    def __init__(
        self, env: dict[str, str], log: Path, workers: int = 2, argv: list[str] | None = None
    ):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = log.open("wb")
        argv = argv or ["-m", "uvicorn", "webapp.asgi:app", "--workers", str(workers)]
        self.proc = subprocess.Popen(
            [sys.executable, *argv, "--port", str(self.port), "--log-level", "info"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_up(self, timeout: float = 45.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"server exited:\n{self.log()}"
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server did not start:\n{self.log()}")

    def workers(self) -> list[int]:
        """Pids of the worker processes (children of the supervisor, not its resource tracker)."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cmdline = (stat.parent / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and b"resource_tracker" not in cmdline:
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # never leak a server into later tests
                self.proc.wait(timeout=10)
        self._log.close()


@contextmanager
def serving(env: dict[str, str], log: Path, **kwargs: Any) -> Iterator[Server]:
    server = Server(env, log, **kwargs)
    try:
        server.wait_up()
        yield server
    finally:
        server.stop()


# --- the ledger -----------------------------------------------------------------------------


@dataclass
class Entry:
    """One request and what its response claimed (status None: no response, e.g. reset)."""

    kind: str  # submit, support, withdraw, read
    user: int
    idea: int | None
    title: str | None
    started: float
    ended: float = 0.0
    status: int | None = None
    error: str = ""
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def acked(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Ledger:
    def __init__(self) -> None:
        self.entries: list[Entry] = []
        self._lock = threading.Lock()

    def call(
        self,
        kind: str,
        method: str,
        url: str,
        *,
        user: int = 0,
        idea: int | None = None,
        title: str | None = None,
        **kwargs: Any,
    ) -> Entry:
        entry = Entry(kind, user, idea, title, time.monotonic())
        try:  # a new connection per request: requests spread over the workers
            r = httpx.request(method, url, timeout=15, **kwargs)
            entry.status = r.status_code
            entry.headers = dict(r.headers)
            try:
                entry.body = r.json()
            except ValueError:
                entry.body = r.text
        except httpx.HTTPError as exc:
            entry.error = type(exc).__name__
        entry.ended = time.monotonic()
        with self._lock:
            self.entries.append(entry)
        return entry

    def of(self, kind: str) -> list[Entry]:
        with self._lock:
            return [e for e in self.entries if e.kind == kind]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        with self._lock:
            for e in self.entries:
                key = f"{e.kind}:{e.status or e.error}"
                out[key] = out.get(key, 0) + 1
        return dict(sorted(out.items()))


@dataclass
class Citizen:
    id: int
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}", "accept-language": "en"}


def write_load(
    ledger: Ledger,
    base: str,
    citizens: list[Citizen],
    ideas: list[int],
    category_id: int,
    stop: threading.Event,
    tag: str,
    reads: bool = False,
    pause: float = 0.0,
) -> None:
    """One client thread: support, withdraw and submit as its own citizens until ``stop``."""
    rng = random.Random(tag)
    n = 0
    while not stop.is_set():
        c = rng.choice(citizens)
        roll = rng.random()
        n += 1
        if roll < 0.15:
            title = f"Fault test {tag} idea {n}"
            e = ledger.call(
                "submit",
                "POST",
                f"{base}/api/v1/ideas",
                user=c.id,
                title=title,
                headers=c.auth,
                json={
                    "title": title,
                    "body": f"Body of {title}: make the courtyard on street {n} safer.",
                    "category_id": category_id,
                },
            )
            if e.acked and isinstance(e.body, dict):
                e.idea = int(e.body["id"])
        elif roll < 0.6:
            i = rng.choice(ideas)
            ledger.call(
                "support",
                "POST",
                f"{base}/api/v1/ideas/{i}/support",
                user=c.id,
                idea=i,
                headers=c.auth,
            )
        elif roll < 0.85 or not reads:
            i = rng.choice(ideas)
            ledger.call(
                "withdraw",
                "DELETE",
                f"{base}/api/v1/ideas/{i}/support",
                user=c.id,
                idea=i,
                headers=c.auth,
            )
        else:
            ledger.call("read", "GET", f"{base}/api/v1/ideas?sort=top", user=c.id, headers=c.auth)
        if pause:
            time.sleep(pause)


def wait_for(check: Callable[[], bool], timeout: float, what: str, step: float = 0.2) -> float:
    """Poll ``check`` until true; returns the seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(step)
    return time.monotonic() - started


# --- database checks --------------------------------------------------------------------------


def check_consistency(conn: Any, ledger: Ledger) -> dict[int, int]:
    """Every acknowledged write is stored; nothing is half-applied; counters equal raw votes."""
    postgres = conn.dialect.name == "postgresql"
    ideas = {r.id: r for r in conn.execute(text("SELECT id, title, support_count FROM ideas"))}
    # one idea write = the idea row + its search-index row + its ranking event
    indexed = set(
        conn.scalars(
            text("SELECT idea_id FROM ideas_tsv" if postgres else "SELECT rowid FROM ideas_fts")
        )
    )
    logged = set(conn.scalars(text("SELECT idea_id FROM ranking_events WHERE kind = 'idea'")))
    for idea_id in ideas:
        assert idea_id in indexed, f"idea {idea_id} has no search-index row (half-applied)"
        assert idea_id in logged, f"idea {idea_id} has no ranking event (half-applied)"
    titles = list(conn.scalars(text("SELECT title FROM ideas")))
    assert len(titles) == len(set(titles)), "an idea was stored twice (a blind retry?)"
    for e in ledger.of("submit"):
        if e.acked:
            assert e.idea in ideas and ideas[e.idea].title == e.title, (
                f"acknowledged idea lost: {e}"
            )
    # votes: the last acknowledged state of each (user, idea) is what is stored
    votes = {
        (r.user_id, r.idea_id): r.value
        for r in conn.execute(text("SELECT user_id, idea_id, value FROM votes"))
    }
    last: dict[tuple[int, int], Entry] = {}
    for e in sorted(ledger.of("support") + ledger.of("withdraw"), key=lambda e: e.started):
        last[(e.user, e.idea or 0)] = e  # each user is driven by one thread: no overlap
    for key, e in last.items():
        if e.acked:
            want = e.kind == "support"
            assert (key in votes) == want, f"acknowledged {e.kind} of {key} not stored: {e}"
    # every vote row has exactly its ranking events (a +1 net per stored row, 0 otherwise)
    net = {
        (r.user_id, r.idea_id): r.net
        for r in conn.execute(
            text(
                "SELECT user_id, idea_id, SUM(delta) AS net FROM ranking_events WHERE kind = 'vote' GROUP BY user_id, idea_id"
            )
        )
    }
    for key in set(net) | set(votes):
        assert net.get(key, 0) == (1 if key in votes else 0), (
            f"vote {key} without its ranking event"
        )
    supporters: dict[int, int] = {}
    for (_, idea_id), value in votes.items():
        if value == 1:
            supporters[idea_id] = supporters.get(idea_id, 0) + 1
    for idea_id, row in ideas.items():
        assert row.support_count == supporters.get(idea_id, 0), f"idea {idea_id} counter drifted"
    return supporters


def snapshot_supporters(base: str, idea_id: int) -> int | None:
    """The supporters the answering worker's ranking snapshot counts (the "why" box)."""
    r = httpx.get(f"{base}/ideas/{idea_id}", headers={"accept-language": "en"}, timeout=10)
    match = SUPPORTERS_RE.search(r.text) if r.status_code == 200 else None
    return int(match.group(1)) if match else None


# --- a private PostgreSQL cluster -----------------------------------------------------------


def postgres_bindir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.insert(0, Path(out.stdout.strip()))
    for d in candidates:
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    return None


class PrivatePostgres:
    """A throw-away cluster on a free port (fsync off), run as the ``postgres`` user when root."""

    def __init__(self, bindir: Path, base: Path) -> None:
        self.bindir = bindir
        self.base = base
        self.data = base / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/veche"

    def _run(self, *argv: str, timeout: float = 60) -> None:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if os.geteuid() == 0:  # initdb refuses to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-N", "-E", "UTF8"
        )
        self.start()

    def _opts(self) -> list[str]:
        opts = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )  # fsync off is safe here (the OS keeps what was written); synchronous_commit=off is
        # not: an immediate stop loses commits already acknowledged (this test caught it)
        return ["-D", str(self.data), "-o", opts, "-l", str(self.base / "pg.log"), "-w"]

    def start(self) -> None:
        self._run("pg_ctl", *self._opts(), "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        """`pg_ctl restart -m MODE` (with the log file again: else the new server holds our pipe)."""
        self._run("pg_ctl", *self._opts(), "-m", mode, "restart")

    def destroy(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=30)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.base, ignore_errors=True)


def require_tool(available: bool, what: str) -> None:
    """Skip outside CI when a system tool is missing; fail in CI (env CI set)."""
    if not available:
        if os.environ.get("CI"):
            pytest.fail(f"{what} is required in CI")
        pytest.skip(f"{what} is not available here")


# --- a small disk -----------------------------------------------------------------------------


@dataclass
class SmallDisk:
    path: Path
    kind: str  # "tmpfs", "loop" or "max_page_count"
    cleanup: Callable[[], None]


def small_disk(where: Path, megabytes: int) -> SmallDisk:
    """A real small file system (tmpfs, else a loop-mounted ext2 image), else a plain folder
    where the database is capped by SQLite's max_page_count instead."""
    mount = where / "disk"
    mount.mkdir()
    if shutil.which("mount"):
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(mount)],
            capture_output=True,
            check=False,
        )
        if done.returncode == 0:
            return SmallDisk(mount, "tmpfs", lambda: _umount(mount))
        image = where / "disk.img"
        with image.open("wb") as f:
            f.truncate(megabytes * 1024 * 1024)
        made = subprocess.run(
            ["mkfs.ext2", "-q", "-F", str(image)], capture_output=True, check=False
        )
        if made.returncode == 0:
            done = subprocess.run(
                ["mount", "-o", "loop", str(image), str(mount)], capture_output=True, check=False
            )
            if done.returncode == 0:
                return SmallDisk(mount, "loop", lambda: _umount(mount))
    return SmallDisk(mount, "max_page_count", lambda: None)


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill(directory: Path) -> Path:
    """Write a ballast file until the file system is full; returns it (delete it to free)."""
    ballast = directory / "ballast"
    chunk = b"\0" * 65536
    with ballast.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
        try:
            while True:
                f.write(b"\0" * 512)
        except OSError:
            pass
    return ballast
