"""Shared set-up of the whole-site browser checks: a served app with a small, realistic data set,
every main page of every role (read from the app's routes), and axe-core.

Used by tests/test_browser_a11y.py (axe-core, WCAG 2.2 AA, ``lang`` of foreign titles),
tests/test_phone_layout.py (no sideways scrolling at 360 px) and `make screenshots`.

The data set is planted through the use-cases, the way the site stores it: users of every role,
ideas in every status a visitor can meet (published, under review, accepted, implemented,
rejected, merged, hidden), an English idea among Russian ones, comments, reports, a duplicate
group found by the real dedup pipeline, a merge, a blocked account, notifications, an API key;
and two budget projects taken through their stages (proposals, the experts' review, the vote):
a knapsack vote with equal shares open now (two pots, the citizen its expert and a voter) and an
approval vote whose results are published, one funded idea built (progress and milestones).

The pages are not listed by hand: every GET route of the app is a page, a parameterised one
opened with the samples :func:`plant_data` returns (a new parameter fails :func:`main_pages`
until it has one), and each role gets the pages that answer it 200. Only the non-HTML
endpoints are skipped (:data:`NOT_PAGES`).
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from starlette.routing import Route

from tests.browser_support import chromium, serve
from tests.e2e_flows import Site, log_in, support
from tests.helpers import PASSWORD, make_user
from tests.project_helpers import make_project, stages_around
from tests.similar_support import category_id, plant, settle, similar_app
from tests.similarity_helpers import BIKE, BIKE_COPY, TREES, TREES_COPY
from webapp.accounts import api_tokens, registration
from webapp.campaigns import ballots, evaluations, implementation, pots, results
from webapp.dedup import merges
from webapp.ideas import comments
from webapp.ideas import ideas as ideas_service
from webapp.kernel.dto import CurrentUser
from webapp.kernel.settings import Settings
from webapp.kernel.storage.db import make_engine, make_session_factory, transaction
from webapp.kernel.storage.migrate import upgrade
from webapp.kernel.storage.models import (
    PERMANENT_PROJECT_ID,
    District,
    DuplicateGroup,
    Idea,
    Notification,
    ProjectStage,
    User,
)
from webapp.kernel.validation import local_input
from webapp.moderation import blocking, moderation, reports
from webapp.officials import responses
from webapp.polls import answering, polls
from webapp.polls.answering import RawAnswer
from webapp.taxonomy import taxonomy

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 360, "height": 740}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
ROLES = ("anonymous", "citizen", "moderator", "official", "admin")
EMAILS = {role: f"{role}@example.org" for role in ROLES if role != "anonymous"}

# GET routes that are not HTML pages: nothing for axe or a layout check to look at.
NOT_PAGES = {
    "/healthz",  # JSON health check
    "/ideas/similar",  # JSON (or an HTML fragment) for the similar-ideas panel, not a page
    "/admin/audit.csv",  # CSV export
    "/admin/logins.csv",  # CSV export
    "/officials/shortlist.csv",  # CSV export
    "/projects/{project_id:id}/results.csv",  # open data: CSV
    "/projects/{project_id:id}/results.json",  # open data: JSON
    "/polls/{poll_id:id}/results.csv",  # open data: CSV
    "/polls/{poll_id:id}/results.json",  # open data: JSON
}
NOT_PAGE_PREFIXES = ("/static/", "/api/", "/media/")  # files, the JSON API, uploaded photos
# Pages no route lists: the error page a mistyped address shows (answers 404, still a page).
EXTRA_PAGES = ("/no-such-page",)
# Pages opened with every sample of their parameter (the idea pages: commented, answered,
# English, funded and built; the project pages: a budget vote, published results, the permanent
# pool; the poll pages: an open poll the citizen answered, a closed one); any other
# parameterised page is opened once, with the first sample.
EVERY_SAMPLE = {
    "/ideas/{idea_id:id}",
    "/officials/ideas/{idea_id:id}",
    "/projects/{project_id:id}",
    "/polls/{poll_id:id}",
}
PARAM = re.compile(r"\{([a-z_]+)(?::[a-z]+)?\}")

ENGLISH = (
    "Free Wi-Fi in public libraries",
    "Every city library should offer free wireless internet to visitors of all ages, with no registration.",
)
RINK = (
    "Каток в парке Сокольники",
    "Заливать бесплатный каток у главного входа в парк Сокольники каждую зиму.",
)
STOP = (
    "Остановка автобуса у поликлиники",
    "Перенести остановку автобуса ближе ко входу в районную поликлинику на Профсоюзной.",
)
EMBANKMENT = (
    "Велодорожка вдоль набережной Москвы-реки",
    "Нужно построить безопасную велодорожку вдоль всей набережной, отделённую от машин бордюром.",
)
PLAYGROUND = (
    "Отремонтировать детскую площадку во дворе",
    "Площадка во дворе на улице Ленина сломана: качели и горка опасны для детей.",
)
BINS = (
    "Больше урн в парке Горького",
    "В парке не хватает урн для мусора, особенно у входа и возле фонтанов.",
)
FOUNTAIN = (
    "Фонтан на Пушкинской площади",
    "Включать фонтан на Пушкинской площади с мая по сентябрь каждый вечер до полуночи.",
)
SPAM = (
    "Купите окна недорого у нас",
    "Пластиковые окна со скидкой, звоните по телефону в любое время, доставка бесплатно.",
)
PLACES = {  # latitude, longitude
    "embankment": (55.7308, 37.6010),  # Пречистенская набережная
    "rink": (55.7944, 37.6775),  # парк Сокольники
    "fountain": (55.7655, 37.6050),  # Пушкинская площадь
}
PHOTO_ALT = "Набережная сейчас: велосипедисты едут по узкому тротуару рядом с машинами"


@dataclass
class A11yData:
    """The ids of what was planted, by name, and the samples of each route parameter."""

    ideas: dict[str, int]
    samples: dict[str, list[str]] = field(default_factory=dict)
    # Pages whose parameters must come together (a project's idea, a funded idea): route path ->
    # {parameter: values}; each value of the first parameter is opened.
    routes: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    english_title: str = ENGLISH[0]
    foreign: dict[str, str] = field(default_factory=dict)  # title -> language, not Russian


def fresh_settings(folder: Path) -> Settings:
    """Settings for a migrated SQLite database of its own in ``folder`` (categories, districts)."""
    settings = Settings(
        database_url=f"sqlite:///{folder / 'a11y.db'}",
        environment="test",
        secret_key="a11y-secret-key-that-is-long-enough-0123456789",
        login_rate_limit=10_000,
        write_rate_limit=10_000,
        similar_rate_limit=10_000,
        page_cache_seconds=0.0,
        media_dir=str(folder / "media"),
    )
    upgrade(settings.database_url)
    engine = make_engine(settings)
    with transaction(make_session_factory(engine)) as session:
        taxonomy.load_categories(session)
        taxonomy.load_districts(session)
    engine.dispose()
    return settings


@contextmanager
def served_site(folder: Path, shots: Path | None = None) -> Iterator[tuple[Site, A11yData]]:
    """The app on a database of its own, served, with the data set planted; a browser."""
    app = similar_app(fresh_settings(folder))
    with serve(app) as base, chromium() as browser:
        site = Site(app, base, browser, shots=shots)
        yield site, plant_data(site)


def _users(site: Site) -> dict[str, CurrentUser]:
    f = site.factory
    names = {
        "citizen": "Ирина Горожанка",
        "moderator": "Мария Модератова",
        "official": "Олег Управов",
        "admin": "Анна Админова",
    }
    users = {role: make_user(f, EMAILS[role], role=role, name=names[role]) for role in names}
    users["emma"] = make_user(f, "emma@example.org", name="Emma Brown")
    users["oleg"] = make_user(f, "oleg@example.org", name="Олег Дублев")
    users["spammer"] = make_user(f, "spam@example.org", name="Окна Дешево")
    for n in range(4):
        users[f"voter{n}"] = make_user(f, f"voter{n}@example.org", name=f"Житель {n + 1}")
    return users


def plant_data(site: Site) -> A11yData:
    """Plant the data set (see the module's docstring); returns the ids."""
    f = site.factory
    u = _users(site)
    voters = [u[f"voter{n}"] for n in range(4)]
    ideas = {
        "embankment": plant(f, u["citizen"], EMBANKMENT),
        "rink": plant(f, u["citizen"], RINK, "sport"),
        "stop": plant(f, u["citizen"], STOP),
        "fountain": plant(f, u["oleg"], FOUNTAIN, "improvement"),
        "playground": plant(f, u["oleg"], PLAYGROUND, "housing"),
        "bins": plant(f, u["citizen"], BINS, "parks"),
        "english": plant(f, u["emma"], ENGLISH, "culture"),
        "bike": plant(f, u["citizen"], BIKE),
        "bike_copy": plant(f, u["oleg"], BIKE_COPY),
        "trees": plant(f, u["emma"], TREES, "parks"),
        "trees_copy": plant(f, u["oleg"], TREES_COPY, "parks"),
        "spam": plant(f, u["spammer"], SPAM, "other"),
    }
    support(f, voters, ideas["rink"])
    support(f, [u["citizen"], *voters[:3]], ideas["english"])
    support(f, [u["citizen"], *voters[:2]], ideas["fountain"])
    support(f, voters[:2], ideas["embankment"])
    support(f, voters[:1], ideas["bike"])
    support(f, voters[1:2], ideas["bike_copy"])
    support(f, voters[2:3], ideas["trees_copy"])
    with transaction(f) as s:
        first = comments.add_comment(
            s, u["voter0"], ideas["embankment"], "Поддерживаю: сейчас там опасно ездить."
        )
        comments.add_comment(  # a reply (notifies the one answered); the idea's author: notified
            s,
            u["citizen"],
            ideas["embankment"],
            "Спасибо! Соберём подписи и покажем району.",
            parent_id=first,
        )
        comments.add_comment(
            s, u["voter1"], ideas["english"], "Хорошая идея, в нашей библиотеке сети нет."
        )
        rude = comments.add_comment(s, u["spammer"], ideas["rink"], "Окна недорого, звоните!")
        reports.report(
            s, u["voter2"], reason="Это реклама, а не идея.", comment_id=rude, on_idea=ideas["rink"]
        )
        reports.report(s, u["voter3"], reason="Похоже на рекламу", idea_id=ideas["english"])
    with transaction(f) as s:
        official, moderator = u["official"], u["moderator"]
        text = "Каток зальют к декабрю: подрядчик выбран, работы оплачены из бюджета округа."
        responses.answer(s, official, ideas["rink"], "accepted", text, email=False)
        done = "Каток залит и открыт ежедневно с 10:00 до 22:00, вход бесплатный."
        responses.answer(s, official, ideas["rink"], "implemented", done, email=False)
        responses.answer(s, official, ideas["stop"], "under_review", "", email=False)
        no = "Площадка стоит на территории жилого комплекса: её ремонтирует управляющая компания."
        responses.answer(s, official, ideas["playground"], "rejected", no, email=False)
        moderation.hide_idea(s, moderator, ideas["spam"], "Реклама, а не идея.", email=False)
        blocking.block_user(s, moderator, u["spammer"].id, "Рассылает рекламу окон.")
    settle(site.app)
    with transaction(f) as s:
        merged = merges.merge(
            s,
            u["moderator"],
            ideas["trees"],
            [ideas["trees_copy"]],
            reason="Одна и та же просьба о деревьях в парке Горького.",
        )
        token_user = u["citizen"].id
        api_tokens.create_api_token(s, token_user, "Мой телефон")
        mail = registration.register_pending(
            s, email="newcomer@example.org", display_name="Новичок", password=PASSWORD
        )
    assert mail is not None and mail.token
    with transaction(f) as s:
        # Places, as the demo importer stores a source's map pin (no form sets one yet).
        for name, (lat, lon) in PLACES.items():
            s.execute(
                update(Idea).where(Idea.id == ideas[name]).values(latitude=lat, longitude=lon)
            )
    upload_photo(site, ideas["embankment"])
    group = _wait_for_group(site)
    with transaction(f) as s:
        notification = s.scalar(
            select(func.min(Notification.id)).where(Notification.user_id == u["citizen"].id)
        )
    assert notification is not None, "the answers notified nobody"
    samples: dict[str, list[str]] = {
        # the idea pages: one with comments and support, one the city answered (implemented),
        # one in English; the other pages of an idea (edit, weights) take the first
        "idea_id": [str(ideas["embankment"]), str(ideas["rink"]), str(ideas["english"])],
        "notification_id": [str(notification)],
        "token": [mail.token],
        "group_id": [str(group)],
        "merge_id": [str(merged.id)],
    }
    budget = plant_projects(site, u)
    ideas |= {f"project:{name}": idea_id for name, idea_id in budget.ideas.items()}
    # the idea pages also show an idea being built with the money of a budget vote
    samples["idea_id"].append(str(budget.ideas["built"]))
    voting, done = str(budget.voting), str(budget.done)
    samples["project_id"] = [voting, done, str(PERMANENT_PROJECT_ID)]
    routes = {
        "/officials/projects/{project_id:id}/edit": {"project_id": [voting, done]},
        "/projects/{project_id:id}/review": {"project_id": [voting]},
        "/projects/{project_id:id}/review/{idea_id:id}": {
            "project_id": [voting],
            "idea_id": [str(budget.ideas["fountain"])],
        },
        "/projects/{project_id:id}/ballot": {"project_id": [voting, done]},
        "/projects/{project_id:id}/results": {"project_id": [done]},
        "/officials/ideas/{idea_id:id}/implementation": {"idea_id": [str(budget.ideas["built"])]},
    }
    asked, closed = (str(p) for p in plant_polls(site, u))
    samples["poll_id"] = [asked, closed]
    # the results: published ones (closed), and the officials' preview of an open poll
    routes["/polls/{poll_id:id}/results"] = {"poll_id": [closed, asked]}
    with transaction(f) as s:
        rows = s.execute(select(Idea.title, Idea.language).where(Idea.language != "ru")).all()
    foreign = {str(title): str(language) for title, language in rows}
    assert foreign.get(ENGLISH[0]) == "en", foreign
    return A11yData(ideas=ideas, samples=samples, routes=routes, foreign=foreign)


# --- budget projects ---------------------------------------------------------------------------

GREEN = {
    "fountain": ("Сквер с фонтаном у метро Таганская", 12_000_000),
    "racks": ("Велопарковки у всех школ района", 3_500_000),
    "shade": ("Навесы от солнца на остановках Садового кольца", None),  # not feasible
    "paths": ("Новые дорожки в сквере на Арбате", 4_000_000),  # the district's pot (Arbat)
    "water": ("Питьевые фонтанчики в парках", None),  # not evaluated yet
}
YARDS = {
    "playground": ("Новая детская площадка на Комсомольском проспекте", 1_200_000),
    "light": ("Освещение дорожки к школе у Зубовского бульвара", 800_000),
    "sport": ("Спортивная площадка с тренажёрами во дворе", 2_500_000),
    "flowers": ("Клумбы и скамейки у подъездов на Плющихе", 600_000),
}
# Who ticked what on the yards ballot (approval, up to two ideas).
YARD_BALLOTS = {
    "citizen": ("playground", "light"),
    "voter0": ("playground", "sport"),
    "voter1": ("light", "flowers"),
    "voter2": ("playground", "light"),
    "voter3": ("sport",),
    "oleg": ("flowers", "playground"),
}


@dataclass
class Budgets:
    """Two budget projects: one voting now, one with its results published and being built."""

    voting: int
    done: int
    ideas: dict[str, int]


def _stage_now(site: Site, project_id: int, stage: str) -> None:
    """Re-date the project's stages so that ``stage`` is the one open now (weeks apart)."""
    with transaction(site.factory) as s:
        s.execute(delete(ProjectStage).where(ProjectStage.project_id == project_id))
        for name, (start, end) in stages_around(stage).items():
            s.add(ProjectStage(project_id=project_id, stage=name, starts_at=start, ends_at=end))


def _propose(
    site: Site, author: CurrentUser, project_id: int, title: str, district_id: int | None = None
) -> int:
    data = {
        "title": title,
        "body": f"{title}: жители просят об этом уже несколько лет, место выбрано вместе с соседями.",
        "category_id": category_id(site.factory, "improvement"),
        "district_id": district_id,
        "project_id": project_id,
    }
    with transaction(site.factory) as s:
        return ideas_service.submit_idea(s, author, data)


def _evaluate(
    site: Site, expert: CurrentUser, project_id: int, idea_id: int, cost: int | None
) -> None:
    with transaction(site.factory) as s:
        evaluations.evaluate(
            s,
            expert,
            project_id,
            idea_id,
            feasible="yes" if cost else "no",
            reason="Участок свободен, подрядчик найдётся."
            if cost
            else "Остановки на Садовом кольце — "
            "федеральная собственность: город не может их менять.",
            cost=str(cost) if cost else "",
            department="Департамент ЖКХ",
        )


def plant_projects(site: Site, u: dict[str, CurrentUser]) -> Budgets:
    """A knapsack budget with equal shares in its vote (two pots, the citizen its expert and a
    voter) and an approval budget whose results are published, one funded idea built."""
    f = site.factory
    with transaction(f) as s:
        district = s.scalar(select(District.id).where(District.slug == "arbat"))
        assert district is not None
        s.execute(update(User).where(User.id == u["citizen"].id).values(district_id=district))
    expert = u["citizen"]
    green = make_project(
        f,
        current="proposals",
        voting="knapsack",
        rule="equal_shares",
        pots={None: 20_000_000, district: 5_000_000},
        experts=(expert.id,),
        slug="green-budget",
        title_ru="Зелёный бюджет: на что потратить 25 миллионов?",
        title_en="Green budget: what should 25 million roubles pay for?",
        description_ru="Предлагайте, как сделать город зеленее. Эксперты оценят идеи и их "
        "стоимость, а жители выберут, на что потратить бюджет.\n\nНа каждый район — своя часть "
        "денег.",
    )
    yards = make_project(
        f,
        current="proposals",
        voting="approval",
        approval_limit=2,
        rule="equal_shares",
        pots={None: 3_000_000},
        experts=(expert.id,),
        slug="yards",
        title_ru="Что построить во дворах Хамовников?",
        title_en="What should the yards of Khamovniki get?",
        description_ru="Жители выбрали до двух идей для своих дворов; город строит победителей.",
    )
    ids: dict[str, int] = {}
    authors = [u["citizen"], u["oleg"], u["emma"], u["voter0"]]
    for n, (name, (title, _)) in enumerate(GREEN.items()):
        where = district if name == "paths" else None
        ids[name] = _propose(site, authors[n % len(authors)], green, title, where)
    for n, (name, (title, _)) in enumerate(YARDS.items()):
        ids[name] = _propose(site, authors[(n + 1) % len(authors)], yards, title)
    for project, ideas_of in ((green, GREEN), (yards, YARDS)):
        _stage_now(site, project, "review")
        for name, (_, cost) in ideas_of.items():
            if name != "water":
                _evaluate(site, expert, project, ids[name], cost)
        _stage_now(site, project, "voting")
    with transaction(f) as s:
        whole = next(p.id for p in pots.pots(s, green) if p.district_id is None)
        ballots.cast(s, u["citizen"], green, whole, [ids["fountain"], ids["racks"]])
        ballots.cast(s, u["voter0"], green, whole, [ids["racks"]])
        (yard_pot,) = (p.id for p in pots.pots(s, yards))
        for voter, chosen in YARD_BALLOTS.items():
            ballots.cast(s, u[voter], yards, yard_pot, [ids[c] for c in chosen])
    _stage_now(site, yards, "implementation")
    official = u["official"]
    with transaction(f) as s:
        published = results.publish_results(s, official, yards, email=False)
    funded = [i.idea_id for p in published.results.pots for i in p.winners]
    assert len(funded) >= 2, funded
    built, building = funded[0], funded[1]
    with transaction(f) as s:
        first = implementation.add_milestone(s, official, built, "Проект согласован", "2025-04-01")
        implementation.add_milestone(s, official, built, "Площадка построена", "2025-06-15")
        for step in implementation.implementation(s, built, staff=True).milestones:
            implementation.mark_done(
                s, official, built, step.id, step.due_on.isoformat() if step.due_on else None
            )
        implementation.save_progress(
            s, official, built, "100", "Готово: площадку открыли 15 июня.", email=False
        )
        implementation.add_milestone(s, official, building, "Подрядчик выбран", "2025-05-01")
        implementation.save_progress(
            s, official, building, "40", "Столбы поставлены, тянут кабель.", email=False
        )
    assert first.milestones
    return Budgets(voting=green, done=yards, ideas=ids | {"built": built, "building": building})


# --- polls -------------------------------------------------------------------------------------

CITY_TZ = ZoneInfo("Europe/Moscow")
PARK_QUESTIONS: list[dict[str, str]] = [
    {
        "kind": "single",
        "text_ru": "Что больше всего нужно парку у вашего дома?",
        "text_en": "What does the park near your home need most?",
        "options_ru": "Освещение дорожек\nСкамейки\nДетская площадка",
        "options_en": "Lit paths\nBenches\nA playground",
        "allow_other": "on",
        "required": "on",
    },
    {
        "kind": "multiple",
        "text_ru": "Когда вы бываете в парке? Выберите до двух ответов.",
        "options_ru": "Утром\nДнём\nВечером\nПо выходным",
        "max_choices": "2",
        "allow_other": "on",
    },
    {
        "kind": "scale",
        "text_ru": "Насколько вам нравится парк сейчас?",
        "scale_min": "1",
        "scale_max": "5",
        "required": "on",
    },
    {
        "kind": "ranking",
        "text_ru": "Расставьте по важности: что сделать в первую очередь?",
        "options_ru": "Починить фонари\nПоставить урны\nПосадить деревья",
    },
]


def poll_form(title_ru: str, title_en: str, opens: datetime, closes: datetime) -> dict[str, str]:
    return {
        "title_ru": title_ru,
        "title_en": title_en,
        "description_ru": "Город хочет знать мнение жителей, прежде чем тратить деньги.\n\n"
        "Ответ займёт пару минут.",
        "opens_at": local_input(opens, CITY_TZ),
        "closes_at": local_input(closes, CITY_TZ),
        "points": "10",
        "published": "on",
        "allow_change": "on",
    }


def park_answer(detail: polls.PollDetail, n: int, other: str = "") -> dict[int, RawAnswer]:
    """The ``n``-th resident's answer to the park questions (varied, so that results differ)."""
    single, multiple, scale, ranking = detail.questions
    so, mo, ro = single.options, multiple.options, ranking.options
    order = [ro[(n + k) % len(ro)].id for k in range(len(ro))]
    return {
        single.id: RawAnswer(options=(so[n % len(so)].id,)),
        multiple.id: RawAnswer(options=(mo[n % len(mo)].id,), other=other),
        scale.id: RawAnswer(value=1 + (n * 2 + 3) % 5),
        ranking.id: RawAnswer(order=tuple(order)),
    }


def plant_polls(site: Site, u: dict[str, CurrentUser]) -> tuple[int, int]:
    """Two polls with every kind of question, made through the officials' use-cases: one open
    now for the citizen's okrug (the citizen answered it), one closed with its results out."""
    f = site.factory
    official = u["official"]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with transaction(f) as s:
        arbat = s.scalar(select(District).where(District.slug == "arbat"))
        assert arbat is not None and arbat.parent_id is not None
        okrug, district = arbat.parent_id, arbat.id
        data = poll_form(
            "Каким быть парку у вашего дома?",
            "What should the park near your home be like?",
            now - timedelta(days=2),
            now + timedelta(days=12),
        )
        asked = polls.save_poll(s, official.id, None, data | {f"district_{okrug}": "on"}, CITY_TZ)
        data = poll_form(
            "Нужен ли городу ещё один парк?",
            "Does the city need another park?",
            now - timedelta(days=20),
            now - timedelta(days=3),
        )
        closed = polls.save_poll(s, official.id, None, data, CITY_TZ, now=now - timedelta(days=21))
        for poll_id in (asked, closed):
            for question in PARK_QUESTIONS:
                polls.add_question(s, official.id, poll_id, question)
    residents = [u["citizen"], *(u[f"voter{n}"] for n in range(4)), u["oleg"], u["emma"]]
    residents[0] = replace(residents[0], district_id=district)
    with transaction(f) as s:
        detail = polls.poll_detail(s, asked)
        answering.submit(s, residents[0], asked, park_answer(detail, 0, "Летом, после работы"))
        detail = polls.poll_detail(s, closed)
        for n, resident in enumerate(residents):
            when = now - timedelta(days=10, hours=n)
            answering.submit(s, resident, closed, park_answer(detail, n), now=when)
    return asked, closed


def picture() -> bytes:
    """A PNG drawn here (a river, an embankment, a path, the sky): no file of anyone's."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1200, 800), (186, 214, 236))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 430, 1200, 800), fill=(64, 112, 150))  # the river
    draw.polygon([(0, 400), (1200, 330), (1200, 470), (0, 560)], fill=(160, 160, 150))
    draw.polygon([(0, 470), (1200, 380), (1200, 410), (0, 510)], fill=(200, 70, 60))  # the path
    for x in range(80, 1200, 220):  # trees along it
        draw.ellipse((x, 250 - x // 20, x + 90, 340 - x // 20), fill=(70, 130, 70))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def upload_photo(site: Site, idea_id: int) -> None:
    """The author adds a photo to the idea through the photos page (the real upload path)."""
    context = role_context(site, "citizen")
    page = context.new_page()
    page.goto(f"{site.base}/ideas/{idea_id}/photos")
    page.set_input_files(
        "#photo-file",
        files=[{"name": "naberezhnaya.png", "mimeType": "image/png", "buffer": picture()}],
    )
    page.fill("#photo-alt", PHOTO_ALT)
    page.locator("form.photo-form button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".photo-gallery img").count() == 1, page.locator("main").inner_text()
    context.close()


def _wait_for_group(site: Site, timeout: float = 60.0) -> int:
    """The dedup pipeline groups the planted near-duplicates moments after their vectors."""
    deadline = time.monotonic() + timeout
    while True:
        with transaction(site.factory) as s:
            found = s.scalar(select(func.min(DuplicateGroup.id)))
        if found is not None:
            return int(found)
        assert time.monotonic() < deadline, "the dedup pipeline proposed no group"
        time.sleep(0.2)


# --- the pages ---------------------------------------------------------------------------------


def is_page(path: str) -> bool:
    return path not in NOT_PAGES and not path.startswith(NOT_PAGE_PREFIXES)


def main_pages(
    app: Any,
    samples: dict[str, list[str]],
    parameterised: bool = True,
    routes: dict[str, dict[str, list[str]]] | None = None,
) -> list[tuple[str, str]]:
    """(route path, URL) of every HTML page of the app, parameterised ones once per sample.

    The pages in :data:`EVERY_SAMPLE` are opened with each sample of their parameter, the
    others with the first; ``routes`` gives a page samples of its own (:attr:`A11yData.routes`:
    each value of its first parameter is opened). A parameter with no sample is an error that
    names it.
    """
    out: list[tuple[str, str]] = []
    missing: list[str] = []
    for route in app.routes:
        if not isinstance(route, Route) or "GET" not in (route.methods or set()):
            continue
        if not is_page(route.path):
            continue
        params = PARAM.findall(route.path)
        if not params:
            out.append((route.path, route.path))
            continue
        if not parameterised:
            continue
        own = (routes or {}).get(route.path, {})
        found = samples | own
        if unknown := [p for p in params if p not in found]:
            missing.append(f"{route.path} ({', '.join(unknown)})")
            continue
        every = params[0] in own or (len(params) == 1 and route.path in EVERY_SAMPLE)
        values = found[params[0]] if every else [found[params[0]][0]]
        for value in values:
            chosen = {name: found[name][0] for name in params} | {params[0]: value}
            url = PARAM.sub(lambda m, c=chosen: c[m.group(1)], route.path)  # type: ignore[misc]
            out.append((route.path, url))
    assert not missing, (
        "GET routes with a parameter the accessibility tests have no sample for: "
        f"{missing}; plant one in tests/a11y_support.py (the samples in plant_data) or, for a "
        "non-HTML endpoint, add it to NOT_PAGES"
    )
    out += [(path, path) for path in EXTRA_PAGES]
    return out


def plain_pages(app: Any) -> list[str]:
    """The pages without parameters (and :data:`EXTRA_PAGES`): no data needed to open them."""
    return [url for path, url in main_pages(app, {}, parameterised=False)]


@dataclass(frozen=True)
class Opened:
    """How a route answered one role: ``page`` True when it is that role's HTML page."""

    route: str
    url: str
    status: int
    location: str
    content_type: str

    @property
    def page(self) -> bool:
        return self.status == 200 or (self.status == 404 and self.url in EXTRA_PAGES)

    @property
    def reached(self) -> bool:
        """The route did its job for this role: a page, or a redirect that is not to log in."""
        return self.page or (300 <= self.status < 400 and "/login" not in self.location)


def role_context(
    site: Site,
    role: str,
    viewport: dict[str, int] | None = None,
    axe: bool = False,
    locale: str = "ru-RU",
) -> Any:
    """A browser context (Russian, unless ``locale`` says) signed in as ``role`` (or anonymous).

    ``axe``: every page it opens gets axe-core, as an init script (the site's Content Security
    Policy refuses inline scripts, rightly; init scripts come through the DevTools protocol).
    """
    context = site.browser.new_context(locale=locale, viewport=viewport or DESKTOP)
    context.set_default_timeout(20_000)
    if axe:
        context.add_init_script(script=axe_source())
    if role != "anonymous":
        page = context.new_page()
        log_in(site, page, EMAILS[role])
        page.close()
    return context


def classify(site: Site, context: Any, pages: list[tuple[str, str]]) -> list[Opened]:
    """Ask for each page with ``context``'s cookies (no redirects followed, nothing rendered)."""
    out = []
    for route, url in pages:
        response = context.request.get(f"{site.base}{url}", max_redirects=0)
        headers = response.headers
        out.append(
            Opened(
                route=route,
                url=url,
                status=response.status,
                location=headers.get("location", ""),
                content_type=headers.get("content-type", ""),
            )
        )
        response.dispose()
    return out


def pages_of(opened: list[Opened]) -> tuple[list[str], list[str]]:
    """The URLs that are this role's pages, and the problems (server errors, non-HTML pages)."""
    urls, problems = [], []
    for o in opened:
        if o.status >= 500:
            problems.append(f"{o.url}: HTTP {o.status}")
        elif o.page and not o.content_type.startswith("text/html"):
            problems.append(f"{o.url}: {o.content_type}, not HTML (add it to NOT_PAGES?)")
        elif o.page:
            urls.append(o.url)
    return urls, problems


# --- axe-core ----------------------------------------------------------------------------------

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": AXE_TAGS},
    # Named explicitly so that a change of their tags in a later axe-core cannot drop them.
    "rules": {
        "target-size": {"enabled": True},
        "scrollable-region-focusable": {"enabled": True},
    },
    "resultTypes": ["violations"],
}
RUN_AXE = """async options => {
  const r = await axe.run(document, options);
  return r.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary || '',
                              html: n.html.slice(0, 160)}))
  }));
}"""


def axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core on the loaded page (of a context made with ``axe=True``): its violations."""
    assert page.evaluate("() => typeof window.axe !== 'undefined'"), "axe-core is not loaded"
    return list(page.evaluate(RUN_AXE, AXE_OPTIONS))


def describe(found: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Readable lines from ``{url: violations}``, grouped by rule, then by element.

    One block per rule (id, impact, what it asks); under it each offending element (its CSS
    selector) with the pages it is on and axe-core's advice for the first of them.
    """
    rules: dict[str, dict[str, Any]] = {}
    for url, violations in found.items():
        for v in violations:
            rule = rules.setdefault(v["id"], {"v": v, "targets": {}})
            for node in v["nodes"]:
                target = rule["targets"].setdefault(node["target"], {"urls": [], "node": node})
                target["urls"].append(url)
    lines = []
    for rule_id, rule in sorted(rules.items()):
        v = rule["v"]
        lines.append(f"{rule_id} ({v['impact']}): {v['help']}")
        for target, where in rule["targets"].items():
            summary = " ".join(where["node"]["summary"].split())
            lines.append(f"  {target}\n    on {', '.join(where['urls'])}\n    {summary[:400]}")
    return lines


# --- foreign-language text --------------------------------------------------------------------

# Text nodes (in <body>) that contain ``title``; for each, the language it is marked with.
LANG_OF_TEXT = """title => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.nodeValue.includes(title)) continue;
    const e = n.parentElement;
    if (e.closest('script, style, template')) continue;
    const marked = e.closest('[lang]');
    out.push({lang: marked ? marked.getAttribute('lang') : '',
              tag: e.tagName.toLowerCase(), cls: String(e.className || '')});
  }
  return out;
}"""
