"""The notifications page: sentences in the viewer's language, links, read marks, the e-mail
preference, and the unread badge in the navigation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.notification_helpers import add_idea, notify, notify_supporters, rows, support
from webapp.kernel.dto import CurrentUser
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import User, utcnow

CANONICAL = "Bicycle paths downtown"
TITLE = "Bike lanes on Tverskaya street"

# kind, data, fragments in English, fragments in Russian (as they appear in the HTML)
KINDS: list[tuple[str, dict[str, Any], list[str], list[str]]] = [
    (
        "merged",
        {"title": TITLE, "canonical_title": CANONICAL},
        ["was merged into", "your support now counts there once — you can withdraw it"],
        ["объединена с идеей", "ваша поддержка теперь засчитана там один раз"],
    ),
    (
        "status",
        {"title": TITLE, "status": "accepted", "previous_status": "under_review"},
        ["changed from Under review to Accepted."],
        ["был «На рассмотрении», стал «Принята»."],
    ),
    (
        "response",
        {"title": TITLE, "status": "in_progress", "body": "We will paint the lanes in May."},
        ["Officials answered", "(status: In progress): We will paint the lanes in May."],
        ["Официальный ответ на идею", "(статус: «Выполняется»): We will paint the lanes in May."],
    ),
    (
        "hidden",
        {"title": TITLE, "reason": "Personal data in the text"},
        ["was hidden by a moderator. Reason: Personal data in the text"],
        ["Модератор скрыл вашу идею", "Причина: Personal data in the text"],
    ),
    (
        "unhidden",
        {"title": TITLE},
        ["is visible again."],
        ["снова видна всем."],
    ),
    (
        "comment_hidden",
        {"title": TITLE, "auto": True, "excerpt": "Paint them green"},
        ["Your comment on", "was hidden automatically after several reports"],
        ["Ваш комментарий к идее", "скрыт автоматически после нескольких жалоб"],
    ),
    (
        "comment_unhidden",
        {"title": TITLE, "reason": "No rule was broken", "excerpt": "Paint them green"},
        ["is visible again. Moderator's note: No rule was broken"],
        ["снова виден всем. Комментарий модератора: No rule was broken"],
    ),
]


def entries(html: str) -> list[int]:
    return [int(m) for m in re.findall(r'id="notification-(\d+)"', html)]


@pytest.fixture
def reader(session_factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(session_factory, "reader@example.org", name="Vera")


@pytest.fixture
def idea_ids(session_factory: sessionmaker[Session], reader: CurrentUser) -> tuple[int, int]:
    author = make_user(session_factory, "author@example.org", name="Pavel")
    return add_idea(session_factory, author, TITLE), add_idea(session_factory, author, CANONICAL)


@pytest.mark.parametrize("lang", ["ru", "en"])
@pytest.mark.parametrize(("kind", "data", "en", "ru"), KINDS, ids=[k[0] for k in KINDS])
def test_each_kind_reads_as_a_sentence_in_the_viewers_language(
    browser: Browser,
    session_factory: sessionmaker[Session],
    reader: CurrentUser,
    idea_ids: tuple[int, int],
    lang: str,
    kind: str,
    data: dict[str, Any],
    en: list[str],
    ru: list[str],
) -> None:
    member, canonical = idea_ids
    if kind == "merged":
        data = {**data, "canonical_id": canonical}
    notify(session_factory, [reader.id], kind, member, data)
    (row,) = rows(session_factory, reader.id)
    browser.login(reader.email)
    if lang == "en":
        browser.submit("/language", {"lang": "en", "next": "/"})
    page = browser.get("/notifications")
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in page.text
    for fragment in en if lang == "en" else ru:
        assert fragment in page.text
    for fragment in ru if lang == "en" else en:
        assert fragment not in page.text
    # the title links through the notification (which marks it read) to the idea
    assert f'<a href="/notifications/{row.id}/open" lang="en">{TITLE}</a>' in page.text
    if kind == "merged":
        assert f'<a href="/notifications/{row.id}/open" lang="en">{CANONICAL}</a>' in page.text
    assert "notification-unread" in page.text


def test_a_merge_of_several_ideas_quotes_each_title(
    browser: Browser,
    session_factory: sessionmaker[Session],
    reader: CurrentUser,
    idea_ids: tuple[int, int],
) -> None:
    member, canonical = idea_ids
    data = {  # as services.merges writes it
        "title": "”, “".join([TITLE, "Cycle track"]),
        "canonical_id": canonical,
        "canonical_title": CANONICAL,
        "merged_ids": [member, member + 100],
        "merged_titles": [TITLE, "Cycle track"],
    }
    notify(session_factory, [reader.id], "merged", canonical, data)
    (row,) = rows(session_factory, reader.id)
    browser.login(reader.email)
    page = browser.get("/notifications")
    link = f'<a href="/notifications/{row.id}/open" lang="en">'  # the titles carry their language
    assert (
        f"Идеи «{link}{TITLE}», «Cycle track</a>» объединены с идеей «{link}{CANONICAL}</a>»"
        in page.text
    )
    browser.submit("/language", {"lang": "en", "next": "/"})
    page = browser.get("/notifications")
    assert f"The ideas “{link}{TITLE}”, “Cycle track</a>” were merged into" in page.text


def test_the_hidden_comment_is_quoted(
    browser: Browser,
    session_factory: sessionmaker[Session],
    reader: CurrentUser,
    idea_ids: tuple[int, int],
) -> None:
    notify(
        session_factory,
        [reader.id],
        "comment_hidden",
        idea_ids[0],
        {"title": TITLE, "reason": "Insults", "excerpt": "You <b>all</b> are wrong"},
    )
    browser.login(reader.email)
    page = browser.get("/notifications")
    assert (
        '<blockquote class="notification-quote">You &lt;b&gt;all&lt;/b&gt; are wrong</blockquote>'
        in page.text
    )


def test_missing_data_still_reads_well(
    browser: Browser,
    session_factory: sessionmaker[Session],
    reader: CurrentUser,
    idea_ids: tuple[int, int],
) -> None:
    member, _ = idea_ids
    notify(session_factory, [reader.id], "status", member, {})
    notify(session_factory, [reader.id], "merged", None, {"canonical_id": "not-a-number"})
    # data of the wrong types (another writer, a hand-edited row) reads as missing data
    notify(session_factory, [reader.id], "merged", member, {"merged_titles": 7, "title": None})
    notify(session_factory, [reader.id], "response", member, {"status": ["x"], "body": {}})
    browser.login(reader.email)
    browser.submit("/language", {"lang": "en", "next": "/"})
    page = browser.get("/notifications")
    assert page.status_code == 200
    assert f"idea No. {member}</a>” changed." in page.text
    assert "“untitled idea” was merged into a similar idea." in page.text
    assert f"idea No. {member}</a>” was merged into a similar idea." in page.text
    assert f"idea No. {member}</a>”." in page.text  # officials answered, with no answer text


def test_hostile_titles_and_reasons_are_escaped(
    browser: Browser,
    session_factory: sessionmaker[Session],
    reader: CurrentUser,
    idea_ids: tuple[int, int],
) -> None:
    member, _ = idea_ids
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    notify(
        session_factory, [reader.id], "hidden", member, {"title": evil, "reason": f"{evil} & more"}
    )
    browser.login(reader.email)
    page = browser.get("/notifications")
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert "&amp; more" in page.text


def test_newest_first_and_paginated(
    browser: Browser,
    session_factory: sessionmaker[Session],
    reader: CurrentUser,
    idea_ids: tuple[int, int],
) -> None:
    member, _ = idea_ids
    for n in range(23):
        notify(session_factory, [reader.id], "unhidden", member, {"title": f"Idea number {n}"})
    ids = [r.id for r in rows(session_factory, reader.id)]
    browser.login(reader.email)
    first = browser.get("/notifications")
    assert entries(first.text) == sorted(ids, reverse=True)[:20]
    assert 'rel="next" href="/notifications?page=2"' in first.text
    second = browser.get("/notifications?page=2")
    assert entries(second.text) == sorted(ids, reverse=True)[20:]
    assert browser.get("/notifications?page=oops").status_code == 200


def test_mark_one_read_needs_csrf_and_own_notification(
    browser: Browser,
    session_factory: sessionmaker[Session],
    reader: CurrentUser,
    idea_ids: tuple[int, int],
) -> None:
    member, _ = idea_ids
    other = make_user(session_factory, "other@example.org", name="Oleg")
    notify(session_factory, [reader.id, other.id], "unhidden", member, {"title": TITLE})
    mine = rows(session_factory, reader.id)[0]
    theirs = rows(session_factory, other.id)[0]
    browser.login(reader.email)

    refused = browser.post(f"/notifications/{mine.id}/read", data={})
    assert refused.status_code == 403
    assert rows(session_factory, reader.id)[0].read_at is None

    assert browser.submit(f"/notifications/{theirs.id}/read").status_code == 404
    assert rows(session_factory, other.id)[0].read_at is None

    done = browser.submit(f"/notifications/{mine.id}/read", {"page": "2"})
    assert done.status_code == 303 and done.headers["location"] == "/notifications?page=2"
    assert rows(session_factory, reader.id)[0].read_at is not None
    page = browser.get("/notifications")
    assert "notification-unread" not in page.text
    assert f'action="/notifications/{mine.id}/read"' not in page.text


def test_mark_all_read_leaves_what_arrived_after_the_page(
    browser: Browser,
    session_factory: sessionmaker[Session],
    reader: CurrentUser,
    idea_ids: tuple[int, int],
) -> None:
    member, _ = idea_ids
    notify(session_factory, [reader.id], "unhidden", member, {"title": "One"})
    notify(session_factory, [reader.id], "unhidden", member, {"title": "Two"})
    browser.login(reader.email)
    page = browser.get("/notifications")
    up_to = re.search(r'name="up_to" value="(\d+)"', page.text)
    assert up_to is not None
    notify(session_factory, [reader.id], "unhidden", member, {"title": "Three"})

    assert (
        browser.post("/notifications/read-all", data={"up_to": up_to.group(1)}).status_code == 403
    )
    assert all(r.read_at is None for r in rows(session_factory, reader.id))

    done = browser.submit("/notifications/read-all", {"up_to": up_to.group(1)})
    assert done.status_code == 303
    state = {r.data["title"]: r.read_at is not None for r in rows(session_factory, reader.id)}
    assert state == {"One": True, "Two": True, "Three": False}
    assert "Все уведомления отмечены как прочитанные." in browser.get("/notifications").text


def test_opening_a_notification_marks_it_read_and_goes_to_the_idea(
    browser: Browser,
    session_factory: sessionmaker[Session],
    reader: CurrentUser,
    idea_ids: tuple[int, int],
) -> None:
    member, canonical = idea_ids
    notify(
        session_factory,
        [reader.id],
        "merged",
        member,
        {"title": TITLE, "canonical_id": canonical, "canonical_title": CANONICAL},
    )
    notify(session_factory, [reader.id], "hidden", None, {"title": "Gone"})
    merged, orphan = rows(session_factory, reader.id)
    browser.login(reader.email)
    opened = browser.get(f"/notifications/{merged.id}/open")
    assert opened.status_code == 303 and opened.headers["location"] == f"/ideas/{canonical}"
    assert rows(session_factory, reader.id)[0].read_at is not None
    back = browser.get(f"/notifications/{orphan.id}/open")
    assert back.status_code == 303 and back.headers["location"] == "/notifications"
    other = make_user(session_factory, "other@example.org", name="Oleg")
    with Browser(browser.app) as stranger:
        stranger.login(other.email)
        assert stranger.get(f"/notifications/{merged.id}/open").status_code == 404


def test_email_preference_is_saved_and_skips_waiting_emails(
    browser: Browser,
    session_factory: sessionmaker[Session],
    reader: CurrentUser,
    idea_ids: tuple[int, int],
) -> None:
    member, _ = idea_ids
    support(session_factory, reader, member)
    notify_supporters(session_factory, [member], "status", member, {"title": TITLE}, email=True)
    assert [r.email_state for r in rows(session_factory, reader.id)] == ["pending"]
    browser.login(reader.email)
    page = browser.get("/notifications")
    assert re.search(r'id="email-on" name="email_notifications" value="on" checked', page.text)
    assert "Сейчас сайт не отправляет письма" in page.text  # no SMTP in these settings

    assert (
        browser.post("/notifications/email", data={"email_notifications": "off"}).status_code == 403
    )
    bad = browser.submit("/notifications/email", {"email_notifications": "maybe"})
    assert bad.status_code == 422

    off = browser.submit("/notifications/email", {"email_notifications": "off"})
    assert off.status_code == 303
    with transaction(session_factory) as session:
        assert session.scalar(select(User.email_notifications).where(User.id == reader.id)) is False
    assert [r.email_state for r in rows(session_factory, reader.id)] == ["skipped"]
    page = browser.get("/notifications")
    assert "Мы больше не будем присылать уведомления на почту." in page.text
    assert re.search(r'id="email-off" name="email_notifications" value="off" checked', page.text)
    # new notifications for an opted-out user are not queued for e-mail
    notify_supporters(session_factory, [member], "status", member, {"title": TITLE}, email=True)
    assert [r.email_state for r in rows(session_factory, reader.id)] == ["skipped", "skipped"]

    browser.submit("/notifications/email", {"email_notifications": "on"})
    with transaction(session_factory) as session:
        assert session.scalar(select(User.email_notifications).where(User.id == reader.id)) is True


def test_empty_state_explains_what_will_appear(browser: Browser, reader: CurrentUser) -> None:
    browser.login(reader.email)
    page = browser.get("/notifications")
    assert "Уведомлений пока нет" in page.text
    assert "Здесь появятся новости об идеях" in page.text
    assert "Отметить все как прочитанные" not in page.text


def test_pages_need_a_signed_in_user(
    browser: Browser,
    session_factory: sessionmaker[Session],
    reader: CurrentUser,
    idea_ids: tuple[int, int],
) -> None:
    notify(session_factory, [reader.id], "unhidden", idea_ids[0], {"title": TITLE})
    row = rows(session_factory, reader.id)[0]
    page = browser.get("/notifications")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fnotifications"
    assert browser.submit(f"/notifications/{row.id}/read").status_code == 401
    assert browser.submit("/notifications/read-all").status_code == 401
    assert browser.submit("/notifications/email", {"email_notifications": "off"}).status_code == 401
    assert rows(session_factory, reader.id)[0].read_at is None


def test_unread_badge_counts_with_one_query_and_none_for_visitors(
    app: Starlette,
    browser: Browser,
    session_factory: sessionmaker[Session],
    reader: CurrentUser,
    idea_ids: tuple[int, int],
) -> None:
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.lower())

    event.listen(app.state.engine, "before_cursor_execute", seen)
    try:
        anonymous = browser.get("/")
        assert anonymous.status_code == 200
        assert 'class="nav-notifications"' not in anonymous.text
        assert not [s for s in statements if "notifications" in s]

        for n in range(3):
            notify(session_factory, [reader.id], "unhidden", idea_ids[0], {"title": f"T {n}"})
        browser.login(reader.email)
        statements.clear()
        page = browser.get("/")
        assert re.search(
            r'class="count-badge">3<span class="visually-hidden"> непрочитанных', page.text
        )
        assert len([s for s in statements if "from notifications" in s]) == 1
    finally:
        event.remove(app.state.engine, "before_cursor_execute", seen)

    browser.submit("/notifications/read-all")
    page = browser.get("/")
    assert 'class="nav-notifications"' in page.text and "count-badge" not in page.text


# --- merges and unmerges --------------------------------------------------------------------


def _merge(factory: sessionmaker[Session], mod: CurrentUser, canonical: int, member: int) -> int:
    from webapp.dedup import merges

    with transaction(factory) as session:
        return merges.merge(session, mod, canonical, [member], reason="Same idea", email=True).id


def _unmerge(factory: sessionmaker[Session], mod: CurrentUser, merge_id: int) -> None:
    from webapp.dedup import merges

    with transaction(factory) as session:
        merges.unmerge(session, mod, merge_id, reason="Not the same after all", email=True)


def _english_inbox(browser: Browser, user: CurrentUser) -> str:
    browser.login(user.email)
    browser.submit("/language", {"lang": "en", "next": "/"})
    page = browser.get("/notifications")
    assert page.status_code == 200
    return str(page.text)


def _sentences(html: str) -> list[str]:
    """Each notification's sentence as text, newest first."""
    found = re.findall(r'<p class="notification-text">(.*?)</p>', html, re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", s).split()) for s in found]


def test_an_unmerge_tells_exactly_those_told_about_the_merge(
    session_factory: sessionmaker[Session], idea_ids: tuple[int, int]
) -> None:
    member, canonical = idea_ids
    mod = make_user(session_factory, "mod@example.org", name="Mod", role="moderator")
    early = make_user(session_factory, "early@example.org", name="Early")
    late = make_user(session_factory, "late@example.org", name="Late")
    other = make_user(session_factory, "other@example.org", name="Other")
    support(session_factory, early, member)
    support(session_factory, other, canonical)
    merge_id = _merge(session_factory, mod, canonical, member)
    support(session_factory, late, canonical)  # after the merge: never told about it
    told = {n.user_id for n in rows(session_factory) if n.kind == "merged"}
    _unmerge(session_factory, mod, merge_id)
    unmerged = [n for n in rows(session_factory) if n.kind == "unmerged"]
    assert {n.user_id for n in unmerged} == told
    assert early.id in told and late.id not in told and other.id not in told
    assert mod.id not in told
    (mine,) = [n for n in unmerged if n.user_id == early.id]
    assert mine.idea_id == member and mine.email_state == "pending"
    assert mine.data["merge_id"] == merge_id and mine.data["canonical_title"] == CANONICAL


def test_after_merge_unmerge_merge_every_notification_reads_right(
    browser: Browser, session_factory: sessionmaker[Session], idea_ids: tuple[int, int]
) -> None:
    member, canonical = idea_ids
    mod = make_user(session_factory, "mod@example.org", name="Mod", role="moderator")
    fan = make_user(session_factory, "fan@example.org", name="Fan")
    support(session_factory, fan, member)
    first = _merge(session_factory, mod, canonical, member)
    html = _english_inbox(browser, fan)
    (sentence,) = _sentences(html)
    assert f"“{TITLE}” was merged into “{CANONICAL}”. If you supported it" in sentence

    _unmerge(session_factory, mod, first)
    html = _english_inbox(browser, fan)
    unmerged, merged = _sentences(html)
    assert "undid the merge" in unmerged and "is a separate idea again" in unmerged
    assert "but the merge was undone later" in merged
    assert "now counts there" not in html  # nobody reads the merge as current
    (old,) = [n for n in rows(session_factory, fan.id) if n.kind == "merged"]
    opened = browser.get(f"/notifications/{old.id}/open")
    assert opened.headers["location"] == f"/ideas/{member}"  # the idea, separate again

    _merge(session_factory, mod, canonical, member)  # merged again: a new merge, news again
    html = _english_inbox(browser, fan)
    again, unmerged, merged = _sentences(html)
    assert "If you supported it, your support now counts there once" in again
    assert "but the merge was undone later" in merged and "undid the merge" in unmerged
    new = max(n.id for n in rows(session_factory, fan.id) if n.kind == "merged")
    opened = browser.get(f"/notifications/{new}/open")
    assert opened.headers["location"] == f"/ideas/{canonical}"


def test_a_merge_email_not_sent_before_the_unmerge_tells_it_as_undone(
    app: Starlette, session_factory: sessionmaker[Session], idea_ids: tuple[int, int]
) -> None:
    from webapp.notifications.mailer import Mailer
    from webapp.notifications.views.email import EmailTemplates

    member, canonical = idea_ids
    mod = make_user(session_factory, "mod@example.org", name="Mod", role="moderator")
    fan = make_user(session_factory, "fan@example.org", name="Fan")
    with transaction(session_factory) as session:
        session.get_one(User, fan.id).locale = "en"
    support(session_factory, fan, member)
    _unmerge(session_factory, mod, _merge(session_factory, mod, canonical, member))
    mailer = Mailer(
        app.state.settings,
        session_factory,
        app.state.translators,
        app.url_path_for,
        templates=EmailTemplates(app.state.jinja),
    )
    outgoing, _skipped = mailer.claim(utcnow())
    (mail,) = [o for o in outgoing if o.user_id == fan.id]
    text = mailer.compose(mail).get_body(preferencelist=("plain",))
    assert text is not None
    body = text.get_content()
    assert "but the merge was undone later" in body and "undid the merge" in body
    assert "now counts there" not in body
