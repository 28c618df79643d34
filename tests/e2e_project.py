"""A whole city project in a real browser, shared by tests/test_e2e_project.py and `make screenshots`.

An official creates a knapsack budget project with equal shares and assigns an expert; a citizen
proposes an idea into it; the official moves the stages on by hand (the audited override: the
dates are weeks apart); the expert evaluates every idea; citizens fill the budget bar and save
their ballots; the official counts and publishes; a voter reads the results and is notified.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from tests.e2e_flows import Site, log_in, t
from tests.helpers import make_user
from webapp.campaigns import ballots
from webapp.demo.pabulib_project import seed_pabulib
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    Ballot,
    BudgetResult,
    Idea,
    Notification,
    Project,
    ProjectStage,
    utcnow,
)

QUESTION = "Как обновить скверы Тверского района?"
# Ideas the other residents proposed (planted through the service: the flow is about the project).
PLANTED = [
    ("Фонтан в сквере на Страстном бульваре", 6_000_000),
    ("Скамейки и урны в сквере у Чистых прудов", 3_000_000),
]
TYPED = ("Детская площадка во дворе на Малой Дмитровке", 4_000_000)
BUDGET = 10_000_000


def _local(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("Europe/Moscow")).strftime("%Y-%m-%dT%H:%M")


def _override(site: Site, page: Any, project_id: int, stage: str, reason: str) -> None:
    page.goto(f"{site.base}/officials/projects/{project_id}/edit")
    page.select_option("#override-stage", stage)
    page.fill("#override-reason", reason)
    page.click("form[action$='/override'] button[type=submit]")
    page.wait_for_load_state()


def city_runs_a_budget_project(site: Site) -> dict[str, Any]:
    factory = site.factory
    make_user(factory, "city-official@example.org", role="official")
    make_user(factory, "city-expert@example.org", name="Эксперт Иванова")
    voters = [make_user(factory, f"resident{i}@example.org") for i in range(3)]

    # 1. The official creates the project (stages weeks apart, from now) and assigns the expert.
    official = site.page("ru")
    log_in(site, official, "city-official@example.org")
    official.goto(f"{site.base}/officials/projects/new")
    official.fill("#title_ru", QUESTION)
    official.fill("#description_ru", "Предложите, что сделать в скверах района.")
    now = utcnow()
    dates = {
        "proposals": (now - timedelta(hours=1), now + timedelta(days=14)),
        "review": (now + timedelta(days=14), now + timedelta(days=28)),
        "voting": (now + timedelta(days=28), now + timedelta(days=42)),
        "results": (now + timedelta(days=42), now + timedelta(days=49)),
    }
    for stage, (start, end) in dates.items():
        official.fill(f"#{stage}_starts_at", _local(start))
        official.fill(f"#{stage}_ends_at", _local(end))
    official.select_option("#voting", "knapsack")
    official.fill("#budget", str(BUDGET))
    official.check("#rule-equal")
    official.check("#published")
    site.shot(official, "project-01-official-creates")
    official.click("form.project-form button[type=submit]")
    official.wait_for_load_state()
    with transaction(factory) as s:
        project_id = s.scalar(select(Project.id).where(Project.title_ru == QUESTION))
        assert project_id is not None, "the project was not created"
        assert (
            s.scalar(
                select(func.count())
                .select_from(ProjectStage)
                .where(ProjectStage.project_id == project_id)
            )
            == 4
        )
    official.goto(f"{site.base}/officials/projects/{project_id}/edit")
    official.fill("#expert-email", "city-expert@example.org")
    official.click("form[action$='/experts'] button[type=submit]")
    official.wait_for_load_state()
    assert official.locator("[data-expert]").count() == 1

    # 2. A citizen finds it on the project page and proposes an idea into it.
    citizen = site.page("ru")
    log_in(site, citizen, "resident0@example.org")
    citizen.goto(f"{site.base}/projects/{project_id}")
    assert citizen.locator("[aria-current]").count() == 1, "the timeline marks the stage now"
    site.shot(citizen, "project-02-project-page")
    citizen.click(f"a[href*='/ideas/new?project={project_id}']")
    citizen.fill("#title", TYPED[0])
    citizen.fill("#body", "Поставить горку, качели и песочницу с мягким покрытием для малышей.")
    citizen.select_option("#category_id", index=1)
    with citizen.expect_navigation():
        citizen.click("form[data-similar-form] button[type=submit]")
    if citizen.locator("input[name=confirm_similar]").count():
        with citizen.expect_navigation():
            citizen.click("form[data-similar-form] button[type=submit]")
    assert re.search(r"/ideas/\d+$", citizen.url), [
        e.inner_text() for e in citizen.locator(".field-error, .field-errors, [role=alert]").all()
    ]
    with transaction(factory) as s:
        typed_id = s.scalar(select(Idea.id).where(Idea.title == TYPED[0]))
        assert typed_id is not None
        assert s.get(Idea, typed_id).project_id == project_id  # type: ignore[union-attr]
        for title, _cost in PLANTED:
            s.add(
                Idea(
                    project_id=project_id,
                    title=title,
                    body=title + ". Подробности.",
                    author_id=voters[1].id,
                )
            )

    # 3. Proposals end (by hand) and the expert evaluates every idea.
    _override(site, official, project_id, "review", "Приём идей завершён досрочно для проверки")
    expert = site.page("ru")
    log_in(site, expert, "city-expert@example.org")
    costs = {TYPED[0]: TYPED[1], **dict(PLANTED)}
    with transaction(factory) as s:
        ids: dict[str, int] = {
            title: s.scalars(select(Idea.id).where(Idea.title == title)).one() for title in costs
        }
    for title, idea_id in ids.items():
        expert.goto(f"{site.base}/projects/{project_id}/review/{idea_id}")
        expert.check("#feasible-yes")
        expert.fill("#cost", f"{costs[title]:,}".replace(",", " "))
        expert.fill("#department", "Управа Тверского района")
        expert.fill("#reason", "Место есть, работы возможны летом.")
        expert.click("main form button[type=submit]")
        expert.wait_for_load_state()
    expert.goto(f"{site.base}/projects/{project_id}/review")
    site.shot(expert, "project-03-expert-review")

    # 4. Voting: the budget bar follows the ticks live; over the budget is refused.
    _override(site, official, project_id, "voting", "Голосование открыто")
    citizen.goto(f"{site.base}/projects/{project_id}/ballot")
    bar = citizen.locator("[data-budget-left]")
    citizen.check(f"input[name=idea][value='{ids[PLANTED[0][0]]}']")
    assert "4 000 000" in bar.inner_text().replace("\u00a0", " ")
    citizen.check(f"input[name=idea][value='{ids[TYPED[0]]}']")
    citizen.check(f"input[name=idea][value='{ids[PLANTED[1][0]]}']")
    over = bar.inner_text().replace("\u00a0", " ")
    assert "3 000 000" in over, f"13 million chosen of 10: over by three ({over})"
    site.shot(citizen, "project-04-ballot-over-budget")
    with citizen.expect_navigation():
        citizen.click("button[name=action][value=save]")
    assert citizen.locator("[role=alert]").count() >= 1, "an over-budget ballot is refused"
    with transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Ballot)) == 0
    citizen.uncheck(f"input[name=idea][value='{ids[PLANTED[0][0]]}']")
    with citizen.expect_navigation():
        citizen.click("button[name=action][value=save]")
    assert citizen.locator(".ballot-saved").count() == 1
    site.shot(citizen, "project-05-ballot-saved")
    # Two more residents vote (through the same use-case the page calls): both for the fountain.
    with transaction(factory) as s:
        for voter in voters[1:]:
            ballots.cast(s, voter, project_id, None, [ids[PLANTED[0][0]], ids[PLANTED[1][0]]])

    # 5. Voting closes; the official counts with equal shares and publishes.
    _override(site, official, project_id, "results", "Голосование завершено")
    official.goto(f"{site.base}/projects/{project_id}/results")
    official.click("form[action$='/results'] button[type=submit]")
    official.wait_for_load_state()
    official.click("form[action$='/results/publish'] button[type=submit]")
    official.wait_for_load_state()
    with transaction(factory) as s:
        project = s.get(Project, project_id)
        assert project is not None and project.results_published_at is not None
        funded = set(
            s.scalars(
                select(BudgetResult.idea_id).where(
                    BudgetResult.project_id == project_id, BudgetResult.selected.is_(True)
                )
            )
        )
        total = sum(costs[title] for title, i in ids.items() if i in funded)
        assert funded and total <= BUDGET
        notified = s.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.kind == "results", Notification.user_id == voters[0].id)
        )
        assert notified == 1

    # 6. The voter reads the results.
    citizen.goto(f"{site.base}/projects/{project_id}/results")
    text = citizen.inner_text("main")
    for title, idea_id in ids.items():
        if idea_id in funded:
            assert title in text
    assert t("ru", "Equal shares") in text or "равных долей" in text
    site.shot(citizen, "project-06-results")
    return {"project_id": project_id, "funded": funded}


def real_budget_pages(site: Site) -> int:
    """The Wieliczka 2023 budget as `make run` seeds it (real Pabulib data): its project and
    results pages on a desktop and on a 360 px phone, in Russian. Returns the project id."""
    seed_pabulib(site.factory)
    with transaction(site.factory) as s:
        project_id = s.scalar(select(Project.id).where(Project.external_ref.like("pabulib:%")))
    assert project_id is not None
    for device, viewport in (("", None), ("-phone", {"width": 360, "height": 740})):
        page = site.page("ru")
        if viewport:
            page.set_viewport_size(viewport)
        for name, path in (
            ("projects", "/projects"),
            ("project", f"/projects/{project_id}"),
            ("results", f"/projects/{project_id}/results"),
        ):
            page.goto(f"{site.base}{path}")
            assert page.locator("main").count() == 1
            if site.shots is not None:
                site.shots.mkdir(parents=True, exist_ok=True)
                width = (viewport or {"width": 1280})["width"]
                height = page.evaluate("document.documentElement.scrollHeight")
                # the top of the page, at most three screens: enough to show it, not megabytes
                page.screenshot(
                    path=str(site.shots / f"wieliczka{device}-{name}.png"),
                    full_page=True,
                    clip={"x": 0, "y": 0, "width": width, "height": min(height, 2200)},
                )
        page.context.close()
    return int(project_id)
