"""API tokens (security finding 11): expiry, a cap per account, listing and revoking on the site,
through the API and at the command line, and an audit row for every creation and revocation."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.helpers import PASSWORD, Browser, make_user
from tests.test_api import API, conforms, error_of, ru
from webapp.accounts import api_tokens
from webapp.app import create_app
from webapp.cli import main
from webapp.kernel.security import hash_api_token
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import ApiToken, AuditLog, LoginEvent

EN = {"accept-language": "en"}
TOKEN_RE = re.compile(r"veche_[A-Za-z0-9_-]{20,}")
INVALID = "The API token is invalid, expired or has been revoked."


def create(client: Any, email: str, **body: Any) -> Any:
    return client.post(f"{API}/tokens", json={"email": email, "password": PASSWORD, **body})


def token_of(response: Any) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def rows(session_factory: Any) -> list[ApiToken]:
    with transaction(session_factory) as s:
        found = list(s.scalars(select(ApiToken).order_by(ApiToken.id)))
        s.expunge_all()
        return found


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def close_to(value: datetime | None, expected: datetime) -> bool:
    return value is not None and abs(aware(value) - expected) < timedelta(minutes=2)


def cli(capsys: pytest.CaptureFixture[str], url: str, *args: str) -> tuple[int, str, str]:
    code = main(["--database-url", url, *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def doc(browser: Browser) -> dict[str, Any]:
    document: dict[str, Any] = browser.get(f"{API}/openapi.json").json()
    return document


# --- expiry and lifetime -------------------------------------------------------------------------


def test_a_token_lives_the_default_or_the_chosen_number_of_days(
    browser: Browser, citizen: Any, session_factory: Any, doc: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    default = create(browser, citizen.email)
    conforms(doc, "POST", f"{API}/tokens", default)
    chosen = create(browser, citizen.email, days=7, name="скрипт")
    conforms(doc, "POST", f"{API}/tokens", chosen)
    first, second = rows(session_factory)
    assert close_to(first.expires_at, now + timedelta(days=90))
    assert close_to(second.expires_at, now + timedelta(days=7))
    # the hint is the token's first 10 characters, and the answer says when it expires
    assert first.hint == token_of(default)[:10] and first.hint.startswith("veche_")
    body = chosen.json()
    assert body["hint"] == token_of(chosen)[:10] and body["name"] == "скрипт"
    assert close_to(datetime.fromisoformat(body["expires_at"]), now + timedelta(days=7))
    assert body["expired"] is False and body["id"] == second.id
    for days in (0, -1, 366, "30", 1.5, True):
        bad = create(browser, citizen.email, days=days)
        assert bad.status_code == 422 and set(error_of(bad)["fields"]) == {"days"}, days
        conforms(doc, "POST", f"{API}/tokens", bad)
    assert len(rows(session_factory)) == 2


def test_the_longest_lifetime_is_a_setting(settings: Any, citizen: Any) -> None:
    app = create_app(replace(settings, api_token_days=10, api_token_max_days=30))
    with Browser(app) as c:
        doc = c.get(f"{API}/openapi.json").json()
        schema = doc["paths"]["/tokens"]["post"]["requestBody"]["content"]["application/json"]
        assert schema["schema"]["properties"]["days"]["maximum"] == 30
        assert create(c, citizen.email, days=30).status_code == 201
        refused = create(c, citizen.email, days=31)
        assert refused.status_code == 422
        factory = app.state.session_factory
        default = rows(factory)[0]
        assert create(c, citizen.email).status_code == 201
        assert close_to(rows(factory)[1].expires_at, datetime.now(UTC) + timedelta(days=10))
        assert default.expires_at is not None


def test_an_expired_token_is_refused_with_a_clear_401(
    app: Any, browser: Browser, citizen: Any, session_factory: Any
) -> None:
    token = token_of(create(browser, citizen.email))
    assert browser.get(f"{API}/me", headers=auth(token)).status_code == 200
    for expires in (datetime.now(UTC) - timedelta(seconds=1), None):
        with transaction(session_factory) as s:
            s.execute(update(ApiToken).values(expires_at=expires))
        for url in (f"{API}/me", f"{API}/ideas"):
            refused = browser.get(url, headers=auth(token))
            assert refused.status_code == 401, (expires, url)
            assert error_of(refused)["message"] == ru(app, INVALID)
        english = browser.get(f"{API}/me", headers={**auth(token), **EN})
        assert error_of(english)["message"] == INVALID
    with transaction(session_factory) as s:
        user, _stale = api_tokens.user_for_token(s, token)
        assert user is None


# --- the cap -------------------------------------------------------------------------------------


def test_an_account_holds_at_most_the_configured_number_of_tokens(
    settings: Any, citizen: Any, doc: dict[str, Any]
) -> None:
    app = create_app(replace(settings, api_tokens_per_user=2))
    with Browser(app) as client:
        factory = app.state.session_factory
        other = make_user(factory, "other@example.org")
        first = token_of(create(client, citizen.email))
        token_of(create(client, citizen.email))
        refused = create(client, citizen.email)
        assert refused.status_code == 409
        conforms(doc, "POST", f"{API}/tokens", refused)
        assert error_of(refused)["message"] == ru(client.app, api_tokens.TOO_MANY_TOKENS, max=2)
        english = client.post(
            f"{API}/tokens", json={"email": citizen.email, "password": PASSWORD}, headers=EN
        )
        assert "2 access keys (API tokens)" in error_of(english)["message"]
        # the cap is per account
        assert create(client, other.email).status_code == 201
        # an expired token does not count, and is deleted when a new one is made
        with transaction(factory) as s:
            s.execute(
                update(ApiToken)
                .where(ApiToken.token_hash == hash_api_token(first))
                .values(expires_at=datetime.now(UTC) - timedelta(days=1))
            )
        assert create(client, citizen.email).status_code == 201
        mine = [r for r in rows(factory) if r.user_id == citizen.id]
        assert len(mine) == 2
        assert hash_api_token(first) not in {r.token_hash for r in mine}


def test_refusals_at_the_cap_do_not_count_as_failed_logins(settings: Any, citizen: Any) -> None:
    """The password was right: hitting the cap must not lock the owner out (login throttle)."""
    app = create_app(replace(settings, api_tokens_per_user=1, login_free_failures=2))
    with Browser(app) as client:
        token = token_of(create(client, citizen.email))
        for _ in range(4):
            assert create(client, citizen.email).status_code == 409
        token_id = client.get(f"{API}/tokens", headers=auth(token)).json()["items"][0]["id"]
        assert client.delete(f"{API}/tokens/{token_id}", headers=auth(token)).status_code == 200
        assert create(client, citizen.email).status_code == 201


# --- listing: never the secret -------------------------------------------------------------------


def test_the_api_lists_the_callers_tokens_without_the_secret(
    browser: Browser, citizen: Any, session_factory: Any, doc: dict[str, Any]
) -> None:
    other = make_user(session_factory, "other@example.org")
    mine = [token_of(create(browser, citizen.email, name=n)) for n in ("один", "два")]
    theirs = token_of(create(browser, other.email, name="чужой"))
    listed = browser.get(f"{API}/tokens", headers=auth(mine[0]))
    assert listed.status_code == 200
    conforms(doc, "GET", f"{API}/tokens", listed)
    items = listed.json()["items"]
    assert [i["name"] for i in items] == ["два", "один"]  # newest first
    assert [i["hint"] for i in items] == [mine[1][:10], mine[0][:10]]
    assert items[1]["last_used_at"] is not None  # the token that asked was just used
    assert not TOKEN_RE.search(listed.text)
    assert theirs[:10] not in listed.text
    anonymous = browser.get(f"{API}/tokens")
    assert anonymous.status_code == 401
    conforms(doc, "GET", f"{API}/tokens", anonymous)


# --- revoking ------------------------------------------------------------------------------------


def test_a_token_revoked_through_the_api_stops_working_and_only_its_owner_may_revoke_it(
    app: Any, browser: Browser, citizen: Any, session_factory: Any, doc: dict[str, Any]
) -> None:
    other = make_user(session_factory, "other@example.org")
    keep = token_of(create(browser, citizen.email))
    doomed = token_of(create(browser, citizen.email))
    theirs = token_of(create(browser, other.email))
    ids = {r.token_hash: r.id for r in rows(session_factory)}
    doomed_id = ids[hash_api_token(doomed)]
    theirs_id = ids[hash_api_token(theirs)]
    # another account's token, and one that does not exist: 404, and nothing changes
    for token_id in (theirs_id, 999_999):
        response = browser.delete(f"{API}/tokens/{token_id}", headers=auth(keep))
        assert response.status_code == 404
        conforms(doc, "DELETE", f"{API}/tokens/{token_id}", response)
        assert error_of(response)["message"] == ru(app, "API token not found.")
    assert browser.get(f"{API}/me", headers=auth(theirs)).status_code == 200
    revoked = browser.delete(f"{API}/tokens/{doomed_id}", headers=auth(keep))
    assert revoked.status_code == 200 and revoked.json() == {"id": doomed_id, "revoked": True}
    conforms(doc, "DELETE", f"{API}/tokens/{doomed_id}", revoked)
    gone = browser.get(f"{API}/me", headers=auth(doomed))
    assert gone.status_code == 401 and error_of(gone)["message"] == ru(app, INVALID)
    assert browser.delete(f"{API}/tokens/{doomed_id}", headers=auth(keep)).status_code == 404
    # a token may revoke itself
    keep_id = ids[hash_api_token(keep)]
    assert browser.delete(f"{API}/tokens/{keep_id}", headers=auth(keep)).status_code == 200
    assert browser.get(f"{API}/me", headers=auth(keep)).status_code == 401


def test_a_cookie_session_revokes_through_the_api_only_with_the_csrf_header(
    browser: Browser, citizen: Any, session_factory: Any
) -> None:
    token = token_of(create(browser, citizen.email))
    token_id = rows(session_factory)[0].id
    browser.login(citizen.email)
    assert browser.delete(f"{API}/tokens/{token_id}").status_code == 403
    csrf = browser.get(f"{API}/me").json()["csrf_token"]
    response = browser.delete(f"{API}/tokens/{token_id}", headers={"x-csrf-token": csrf})
    assert response.status_code == 200
    assert browser.get(f"{API}/me", headers=auth(token)).status_code == 401


def test_revoke_all_deletes_every_token_of_one_account(
    browser: Browser, citizen: Any, session_factory: Any
) -> None:
    other = make_user(session_factory, "other@example.org")
    mine = [token_of(create(browser, citizen.email)) for _ in range(3)]
    theirs = token_of(create(browser, other.email))
    with transaction(session_factory) as s:
        assert api_tokens.revoke_all(s, citizen.id, reason="password") == 3
        assert api_tokens.revoke_all(s, citizen.id) == 0
    for token in mine:
        assert browser.get(f"{API}/me", headers=auth(token)).status_code == 401
    assert browser.get(f"{API}/me", headers=auth(theirs)).status_code == 200
    with transaction(session_factory) as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action == "api_token.revoke")).all()
        assert len(audit) == 1 and audit[0].details["count"] == 3
        assert audit[0].actor_id is None and audit[0].details["reason"] == "password"


# --- audit ---------------------------------------------------------------------------------------


def test_creating_and_revoking_through_the_api_is_audited_with_address_and_program(
    browser: Browser, citizen: Any, session_factory: Any
) -> None:
    agent = {"user-agent": "my-script/1.0"}
    token = token_of(
        browser.post(
            f"{API}/tokens",
            json={"email": citizen.email, "password": PASSWORD, "name": "ci", "days": 5},
            headers=agent,
        )
    )
    token_id = rows(session_factory)[0].id
    browser.delete(f"{API}/tokens/{token_id}", headers={**auth(token), **agent})
    with transaction(session_factory) as s:
        audit = s.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        events = s.scalars(select(LoginEvent).order_by(LoginEvent.id)).all()
        assert [(a.action, a.actor_id, a.target_type, a.target_id) for a in audit] == [
            ("api_token.create", citizen.id, "api_token", token_id),
            ("api_token.revoke", citizen.id, "api_token", token_id),
        ]
        assert audit[0].details["days"] == 5 and audit[0].details["via"] == "api"
        assert token not in str(audit[0].details) and token[:10] == audit[0].details["hint"]
        assert [(e.kind, e.user_id, e.ip, e.user_agent) for e in events] == [
            ("token_created", citizen.id, "testclient", "my-script/1.0"),
            ("token_revoked", citizen.id, "testclient", "my-script/1.0"),
        ]
        assert events[0].details["token_id"] == token_id


# --- the site ------------------------------------------------------------------------------------


def test_the_tokens_page_needs_a_login_and_csrf(browser: Browser, citizen: Any) -> None:
    page = browser.get("/account/tokens")
    assert page.status_code == 303 and "/login" in page.headers["location"]
    assert browser.submit("/account/tokens/new", {"name": "x"}).status_code in (401, 403)
    browser.login(citizen.email)
    assert browser.post("/account/tokens/new", data={"name": "x"}).status_code == 403
    assert (
        browser.post("/account/tokens/new", data={"name": "x", "csrf_token": "forged"}).status_code
        == 403
    )
    assert browser.post("/account/tokens/1/revoke", data={}).status_code == 403


def test_the_site_creates_shows_once_lists_and_revokes_a_token(
    browser: Browser, citizen: Any, session_factory: Any
) -> None:
    browser.login(citizen.email)
    page = browser.get("/account/tokens", headers=EN)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "You have no access keys." in page.text
    assert 'href="/account/security"' in page.text
    created = browser.submit(
        "/account/tokens/new", {"name": "<b>ноутбук</b>", "days": "30"}, headers=EN
    )
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    token = TOKEN_RE.search(created.text)
    assert token is not None, created.text[:2000]
    assert "shown only this once" in created.text
    assert "&lt;b&gt;ноутбук&lt;/b&gt;" in created.text and "<b>ноутбук" not in created.text
    assert browser.get(f"{API}/me", headers=auth(token.group())).status_code == 200
    row = rows(session_factory)[0]
    assert close_to(row.expires_at, datetime.now(UTC) + timedelta(days=30))
    # listed afterwards by its hint only: the secret is never shown again
    listed = browser.get("/account/tokens", headers=EN)
    assert token.group() not in listed.text and not TOKEN_RE.search(listed.text)
    assert f"{token.group()[:10]}…" in listed.text and "Works until" in listed.text
    assert "Never used yet" in created.text and "Last used" in listed.text
    revoked = browser.submit(f"/account/tokens/{row.id}/revoke", headers=EN)
    assert revoked.status_code == 303 and revoked.headers["location"] == "/account/tokens"
    assert "was revoked" in browser.get("/account/tokens", headers=EN).text
    assert browser.get(f"{API}/me", headers=auth(token.group())).status_code == 401
    with transaction(session_factory) as s:
        audit = s.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
        events = s.scalars(select(LoginEvent).where(LoginEvent.kind.like("token_%"))).all()
    assert audit == ["api_token.create", "api_token.revoke"]
    assert [(e.kind, e.ip) for e in events] == [
        ("token_created", "testclient"),
        ("token_revoked", "testclient"),
    ]


def test_the_site_refuses_bad_input_and_other_peoples_tokens(
    app: Any, settings: Any, browser: Browser, citizen: Any, session_factory: Any
) -> None:
    other = make_user(session_factory, "other@example.org")
    theirs = token_of(create(browser, other.email))
    theirs_id = rows(session_factory)[0].id
    browser.login(citizen.email)
    for days in ("0", "366", "abc", "1e3", "9" * 30):
        bad = browser.submit("/account/tokens/new", {"name": "x", "days": days})
        assert bad.status_code == 422, days
        assert ru(app, api_tokens.DAYS_RANGE, max=365) in bad.text
    bidi = browser.submit("/account/tokens/new", {"name": "ноут\u202eбук", "days": "30"})
    assert bidi.status_code == 422
    for token_id in (theirs_id, 999_999):
        assert browser.submit(f"/account/tokens/{token_id}/revoke").status_code == 404
    assert browser.get(f"{API}/me", headers=auth(theirs)).status_code == 200
    listed = browser.get("/account/tokens")
    assert theirs[:10] not in listed.text
    assert len(rows(session_factory)) == 1


def test_the_site_says_when_the_cap_is_reached(settings: Any, citizen: Any) -> None:
    with Browser(create_app(replace(settings, api_tokens_per_user=1))) as client:
        client.login(citizen.email)
        assert client.submit("/account/tokens/new", {"name": "a"}).status_code == 200
        refused = client.submit("/account/tokens/new", {"name": "b"}, headers=EN)
        assert refused.status_code == 409
        assert "1 access keys (API tokens), the most one account may have" in refused.text
        assert not TOKEN_RE.search(refused.text)


def test_the_account_page_links_to_the_tokens_page(browser: Browser, citizen: Any) -> None:
    browser.login(citizen.email)
    page = browser.get("/account/security")
    assert page.status_code == 200 and 'href="/account/tokens"' in page.text


# --- the command line ----------------------------------------------------------------------------


def test_the_cli_creates_lists_and_revokes_tokens(
    capsys: pytest.CaptureFixture[str], settings: Any, citizen: Any, session_factory: Any
) -> None:
    url = settings.database_url
    code, out, err = cli(capsys, url, "user", "token", citizen.email, "--name", "ci", "--days", "3")
    assert code == 0, err
    token = out.strip()
    assert TOKEN_RE.fullmatch(token) and "shown only once" in err and "expires on" in err
    row = rows(session_factory)[0]
    assert close_to(row.expires_at, datetime.now(UTC) + timedelta(days=3))
    second = cli(capsys, url, "user", "token", citizen.email)[1].strip()
    code, out, _err = cli(capsys, url, "user", "tokens", citizen.email)
    assert code == 0 and "ci" in out and f"{token[:10]}…" in out and str(row.id) in out
    assert token not in out and second not in out and not TOKEN_RE.search(out)
    code, out, _err = cli(capsys, url, "user", "revoke-token", citizen.email, "--id", str(row.id))
    assert code == 0 and f"Revoked API token {row.id}" in out
    with Browser(create_app(settings)) as client:
        assert client.get(f"{API}/me", headers=auth(token)).status_code == 401
        assert client.get(f"{API}/me", headers=auth(second)).status_code == 200
        code, out, _err = cli(capsys, url, "user", "revoke-token", citizen.email, "--all")
        assert code == 0 and "Revoked 1 API token of" in out
        assert client.get(f"{API}/me", headers=auth(second)).status_code == 401
    code, out, _err = cli(capsys, url, "user", "tokens", citizen.email)
    assert code == 0 and "has no API tokens" in out
    with transaction(session_factory) as s:
        audit = s.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        events = s.scalars(select(LoginEvent).order_by(LoginEvent.id)).all()
    assert [(a.action, a.actor_id) for a in audit] == [
        ("api_token.create", None),
        ("api_token.create", None),
        ("api_token.revoke", None),
        ("api_token.revoke", None),
    ]
    assert all(a.details["via"] == "cli" for a in audit)
    assert [e.kind for e in events] == ["token_created"] * 2 + ["token_revoked"] * 2


def test_the_cli_explains_token_errors(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    browser: Browser,
    citizen: Any,
    session_factory: Any,
) -> None:
    url = settings.database_url
    other = make_user(session_factory, "other@example.org")
    theirs = token_of(create(browser, other.email))
    theirs_id = rows(session_factory)[0].id
    for args in (
        ["user", "token", citizen.email, "--days", "0"],
        ["user", "token", citizen.email, "--days", "366"],
        ["user", "revoke-token", citizen.email, "--id", str(theirs_id)],
        ["user", "revoke-token", citizen.email, "--id", str(2**40)],
        ["user", "tokens", "nobody@example.org"],
    ):
        code, _out, err = cli(capsys, url, *args)
        assert code == 2 and err.startswith("veche: error: "), (args, err)
    assert (
        "days: Choose a lifetime from 1 to 365 days."
        in cli(capsys, url, "user", "token", citizen.email, "--days", "0")[2]
    )
    assert len(rows(session_factory)) == 1 and theirs
    monkeypatch.setenv("VECHE_API_TOKENS_PER_USER", "1")
    assert cli(capsys, url, "user", "token", citizen.email)[0] == 0
    code, _out, err = cli(capsys, url, "user", "token", citizen.email)
    assert code == 2 and "already has 1 API tokens" in err and "revoke-token" in err
    with pytest.raises(SystemExit) as caught:
        main(["--database-url", url, "user", "revoke-token", citizen.email])
    assert caught.value.code == 2
    assert "one of the arguments --id --all is required" in capsys.readouterr().err
    for command in ("token", "tokens", "revoke-token"):
        with pytest.raises(SystemExit):
            main(["user", command, "--help"])
        assert "usage: veche user" in capsys.readouterr().out


def test_every_control_of_the_tokens_page_has_a_label(
    browser: Browser, citizen: Any, session_factory: Any
) -> None:
    from tests.test_accessibility import Controls

    token_of(create(browser, citizen.email, name="старый"))
    browser.login(citizen.email)
    shown = browser.submit("/account/tokens/new", {"name": "новый", "days": "7"})
    refused = browser.submit("/account/tokens/new", {"name": "x", "days": "0"})
    for html in (browser.get("/account/tokens").text, shown.text, refused.text):
        parser = Controls()
        parser.feed(html)
        assert 'id="token-days"' in html and 'id="token-name"' in html
        for control in parser.controls:
            assert control.get("aria-label") or control.get("id") in parser.labels, control
        assert 'name="viewport"' in html
