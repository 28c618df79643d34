"""Reports, the moderation queue, hiding and unhiding, auto-hide, blocking (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from webapp.app import create_app
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import NotFound
from webapp.kernel.search_text import search_document
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    AuditLog,
    Category,
    Comment,
    Idea,
    Notification,
    RankingEvent,
    Report,
    User,
    utcnow,
)
from webapp.moderation import moderation, reports

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def add_idea(
    session_factory: Any, author_id: int | None, title: str, status: str = "published"
) -> int:
    body = f"{title}: подробное описание предложения для жителей района."
    with transaction(session_factory) as s:
        cat = s.scalar(select(Category.id).where(Category.slug == "parks"))
        idea = Idea(
            title=title,
            body=body,
            category_id=cat,
            author_id=author_id,
            status=status,
            search_doc=search_document(title, body),
        )
        s.add(idea)
        s.flush()
        return idea.id


def add_comment(session_factory: Any, idea_id: int, author_id: int, body: str) -> int:
    with transaction(session_factory) as s:
        c = Comment(idea_id=idea_id, author_id=author_id, body=body)
        s.add(c)
        s.get_one(Idea, idea_id).comment_count += 1
        s.flush()
        return c.id


def people(session_factory: Any, n: int, prefix: str = "r") -> list[Any]:
    """Established reporters: verified residents with accounts two months old, so each report
    weighs 1 (fresh accounts weigh nothing: tests/test_report_weights.py)."""
    names = ["Анна", "Борис", "Вера", "Глеб", "Дарья", "Егор", "Жанна", "Зоя", "Илья", "Кира"]
    made = [
        make_user(
            session_factory,
            f"{prefix}{i}@example.org",
            name=f"{names[i % 10]} {prefix}{i}",
            verified=True,
        )
        for i in range(n)
    ]
    with transaction(session_factory) as s:
        s.execute(
            update(User)
            .where(User.id.in_([u.id for u in made]))
            .values(created_at=utcnow() - timedelta(days=60))
        )
    return made


def idea_row(session_factory: Any, idea_id: int) -> Idea:
    with transaction(session_factory) as s:
        idea = s.get_one(Idea, idea_id)
        s.expunge(idea)
        return idea


def audit_rows(session_factory: Any, action: str) -> list[AuditLog]:
    with transaction(session_factory) as s:
        rows = list(s.scalars(select(AuditLog).where(AuditLog.action == action)))
        for r in rows:
            s.expunge(r)
        return rows


def notes(session_factory: Any, user_id: int, kind: str | None = None) -> list[Notification]:
    with transaction(session_factory) as s:
        q = select(Notification).where(Notification.user_id == user_id)
        if kind:
            q = q.where(Notification.kind == kind)
        rows = list(s.scalars(q.order_by(Notification.id)))
        for r in rows:
            s.expunge(r)
        return rows


def report_as(
    app: Any, email: str, idea_id: int, reason: str, comment_id: int | None = None
) -> Any:
    with Browser(app) as b:
        b.login(email)
        data = {"reason": reason}
        if comment_id is not None:
            data["comment_id"] = str(comment_id)
        return b.submit(f"/ideas/{idea_id}/report", data)


@pytest.fixture
def moderator(session_factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(session_factory, "moder@example.org", role="moderator", name="Мария Модер")


@pytest.fixture
def author(session_factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(session_factory, "author@example.org", name="Алексей Автор")


# --- reporting and auto-hide -----------------------------------------------------------------


def test_reports_from_distinct_citizens_hide_an_idea_automatically_pending_review(
    app: Starlette,
    session_factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    idea = add_idea(session_factory, author.id, "Спорная идея про парк", status="accepted")
    reporters = people(session_factory, 3)
    threshold = app.state.settings.auto_hide_reports
    assert threshold == 3
    for r in reporters[: threshold - 1]:
        assert report_as(app, r.email, idea, "Оскорбления в тексте").status_code == 303
    assert idea_row(session_factory, idea).status == "accepted"  # below the threshold
    # the same citizen twice counts once
    report_as(app, reporters[0].email, idea, "Ещё раз то же самое")
    assert idea_row(session_factory, idea).status == "accepted"
    report_as(app, reporters[2].email, idea, "Это реклама")
    row = idea_row(session_factory, idea)
    assert (row.status, row.status_before_hide, row.auto_hidden) == ("hidden", "accepted", True)
    assert row.hidden_reason == moderation.AUTO_HIDE_REASON
    # the reports stay open: the idea waits for a moderator
    with transaction(session_factory) as s:
        assert s.scalar(select(func.count()).where(Report.resolved_at.is_(None))) == 3
        assert s.scalar(
            select(func.count()).where(RankingEvent.kind == "idea", RankingEvent.idea_id == idea)
        )
    (entry,) = audit_rows(session_factory, "idea.hide")
    assert entry.actor_id is None and entry.target_id == idea
    assert entry.details["before"]["status"] == "accepted"
    assert entry.details["after"]["status"] == "hidden" and entry.details["reports"] == 3
    (note,) = notes(session_factory, author.id, "hidden")
    assert note.data["auto"] is True and note.idea_id == idea
    # hidden: 404 for others, the author sees why, moderators see it and the forms
    with Browser(app) as b:
        assert b.get(f"/ideas/{idea}").status_code == 404
        b.login(reporters[0].email)
        assert b.get(f"/ideas/{idea}").status_code == 404
    with Browser(app) as b:
        b.login(author.email)
        response = b.get(f"/ideas/{idea}")
        assert response.status_code == 200
        assert "Ваша идея скрыта" in response.text and "модератор рассмотрит" in response.text
        mine = b.get("/my/ideas").text
        assert "Спорная идея про парк" in mine and "Скрыта" in mine
        assert "модератор рассмотрит" in mine
    with Browser(app) as b:
        b.login(moderator.email)
        page = b.get(f"/ideas/{idea}").text
        assert "На эту идею пожаловались 3 жителя." in page
        assert f'action="/moderation/ideas/{idea}/unhide"' in page


def test_auto_hide_threshold_zero_never_hides(
    settings: Settings, session_factory: sessionmaker[Session], author: CurrentUser
) -> None:
    app = create_app(replace(settings, auto_hide_reports=0))
    try:
        idea = add_idea(app.state.session_factory, author.id, "Идея без автоскрытия")
        for r in people(app.state.session_factory, 4):
            assert report_as(app, r.email, idea, "Мне не нравится").status_code == 303
        assert idea_row(app.state.session_factory, idea).status == "published"
    finally:
        app.state.engine.dispose()


def test_reports_of_blocked_accounts_do_not_count(
    session_factory: sessionmaker[Session], author: CurrentUser, moderator: CurrentUser
) -> None:
    idea = add_idea(session_factory, author.id, "Идея под атакой троллей")
    trolls = people(session_factory, 3, prefix="t")
    with transaction(session_factory) as s:
        for t in trolls[:2]:
            reports.report(s, t, reason="Фейк", idea_id=idea, auto_hide=3)
        s.get_one(User, trolls[0].id).blocked = True
    with transaction(session_factory) as s:
        reports.report(s, trolls[2], reason="Фейк", idea_id=idea, auto_hide=3)
    assert idea_row(session_factory, idea).status == "published"


def test_a_citizen_reports_a_comment_from_the_form_under_it(
    app: Starlette,
    session_factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    idea = add_idea(session_factory, author.id, "Идея с комментариями")
    writer = make_user(session_factory, "writer@example.org", name="Пётр Писатель")
    comment = add_comment(session_factory, idea, writer.id, "Грубый комментарий")
    reader = make_user(session_factory, "reader@example.org", name="Ольга Читатель")
    with Browser(app) as b:
        b.login(reader.email)
        page = b.get(f"/ideas/{idea}").text
        assert f'name="comment_id" value="{comment}"' in page
        r = b.submit(f"/ideas/{idea}/report", {"reason": "Хамство", "comment_id": str(comment)})
        assert r.status_code == 303 and r.headers["location"].endswith(f"#comment-{comment}")
        # a comment of another idea cannot be reported through this idea's page
        other = add_idea(session_factory, author.id, "Другая идея")
        r = b.submit(f"/ideas/{other}/report", {"reason": "Хамство", "comment_id": str(comment)})
        assert r.status_code == 404
        # a too short reason is refused with a message, nothing stored
        b.submit(f"/ideas/{idea}/report", {"reason": "!", "comment_id": str(comment)})
        assert "Жалоба не отправлена" in b.get(f"/ideas/{idea}").text
    with Browser(app) as b:  # the writer gets no report form under their own comment
        b.login(writer.email)
        assert f'name="comment_id" value="{comment}"' not in b.get(f"/ideas/{idea}").text
    with transaction(session_factory) as s:
        (rep,) = s.scalars(select(Report)).all()
        assert (rep.comment_id, rep.idea_id, rep.reporter_id) == (comment, None, reader.id)


def test_comments_hide_automatically_and_only_their_author_sees_why(
    app: Starlette, session_factory: sessionmaker[Session], author: CurrentUser
) -> None:
    idea = add_idea(session_factory, author.id, "Идея для обсуждения")
    writer = make_user(session_factory, "writer@example.org", name="Пётр Писатель")
    comment = add_comment(session_factory, idea, writer.id, "Спам спам спам")
    for r in people(session_factory, 3):
        report_as(app, r.email, idea, "Спам", comment_id=comment)
    with transaction(session_factory) as s:
        c = s.get_one(Comment, comment)
        assert (c.hidden, c.auto_hidden) == (True, True)
        assert s.get_one(Idea, idea).comment_count == 0
    (note,) = notes(session_factory, writer.id, "comment_hidden")
    assert note.data["auto"] is True and note.data["comment_id"] == comment
    with Browser(app) as b:
        assert "Спам спам спам" not in b.get(f"/ideas/{idea}").text
        b.login(writer.email)
        page = b.get(f"/ideas/{idea}").text
        assert "Спам спам спам" in page and "Этот комментарий видите только вы" in page


# --- the queue and the actions ---------------------------------------------------------------


def test_the_queue_lists_auto_hidden_first_then_the_most_reported_with_reasons(
    app: Starlette,
    session_factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    few = add_idea(session_factory, author.id, "Идея с одной жалобой")
    many = add_idea(session_factory, author.id, "Идея с двумя жалобами")
    hidden = add_idea(session_factory, author.id, "Идея скрытая автоматически")
    rs = people(session_factory, 3)
    report_as(app, rs[0].email, few, "Причина номер один")
    for r in rs[:2]:
        report_as(app, r.email, many, f"Жалоба от {r.display_name}")
    for r in rs:
        report_as(app, r.email, hidden, "Жалоба на скрытую")
    with Browser(app) as b:
        b.login(moderator.email)
        page = b.get("/moderation/reports").text
        order = [page.index(t) for t in ("Идея скрытая", "Идея с двумя", "Идея с одной")]
        assert order == sorted(order)
        assert "скрыто автоматически, ждёт проверки" in page
        assert "Жалоба от Анна r0" in page and "Анна r0" in page
        assert "3 пожаловавшихся" in page and "1 пожаловавшийся" in page
        assert "3 материала с жалобами" in page


def test_the_queue_is_paginated_and_has_an_empty_state(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    app = create_app(replace(settings, page_size=2))
    try:
        factory = app.state.session_factory
        make_user(factory, "moder@example.org", role="moderator", name="Мария Модер")
        author = make_user(factory, "author@example.org", name="Алексей Автор")
        with Browser(app) as b:
            b.login("moder@example.org")
            assert "Открытых жалоб нет" in b.get("/moderation/reports").text
            reporter = make_user(factory, "r@example.org", name="Анна Репортёр")
            ideas = [add_idea(factory, author.id, f"Идея номер {i} для жалоб") for i in range(3)]
            with transaction(factory) as s:
                for i in ideas:
                    reports.report(s, reporter, reason="Повтор", idea_id=i)
            first = b.get("/moderation/reports").text
            second = b.get("/moderation/reports?page=2").text
            shown = [i for i in range(3) if f"Идея номер {i} для жалоб" in first]
            rest = [i for i in range(3) if f"Идея номер {i} для жалоб" in second]
            assert len(shown) == 2 and len(rest) == 1 and not set(shown) & set(rest)
            assert 'rel="next"' in first
    finally:
        app.state.engine.dispose()


def test_a_moderator_hides_with_a_reason_and_unhiding_restores_the_exact_status(
    app: Starlette,
    session_factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    idea = add_idea(session_factory, author.id, "Идея в работе у города", status="in_progress")
    reporter = people(session_factory, 1)[0]
    report_as(app, reporter.email, idea, "Устарело")
    with Browser(app) as b:
        b.login(moderator.email)
        # no reason: refused with a message, nothing changes
        r = b.submit(f"/moderation/ideas/{idea}/hide", {"reason": "  ", "back": "reports"})
        assert r.status_code == 303 and r.headers["location"] == "/moderation/reports"
        assert "Не выполнено" in b.get("/moderation/reports").text
        assert idea_row(session_factory, idea).status == "in_progress"
        r = b.submit(
            f"/moderation/ideas/{idea}/hide",
            {"reason": "Нарушает правила: реклама", "back": "idea"},
        )
        assert r.headers["location"] == f"/ideas/{idea}"
        row = idea_row(session_factory, idea)
        assert (row.status, row.status_before_hide, row.auto_hidden) == (
            "hidden",
            "in_progress",
            False,
        )
        with transaction(session_factory) as s:
            rep = s.scalar(select(Report))
            assert rep is not None
            assert rep.resolution == "hidden" and rep.resolved_by_id == moderator.id
            assert rep.resolved_at is not None
        assert "Открытых жалоб нет" in b.get("/moderation/reports").text
        hidden_page = b.get("/moderation/hidden").text
        assert "Идея в работе у города" in hidden_page and "скрыл(а) Мария Модер" in hidden_page
        with Browser(app) as a:
            a.login(author.email)
            assert "Нарушает правила: реклама" in a.get(f"/ideas/{idea}").text
        b.submit(f"/moderation/ideas/{idea}/unhide", {"reason": "Ошибка", "back": "hidden_ideas"})
    row = idea_row(session_factory, idea)
    assert (row.status, row.status_before_hide, row.hidden_reason, row.auto_hidden) == (
        "in_progress",
        None,
        None,
        False,
    )
    (hide,) = audit_rows(session_factory, "idea.hide")
    assert hide.actor_id == moderator.id and hide.reason == "Нарушает правила: реклама"
    assert hide.details["before"]["status"] == "in_progress"
    assert hide.details["after"] == {
        "status": "hidden",
        "status_before_hide": "in_progress",
        "hidden_reason": "Нарушает правила: реклама",
        "auto_hidden": False,
    }
    (unhide,) = audit_rows(session_factory, "idea.unhide")
    assert unhide.details["after"]["status"] == "in_progress" and unhide.reason == "Ошибка"
    kinds = [n.kind for n in notes(session_factory, author.id)]
    assert kinds == ["hidden", "unhidden"]
    assert notes(session_factory, author.id, "hidden")[0].data["reason"] == (
        "Нарушает правила: реклама"
    )
    with Browser(app) as anon:
        assert anon.get(f"/ideas/{idea}").status_code == 200


def test_hidden_ideas_leave_the_ranked_lists_and_come_back(
    app: Starlette,
    session_factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    idea = add_idea(session_factory, author.id, "Идея для рейтинга и скрытия")
    with Browser(app) as b:
        assert "Идея для рейтинга и скрытия" in b.get("/?sort=top").text
        b.login(moderator.email)
        b.submit(f"/moderation/ideas/{idea}/hide", {"reason": "Дубликат текста"})
        b.submit("/logout")
        app.state.ranking.catch_up()
        assert "Идея для рейтинга и скрытия" not in b.get("/?sort=top").text
        assert "Идея для рейтинга и скрытия" not in b.get("/?sort=supporters").text
        b.login(moderator.email)
        b.submit(f"/moderation/ideas/{idea}/unhide", {"reason": ""})
        app.state.ranking.catch_up()
        assert "Идея для рейтинга и скрытия" in b.get("/?sort=top").text


def test_hiding_a_comment_by_hand_and_unhiding_it(
    app: Starlette,
    session_factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    idea = add_idea(session_factory, author.id, "Идея с грубым комментарием")
    writer = make_user(session_factory, "writer@example.org", name="Пётр Писатель")
    comment = add_comment(session_factory, idea, writer.id, "Очень грубые слова")
    with Browser(app) as b:
        b.login(moderator.email)
        page = b.get(f"/ideas/{idea}").text
        assert f'action="/moderation/comments/{comment}/hide"' in page
        r = b.submit(
            f"/moderation/comments/{comment}/hide", {"reason": "Оскорбления", "back": "idea"}
        )
        assert r.headers["location"] == f"/ideas/{idea}"
        assert idea_row(session_factory, idea).comment_count == 0
        listing = b.get("/moderation/hidden?kind=comments").text
        assert "Очень грубые слова" in listing and "Оскорбления" in listing
        with Browser(app) as w:
            w.login(writer.email)
            assert "Скрыто модератором. Причина: Оскорбления" in w.get(f"/ideas/{idea}").text
        with Browser(app) as other:
            assert "Очень грубые слова" not in other.get(f"/ideas/{idea}").text
        b.submit(f"/moderation/comments/{comment}/unhide", {"back": "hidden_comments"})
    assert idea_row(session_factory, idea).comment_count == 1
    with transaction(session_factory) as s:
        c = s.get_one(Comment, comment)
        assert (c.hidden, c.hidden_reason, c.auto_hidden) == (False, None, False)
    assert [n.kind for n in notes(session_factory, writer.id)] == [
        "comment_hidden",
        "comment_unhidden",
    ]
    (entry,) = audit_rows(session_factory, "comment.hide")
    assert entry.details["before"]["hidden"] is False and entry.details["after"]["hidden"] is True
    assert audit_rows(session_factory, "comment.unhide")[0].details["after"]["hidden"] is False


def test_dismissing_reports_unhides_what_reports_hid(
    app: Starlette,
    session_factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    idea = add_idea(session_factory, author.id, "Идея, на которую жалуются зря")
    for r in people(session_factory, 3):
        report_as(app, r.email, idea, "Не согласен с идеей")
    assert idea_row(session_factory, idea).status == "hidden"
    with Browser(app) as b:
        b.login(moderator.email)
        r = b.submit(f"/moderation/ideas/{idea}/dismiss-reports", {"reason": "Это мнение"})
        assert r.status_code == 303
        assert "Жалобы отклонены" in b.get("/moderation/reports").text
        # nothing left to dismiss: said, not an error page
        b.submit(f"/moderation/ideas/{idea}/dismiss-reports", {})
        assert "Открытых жалоб на это нет" in b.get("/moderation/reports").text
    row = idea_row(session_factory, idea)
    assert (row.status, row.auto_hidden, row.status_before_hide) == ("published", False, None)
    with transaction(session_factory) as s:
        resolutions = set(s.scalars(select(Report.resolution)))
        assert resolutions == {"dismissed"}
    (entry,) = audit_rows(session_factory, "reports.dismiss")
    assert entry.details["before"] == {"open_reports": 3, "auto_hidden": True}
    assert entry.details["after"]["unhidden"] is True and entry.reason == "Это мнение"
    assert audit_rows(session_factory, "idea.unhide")
    assert [n.kind for n in notes(session_factory, author.id)] == ["hidden", "unhidden"]


def test_a_moderator_confirms_an_automatic_hide_with_a_reason(
    app: Starlette,
    session_factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    idea = add_idea(session_factory, author.id, "Идея под проверкой", status="under_review")
    for r in people(session_factory, 3):
        report_as(app, r.email, idea, "Персональные данные соседей")
    with Browser(app) as b:
        b.login(moderator.email)
        b.submit(f"/moderation/ideas/{idea}/hide", {"reason": "Раскрывает адреса соседей"})
        row = idea_row(session_factory, idea)
        assert (row.status, row.status_before_hide, row.auto_hidden, row.hidden_reason) == (
            "hidden",
            "under_review",
            False,
            "Раскрывает адреса соседей",
        )
        with transaction(session_factory) as s:
            assert set(s.scalars(select(Report.resolution))) == {"hidden"}
        assert "Открытых жалоб нет" in b.get("/moderation/reports").text
        b.submit(f"/moderation/ideas/{idea}/unhide", {})
    assert idea_row(session_factory, idea).status == "under_review"
    assert [e.actor_id for e in audit_rows(session_factory, "idea.hide")] == [None, moderator.id]


def test_a_merged_idea_cannot_be_hidden(
    app: Starlette,
    session_factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    keep = add_idea(session_factory, author.id, "Идея, которую оставили")
    gone = add_idea(session_factory, author.id, "Идея, которую объединили")
    with transaction(session_factory) as s:
        s.get_one(Idea, gone).status, s.get_one(Idea, gone).merged_into_id = "merged", keep
    with Browser(app) as b:
        b.login(moderator.email)
        b.submit(f"/moderation/ideas/{gone}/hide", {"reason": "Попытка скрыть"})
        assert "Объединённую идею нельзя скрыть" in b.get("/moderation/reports").text
    assert idea_row(session_factory, gone).status == "merged"


def test_a_hidden_idea_cannot_be_hidden_twice_and_a_visible_one_not_unhidden(
    app: Starlette,
    session_factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    idea = add_idea(session_factory, author.id, "Идея для повторных действий")
    with Browser(app) as b:
        b.login(moderator.email)
        b.submit(f"/moderation/ideas/{idea}/unhide", {})
        assert "Эта идея не скрыта" in b.get("/moderation/reports").text
        b.submit(f"/moderation/ideas/{idea}/hide", {"reason": "Первая причина"})
        b.submit(f"/moderation/ideas/{idea}/hide", {"reason": "Вторая причина"})
        assert "Эта идея уже скрыта" in b.get("/moderation/reports").text
    assert idea_row(session_factory, idea).hidden_reason == "Первая причина"
    assert len(audit_rows(session_factory, "idea.hide")) == 1


# --- blocking --------------------------------------------------------------------------------


def test_a_moderator_blocks_a_citizen_who_is_signed_out_at_once(
    app: Starlette,
    session_factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    idea = add_idea(session_factory, author.id, "Идея автора-нарушителя")
    report_as(app, people(session_factory, 1)[0].email, idea, "Спамер")
    with Browser(app) as victim:
        victim.login(author.email)
        assert victim.get("/my/ideas").status_code == 200
        with Browser(app) as b:
            b.login(moderator.email)
            assert (
                f'action="/moderation/users/{author.id}/block"' in b.get("/moderation/reports").text
            )
            b.submit(f"/moderation/users/{author.id}/block", {"reason": ""})
            with transaction(session_factory) as s:
                assert s.get_one(User, author.id).blocked is False
            b.submit(f"/moderation/users/{author.id}/block", {"reason": "Рассылает спам"})
            page = b.get("/moderation/blocked").text
            assert "Алексей Автор" in page and "Рассылает спам" in page
        # the blocked citizen's session no longer works, and signing in fails
        assert victim.get("/my/ideas").status_code == 303
    with Browser(app) as again:
        again.get("/login")
        r = again.submit("/login", {"email": author.email, "password": "correct-horse-battery"})
        assert r.status_code != 303
    with transaction(session_factory) as s:
        u = s.get_one(User, author.id)
        assert (u.blocked, u.blocked_reason) == (True, "Рассылает спам")
    (entry,) = audit_rows(session_factory, "user.block")
    assert entry.actor_id == moderator.id and entry.target_id == author.id
    assert entry.details["before"] == {"blocked": False, "blocked_reason": None}
    assert entry.details["after"] == {"blocked": True, "blocked_reason": "Рассылает спам"}
    with Browser(app) as b:
        b.login(moderator.email)
        b.submit(f"/moderation/users/{author.id}/unblock", {"reason": "Исправился"})
        assert "Заблокированных учётных записей нет" in b.get("/moderation/blocked").text
    with Browser(app) as back:
        back.login(author.email)
    assert audit_rows(session_factory, "user.unblock")[0].details["after"]["blocked"] is False


@pytest.mark.parametrize("role", ["moderator", "official", "admin"])
def test_moderators_never_block_staff_or_themselves(
    app: Starlette, session_factory: sessionmaker[Session], moderator: CurrentUser, role: str
) -> None:
    staff = make_user(session_factory, f"{role}2@example.org", role=role, name="Семён Штат")
    with Browser(app) as b:
        b.login(moderator.email)
        r = b.submit(f"/moderation/users/{staff.id}/block", {"reason": "Попытка"})
        assert r.status_code == 403
        r = b.submit(f"/moderation/users/{moderator.id}/block", {"reason": "Попытка"})
        assert r.status_code == 403
    with transaction(session_factory) as s:
        assert not s.get_one(User, staff.id).blocked and not s.get_one(User, moderator.id).blocked
    assert audit_rows(session_factory, "user.block") == []


def test_admins_block_anyone_but_themselves_and_only_they_unblock_staff(
    app: Starlette, session_factory: sessionmaker[Session], moderator: CurrentUser
) -> None:
    admin = make_user(session_factory, "admin@example.org", role="admin", name="Анна Админ")
    official = make_user(session_factory, "off@example.org", role="official", name="Олег Чинов")
    with Browser(app) as b:
        b.login(admin.email)
        b.submit(f"/moderation/users/{official.id}/block", {"reason": "Утечка пароля"})
        r = b.submit(f"/moderation/users/{admin.id}/block", {"reason": "Проверка себя"})
        assert r.status_code == 403
    with Browser(app) as m:
        m.login(moderator.email)
        page = m.get("/moderation/blocked").text
        assert "Олег Чинов" in page and "может только администратор" in page
        r = m.submit(f"/moderation/users/{official.id}/unblock", {})
        assert r.status_code == 403
    with transaction(session_factory) as s:
        assert s.get_one(User, official.id).blocked and not s.get_one(User, admin.id).blocked


# --- access, CSRF, escaping, concurrency -----------------------------------------------------

PAGES = ["/moderation/reports", "/moderation/hidden", "/moderation/hidden?kind=comments",
         "/moderation/blocked"]  # fmt: skip
ACTIONS = [
    "/moderation/ideas/{idea}/hide",
    "/moderation/ideas/{idea}/unhide",
    "/moderation/ideas/{idea}/dismiss-reports",
    "/moderation/comments/{comment}/hide",
    "/moderation/comments/{comment}/unhide",
    "/moderation/comments/{comment}/dismiss-reports",
    "/moderation/users/{user}/block",
    "/moderation/users/{user}/unblock",
]


def test_citizens_and_officials_get_403_and_anonymous_visitors_the_login(
    app: Starlette, session_factory: sessionmaker[Session], author: CurrentUser
) -> None:
    idea = add_idea(session_factory, author.id, "Идея для проверки прав")
    comment = add_comment(session_factory, idea, author.id, "Комментарий для проверки")
    ids = {"idea": idea, "comment": comment, "user": author.id}
    make_user(session_factory, "official@example.org", role="official", name="Олег Чинов")
    for email in ("reader@example.org", "official@example.org"):
        if email == "reader@example.org":
            make_user(session_factory, email, name="Ольга Читатель")
        with Browser(app) as b:
            b.login(email)
            for url in PAGES:
                assert b.get(url).status_code == 403, url
            for url in ACTIONS:
                r = b.submit(url.format(**ids), {"reason": "Попытка без прав"})
                assert r.status_code == 403, url
    with Browser(app) as anon:
        for url in PAGES:
            r = anon.get(url)
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), url
        for url in ACTIONS:
            assert anon.post(url.format(**ids), data={"reason": "x"}).status_code == 401
    row = idea_row(session_factory, idea)
    assert row.status == "published"
    with transaction(session_factory) as s:
        assert not s.get_one(User, author.id).blocked and not s.get_one(Comment, comment).hidden
    assert audit_rows(session_factory, "idea.hide") == []


def test_actions_without_the_csrf_token_are_refused(
    app: Starlette,
    session_factory: sessionmaker[Session],
    author: CurrentUser,
    moderator: CurrentUser,
) -> None:
    idea = add_idea(session_factory, author.id, "Идея для проверки CSRF")
    with Browser(app) as b:
        b.login(moderator.email)
        r = b.post(f"/moderation/ideas/{idea}/hide", data={"reason": "Без токена"})
        assert r.status_code == 403
        r = b.post(
            f"/moderation/users/{author.id}/block",
            data={"reason": "Без токена", "csrf_token": "forged"},
        )
        assert r.status_code == 403
    assert idea_row(session_factory, idea).status == "published"
    with transaction(session_factory) as s:
        assert not s.get_one(User, author.id).blocked


def test_hostile_text_is_escaped_on_every_moderation_page(
    app: Starlette, session_factory: sessionmaker[Session], moderator: CurrentUser
) -> None:
    villain = make_user(session_factory, "villain@example.org", name="Злодей Хакеров")
    idea = add_idea(session_factory, villain.id, f"Заголовок {HOSTILE}")
    comment = add_comment(session_factory, idea, villain.id, f"Текст {HOSTILE}")
    reporter = make_user(session_factory, "r@example.org", name="Анна Репортёр")
    with transaction(session_factory) as s:
        reports.report(s, reporter, reason=f"Жалоба {HOSTILE}", idea_id=idea)
        reports.report(s, reporter, reason=f"Жалоба {HOSTILE}", comment_id=comment)
    with Browser(app) as b:
        b.login(moderator.email)
        pages = [b.get("/moderation/reports").text]
        b.submit(f"/moderation/comments/{comment}/hide", {"reason": f"Причина {HOSTILE}"})
        b.submit(f"/moderation/users/{villain.id}/block", {"reason": f"Блок {HOSTILE}"})
        b.submit(f"/moderation/ideas/{idea}/hide", {"reason": f"Причина {HOSTILE}"})
        pages += [
            b.get("/moderation/hidden").text,
            b.get("/moderation/hidden?kind=comments").text,
            b.get("/moderation/blocked").text,
            b.get(f"/ideas/{idea}").text,
        ]
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert" in html


def test_concurrent_reports_hide_once(
    is_postgres: bool, session_factory: sessionmaker[Session], author: CurrentUser
) -> None:
    """Five citizens report at the same moment: one automatic hide, one notification."""
    if not is_postgres:
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises whole transactions)")
    idea = add_idea(session_factory, author.id, "Идея под одновременными жалобами")
    reporters = people(session_factory, 5)
    barrier = threading.Barrier(len(reporters))
    errors: list[BaseException] = []

    def one(user: Any) -> None:
        try:
            barrier.wait()
            with transaction(session_factory) as s:
                reports.report(s, user, reason="Одновременно", idea_id=idea, auto_hide=3)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(u,)) for u in reporters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # a report that waited for the lock past the hide finds a hidden idea: "not found"
    assert all(isinstance(e, NotFound) for e in errors), errors
    row = idea_row(session_factory, idea)
    assert (row.status, row.auto_hidden) == ("hidden", True)
    assert len(audit_rows(session_factory, "idea.hide")) == 1
    assert len(notes(session_factory, author.id, "hidden")) == 1
    with transaction(session_factory) as s:
        stored = s.scalar(select(func.count()).select_from(Report))
    assert stored == len(reporters) - len(errors) and stored >= 3
    assert audit_rows(session_factory, "idea.hide")[0].details["reports"] == 3
