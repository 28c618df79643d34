"""Proxy trust (webapp/kernel/proxies.py, VECHE_TRUSTED_PROXIES) and what `veche serve` says and does.

X-Forwarded-For is believed only from a trusted peer, read from the right; uvicorn is given the
same list (pen-test finding 12: it trusted loopback by default). Development on a public
interface warns; production with the placeholder secret refuses to start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Browser
from webapp import cli
from webapp.app import create_app
from webapp.kernel.proxies import client_address, parse_address
from webapp.kernel.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PROXY = "10.0.0.5"
TRUSTED = ("10.0.0.0/24", "2001:db8::/32")


# --- the rule ------------------------------------------------------------------------------------


def test_the_peer_is_the_client_unless_it_is_a_trusted_proxy() -> None:
    assert client_address("203.0.113.9", ["6.6.6.6"], ()) == "203.0.113.9"
    assert client_address("203.0.113.9", ["6.6.6.6"], TRUSTED) == "203.0.113.9"
    assert client_address("127.0.0.1", ["6.6.6.6"], ()) == "127.0.0.1"  # loopback: no exception
    assert client_address(PROXY, ["198.51.100.7"], TRUSTED) == "198.51.100.7"
    assert client_address(PROXY, [], TRUSTED) == PROXY
    assert client_address(None, [], TRUSTED) == "unknown"
    assert client_address("testclient", ["6.6.6.6"], TRUSTED) == "testclient"


def test_a_chain_is_read_from_the_right_to_the_first_untrusted_address() -> None:
    # the client wrote "6.6.6.6, 10.0.0.9" itself; our proxies appended the rest
    chain = ["6.6.6.6, 10.0.0.9", "198.51.100.7, 10.0.0.6"]
    assert client_address(PROXY, chain, TRUSTED) == "198.51.100.7"
    assert client_address(PROXY, ["10.0.0.7, 10.0.0.6"], TRUSTED) == "10.0.0.7"  # all proxies
    assert client_address(PROXY, ["garbage, 10.0.0.6"], TRUSTED) == "10.0.0.6"
    assert client_address(PROXY, ["[2001:db8::1]:443, 198.51.100.7:5000"], TRUSTED) == (
        "198.51.100.7"
    )
    assert client_address("2001:db8::5", ["2a00:1450::1"], TRUSTED) == "2a00:1450::1"
    assert client_address(PROXY, ["::ffff:198.51.100.7"], TRUSTED) == "198.51.100.7"
    assert client_address(PROXY, ["x" * 100_000], TRUSTED) == PROXY
    assert parse_address("1.2.3.4:80") == parse_address("1.2.3.4")
    assert parse_address("not an address") is None


# --- through the app: the per-IP limit -------------------------------------------------------------


def _attempts(app: Any, peer: str, forwarded: list[str]) -> list[int]:
    codes = []
    with Browser(app, client=(peer, 40000)) as b:
        for i, value in enumerate(forwarded):
            response = b.post(  # a new address each time: only the per-IP limit can bite
                "/api/v1/tokens",
                json={"email": f"nobody{i}-{peer}@example.org", "password": "wrong-password-1"},
                headers={"x-forwarded-for": value},
            )
            codes.append(response.status_code)
    return codes


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(
    settings: Settings,
) -> None:
    for peer, trusted in (("203.0.113.9", ()), ("203.0.113.10", TRUSTED)):
        # not listed, or listed but the peer is not one of them
        app = create_app(replace(settings, token_rate_limit=2, trusted_proxies=trusted))
        spoofed = ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"]
        assert _attempts(app, peer, spoofed) == [401, 401, 429, 429]
        app.state.engine.dispose()


def test_a_trusted_proxy_names_the_client(settings: Settings) -> None:
    app = create_app(replace(settings, token_rate_limit=2, trusted_proxies=TRUSTED))
    clients = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"]
    assert _attempts(app, PROXY, clients) == [401] * 4  # four clients, one each
    # one client varying what it writes to the left of our proxy's entry: still one client
    spoofed = [f"{i}.{i}.{i}.{i}, 198.51.100.9" for i in range(1, 5)]
    assert _attempts(app, PROXY, spoofed) == [401, 401, 429, 429]
    app.state.engine.dispose()


def test_uvicorn_rewrites_nothing_the_app_would_not(settings: Settings) -> None:
    """The same list in uvicorn's middleware and in client_address: applied twice, one answer."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [v.decode() for k, v in scope["headers"] if k == b"x-forwarded-for"]
        seen.append(client_address(scope["client"][0], headers, TRUSTED))

    async def receive() -> Any:
        raise AssertionError("the app reads no body")

    async def send(message: Any) -> None:
        raise AssertionError("the app sends nothing")

    import asyncio

    middleware = ProxyHeadersMiddleware(app, trusted_hosts=",".join(TRUSTED))
    for peer, chain in (
        (PROXY, "6.6.6.6, 198.51.100.7, 10.0.0.6"),
        ("203.0.113.9", "6.6.6.6"),
        (PROXY, "10.0.0.7, 10.0.0.6"),
    ):
        scope: Any = {  # a partial HTTP scope: what the middleware and app read
            "type": "http",
            "client": (peer, 1),
            "headers": [(b"x-forwarded-for", chain.encode())],
        }
        asyncio.run(middleware(scope, receive, send))
        assert seen[-1] == client_address(peer, [chain], TRUSTED), (peer, chain)


# --- veche serve -----------------------------------------------------------------------------------


@pytest.fixture
def serve(
    monkeypatch: pytest.MonkeyPatch, sqlite_file: str, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, list[tuple[Any, dict[str, Any]]]]]:
    """Runs `veche serve ARGS` in-process with uvicorn.run replaced: (exit code, stderr, calls)."""
    import uvicorn

    for name in (
        "VECHE_ENV",
        "SECRET_KEY",
        "VECHE_TRUSTED_PROXIES",
        "VECHE_HOST",
        "VECHE_REDIS_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VECHE_EMBEDDING_MODEL", "off")
    assert cli.main(["--database-url", sqlite_file, "migrate"]) == 0
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: calls.append((target, kw)))

    def run(*args: str, **env: str) -> tuple[int, str, list[tuple[Any, dict[str, Any]]]]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = cli.main(["--database-url", sqlite_file, "serve", *args])
        err = capsys.readouterr().err
        for target, _ in calls:
            if not isinstance(target, str):
                target.state.engine.dispose()
        return code, err, calls

    return run


def test_serve_in_development_on_a_public_interface_warns(serve: Any) -> None:
    code, err, calls = serve("--host", "0.0.0.0")
    assert code == 0 and len(calls) == 1
    lines = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(lines) >= 3, err
    assert "VECHE_ENV=development" in err and "forge" in err and "placeholder" in err
    assert "VECHE_ENV=production" in err and "SECRET_KEY=" in err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_serve_on_loopback_says_nothing(serve: Any, host: str) -> None:
    code, err, calls = serve("--host", host)
    assert code == 0 and "warning" not in err and calls[0][1]["host"] == host


def test_serve_with_a_real_secret_still_warns_about_development(serve: Any) -> None:
    code, err, _ = serve("--host", "0.0.0.0", SECRET_KEY="r" * 40)
    assert code == 0 and "development settings" in err and "placeholder" not in err


def test_serve_in_production_refuses_the_placeholder_secret(
    production_password_profile: None, serve: Any
) -> None:
    # the profile fixture first: it is torn down after serve's environment (VECHE_ENV) is undone
    for secret in ("dev-insecure-secret-change-me", "short"):
        code, err, calls = serve("--host", "0.0.0.0", VECHE_ENV="production", SECRET_KEY=secret)
        assert code == 2 and not calls
        assert err.startswith("veche: error: SECRET_KEY must be set") and "Traceback" not in err
    code, err, calls = serve("--host", "0.0.0.0", VECHE_ENV="production", SECRET_KEY="p" * 40)
    assert code == 0 and len(calls) == 1 and "warning" not in err


def test_serve_in_production_without_a_secret_exits_2_as_a_process(sqlite_file: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY",)}
    env.update(VECHE_ENV="production", DATABASE_URL=sqlite_file)
    done = subprocess.run(
        [sys.executable, "-m", "webapp", "serve", "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("veche: error: SECRET_KEY must be set")


def test_serve_gives_uvicorn_no_proxy_trust_by_default(serve: Any) -> None:
    code, _, calls = serve()
    options = calls[0][1]
    assert code == 0 and options["proxy_headers"] is False
    assert calls[0][0].state.settings.trusted_proxies == ()


def test_serve_trusted_proxies_option_overrides_the_setting(serve: Any) -> None:
    code, _, calls = serve(
        "--trusted-proxies", "10.0.0.0/24, 192.0.2.1", VECHE_TRUSTED_PROXIES="172.16.0.1"
    )
    target, options = calls[0]
    assert code == 0
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == "10.0.0.0/24,192.0.2.1"
    assert target.state.settings.trusted_proxies == ("10.0.0.0/24", "192.0.2.1")
    assert os.environ["VECHE_TRUSTED_PROXIES"] == "10.0.0.0/24,192.0.2.1"  # for --workers N
    code, _, calls = serve("--trusted-proxies", "")
    assert code == 0 and calls[-1][1]["proxy_headers"] is False


def test_serve_refuses_a_bad_trusted_proxy(serve: Any) -> None:
    code, err, calls = serve("--trusted-proxies", "10.0.0.0/24,proxy.example")
    assert code == 2 and not calls
    assert err.startswith("veche: error: VECHE_TRUSTED_PROXIES must list IP addresses")
