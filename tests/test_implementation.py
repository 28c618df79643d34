"""Building funded ideas: progress and milestones (audited), the status following, the panel,
the gallery by district, the API."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from tests.helpers import Browser, make_user
from tests.officials_helpers import district
from tests.project_helpers import make_project, make_project_idea
from webapp.campaigns import implementation as service
from webapp.campaigns import results as results_service
from webapp.campaigns.views.implementation import idea_panel
from webapp.kernel.dto import CurrentUser
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    AuditLog,
    Ballot,
    BallotChoice,
    Idea,
    IdeaMilestone,
    IdeaPhoto,
    IdeaProgress,
    Notification,
    ProjectPot,
)


@pytest.fixture
def official(session_factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(session_factory, "official@example.org", role="official", name="Oleg")


@pytest.fixture
def author(session_factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(session_factory, "author@example.org", name="Vera")


def _browser(app: Starlette, email: str) -> Browser:
    b = Browser(app)
    b.login(email)
    return b


def funded_idea(
    factory: sessionmaker[Session],
    official: CurrentUser,
    author: CurrentUser | None = None,
    district_id: int | None = None,
    title: str = "Новая детская площадка",
) -> int:
    """An idea funded by a published budget vote (its only voter chose it)."""
    project = make_project(factory, current="results", voting="approval", pots={None: 1_000_000})
    idea = make_project_idea(
        factory,
        project,
        title,
        cost=500_000,
        feasible=True,
        district_id=district_id,
        author_id=author.id if author else None,
    )
    with transaction(factory) as session:
        pot = session.scalars(select(ProjectPot.id).where(ProjectPot.project_id == project)).one()
        ballot = Ballot(project_id=project, pot_id=pot, user_id=official.id)
        session.add(ballot)
        session.flush()
        session.add(BallotChoice(ballot_id=ballot.id, idea_id=idea))
    with transaction(factory) as session:
        results_service.publish_results(session, official, project, email=False)
    return idea


def _status(factory: sessionmaker[Session], idea_id: int) -> str:
    with transaction(factory) as session:
        return session.get_one(Idea, idea_id).status


def test_progress_is_saved_audited_and_moves_the_status_with_the_author_told(
    app: Starlette,
    session_factory: sessionmaker[Session],
    official: CurrentUser,
    author: CurrentUser,
) -> None:
    idea = funded_idea(session_factory, official, author)
    assert _status(session_factory, idea) == "accepted"
    b = _browser(app, "official@example.org")
    url = f"/officials/ideas/{idea}/implementation"
    page = b.get(url)
    assert page.status_code == 200 and 'name="percent"' in page.text
    saved = b.submit(url, {"percent": "40", "note": "Подрядчик выбран, работы начались."})
    assert saved.status_code == 303
    assert _status(session_factory, idea) == "in_progress"
    assert b.submit(url, {"percent": "100", "note": ""}).status_code == 303
    assert _status(session_factory, idea) == "implemented"

    with transaction(session_factory) as session:
        progress = session.get_one(IdeaProgress, idea)
        assert (progress.percent, progress.note, progress.updated_by) == (100, "", official.id)
        entries = session.scalars(
            select(AuditLog).where(AuditLog.action == "idea.progress").order_by(AuditLog.id)
        ).all()
        assert [(e.actor_id, e.target_id) for e in entries] == [(official.id, idea)] * 2
        assert entries[0].details["before"] == {"percent": None}
        assert entries[1].details["before"]["percent"] == 40
        assert entries[1].details["after"]["status"] == "implemented"
        told = session.scalars(
            select(Notification.data).where(
                Notification.user_id == author.id, Notification.kind == "response"
            )
        ).all()
        assert [d["status"] for d in told] == ["accepted", "in_progress", "implemented"]


@pytest.mark.parametrize("percent", ["150", "-1", "много", ""])
def test_a_bad_percent_is_refused_and_nothing_is_stored(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser, percent: str
) -> None:
    idea = funded_idea(session_factory, official)
    b = _browser(app, "official@example.org")
    response = b.submit(f"/officials/ideas/{idea}/implementation", {"percent": percent})
    assert response.status_code == 422
    assert "от 0 до 100" in response.text
    with transaction(session_factory) as session:
        assert session.get(IdeaProgress, idea) is None
        assert (
            session.scalar(
                select(func.count()).select_from(AuditLog).where(AuditLog.action == "idea.progress")
            )
            == 0
        )


def test_an_idea_the_city_did_not_take_on_has_no_progress_and_citizens_cannot_report(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    project = make_project(session_factory, current="proposals")
    idea = make_project_idea(session_factory, project, "Просто идея")
    b = _browser(app, "official@example.org")
    response = b.submit(f"/officials/ideas/{idea}/implementation", {"percent": "10"})
    assert response.status_code == 409
    make_user(session_factory, "citizen@example.org")
    c = _browser(app, "citizen@example.org")
    assert c.get(f"/officials/ideas/{idea}/implementation").status_code == 403
    assert c.submit(f"/officials/ideas/{idea}/implementation", {"percent": "10"}).status_code == 403
    with transaction(session_factory) as session:
        assert session.get(IdeaProgress, idea) is None


def test_milestones_are_added_reached_and_removed_each_audited(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    idea = funded_idea(session_factory, official)
    b = _browser(app, "official@example.org")
    base = f"/officials/ideas/{idea}/implementation/milestones"
    assert b.submit(base, {"title": "Проект площадки", "due_on": "2031-05-01"}).status_code == 303
    assert b.submit(base, {"title": "Монтаж", "due_on": ""}).status_code == 303
    assert b.submit(base, {"title": "Дата", "due_on": "01.05.2031"}).status_code == 422
    with transaction(session_factory) as session:
        first, second = session.scalars(
            select(IdeaMilestone.id)
            .where(IdeaMilestone.idea_id == idea)
            .order_by(IdeaMilestone.position)
        ).all()
    assert b.submit(f"{base}/{first}/done").status_code == 303
    assert b.submit(f"{base}/{second}/remove").status_code == 303
    other = funded_idea(session_factory, official, title="Другая площадка")
    # a milestone is changed only through its own idea's address
    assert (
        b.submit(f"/officials/ideas/{other}/implementation/milestones/{first}/remove").status_code
        == 404
    )

    with transaction(session_factory) as session:
        rows = session.execute(
            select(IdeaMilestone.title, IdeaMilestone.due_on, IdeaMilestone.done_on).where(
                IdeaMilestone.idea_id == idea
            )
        ).all()
        actions = session.scalars(
            select(AuditLog.action)
            .where(AuditLog.action.like("idea.milestone%"))
            .order_by(AuditLog.id)
        ).all()
        report = service.implementation(session, idea)
    assert len(rows) == 1 and rows[0].title == "Проект площадки" and rows[0].done_on is not None
    assert actions == [
        "idea.milestone_add",
        "idea.milestone_add",
        "idea.milestone_done",
        "idea.milestone_remove",
    ]
    assert report.funded and [m.title for m in report.milestones] == ["Проект площадки"]


def test_the_idea_panel_and_the_results_page_show_the_progress(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    idea = funded_idea(session_factory, official)
    with transaction(session_factory) as session:
        service.save_progress(session, official, idea, "60", "Укладываем покрытие.", email=False)
        service.add_milestone(session, official, idea, "Покрытие", "2031-06-01")
        ctx: dict[str, Any] = idea_panel(session, idea, None, [])
        project = ctx["implementation"].project_id
    html = (
        app.state.jinja["ru"]
        .get_template("campaigns/_implementation.html")
        .render(implementation=ctx["implementation"], lang="ru", can=lambda p: False)
    )
    assert '<progress value="60" max="100"' in html and "Укладываем покрытие." in html
    assert "Покрытие" in html and "1 июня 2031" in html
    assert f"/projects/{project}/results" in html
    with Browser(app) as visitor:
        page = visitor.get(f"/projects/{project}/results").text
        idea_page = visitor.get(f"/ideas/{idea}").text
    assert '<progress value="60" max="100"' in page
    assert "Как идёт реализация" in idea_page and "Укладываем покрытие." in idea_page
    with transaction(session_factory) as session:
        quiet = make_project_idea(session_factory, project, "Без отчёта")
        assert idea_panel(session, quiet, None, [])["implementation"] is None


def test_the_gallery_shows_what_is_built_filters_by_district_and_okrug(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    here, okrug = district(session_factory, index=0)
    there, other_okrug = district(session_factory, index=40)
    assert okrug != other_okrug
    built = funded_idea(session_factory, official, district_id=here, title="Сквер у школы")
    going = funded_idea(session_factory, official, district_id=there, title="Велодорожка")
    with transaction(session_factory) as session:
        service.save_progress(session, official, built, "100", "Открыт для жителей.", email=False)
        service.save_progress(session, official, going, "30", "", email=False)
        session.add(
            IdeaPhoto(idea_id=built, key="a" * 64, width=800, height=600, bytes=1000, alt="Сквер")
        )
    make_project_idea(session_factory, 1, "Не принятая идея", district_id=here)

    with Browser(app) as visitor:
        everything = visitor.get("/implemented").text
        assert "Сквер у школы" in everything and "Велодорожка" in everything
        assert "Не принятая идея" not in everything
        assert everything.index("Сквер у школы") < everything.index("Велодорожка")  # built first
        assert f"{'a' * 64}-thumb.jpg" in everything and "Фото пока нет" in everything
        by_district = visitor.get(f"/implemented?district={here}").text
        assert "Сквер у школы" in by_district and "Велодорожка" not in by_district
        by_okrug = visitor.get(f"/implemented?district={okrug}").text
        assert "Сквер у школы" in by_okrug and "Велодорожка" not in by_okrug
        empty = visitor.get(f"/implemented?district={there}&page=5")
        assert empty.status_code == 200
        assert visitor.get("/implemented?district=zzz").status_code == 200


def test_the_gallery_has_an_empty_state(app: Starlette) -> None:
    with Browser(app) as visitor:
        page = visitor.get("/implemented")
    assert page.status_code == 200 and "Здесь пока ничего не построено" in page.text


def test_the_api_tells_how_an_idea_is_built(
    app: Starlette, session_factory: sessionmaker[Session], official: CurrentUser
) -> None:
    idea = funded_idea(session_factory, official)
    with transaction(session_factory) as session:
        service.save_progress(session, official, idea, "25", "Начали.", email=False)
        service.add_milestone(session, official, idea, "Проект", "2031-01-15")
    with Browser(app) as client:
        data = client.get(f"/api/v1/ideas/{idea}/implementation").json()
        assert client.get("/api/v1/ideas/2147483000/implementation").status_code == 404
    assert data["percent"] == 25 and data["funded"] is True and data["status"] == "in_progress"
    assert (
        data["milestones"][0]["due_on"] == "2031-01-15" and data["milestones"][0]["done_on"] is None
    )
