"""The demo's city projects: a real participatory budget from Pabulib and a current Moscow question.

``seed_projects`` adds two projects next to the demo ideas, each once (by ``external_ref``):

- **Wieliczka 2023 "Green Budget"** (Poland), a finished participatory budget rebuilt from the
  Pabulib file shipped in ``webapp/data/pabulib/``: its real project names (Polish, not
  translated), costs and approval ballots (one demo voter per ballot, who cannot log in), the
  file's budget as one scope-wide pot, the real voting dates, the Method of Equal Shares, and its
  results counted (``webapp.campaigns.results``) and published (dated the day the vote closed)
  without notifying anyone. Veche keeps money in roubles, so every amount is the file's złoty
  times a fixed, stated rate
  (``RUB_PER_PLN``, a round conventional rate, said in the description and the source note;
  each idea's text keeps its original cost in złoty). Scaling every cost and the budget by one
  whole number keeps the outcome: it still equals the file's official one (tested).
  See ``webapp/data/pabulib/README.md``.
- **"Как обновить дворы вашего района?"**, a current knapsack budget in roubles whose proposals
  are open now (dates relative to ``now``), with a few demo ideas, some evaluated by the demo
  official as the project's expert. Its question and ideas were written for the demo, and its
  source note says so.

Everything is stored in bulk in one transaction per project, so an interrupted run leaves nothing
half-made and a re-run finishes the job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ranking.pabulib import PbElection, parse_pb
from webapp.campaigns.results import compute_results
from webapp.demo.demo_store import DEMO_DOMAIN, Places
from webapp.demo.demo_votes import US_PER_S, format_timestamps
from webapp.kernel.progress import Progress, no_progress
from webapp.kernel.search_text import search_document
from webapp.kernel.security import UNUSABLE_PASSWORD
from webapp.kernel.storage.bulk import insert_rows, timestamp_suffix
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import (
    Ballot,
    Category,
    Idea,
    IdeaEvaluation,
    Project,
    ProjectExpert,
    ProjectPot,
    ProjectStage,
    User,
)
from webapp.ranking import ranking_log

PABULIB_DIR = Path(__file__).resolve().parent.parent / "data" / "pabulib"
WIELICZKA_FILE = "Poland_Wieliczka_2023_Green_Budget"
WIELICZKA_PATH = PABULIB_DIR / f"{WIELICZKA_FILE}.pb"
WIELICZKA_REF = f"pabulib:{WIELICZKA_FILE}"
WIELICZKA_VOTER_PREFIX = "wieliczka-2023-voter-"
WARSAW_TZ = ZoneInfo("Europe/Warsaw")
MOSCOW_TZ = ZoneInfo("Europe/Moscow")
YARDS_REF = "demo:yards"
# Roubles per złoty: a round conventional rate, not any day's exchange rate, stated on the project;
# a whole number, so every amount stays exact and the outcome unchanged.
RUB_PER_PLN = 20


def _thousands(amount: int) -> str:
    """1000000 -> '1 000 000' (no-break spaces, as Russian and Polish write amounts)."""
    return f"{amount:,}".replace(",", "\u00a0")


USER_COLUMNS = (
    "email",
    "display_name",
    "password_hash",
    "role",
    "district_id",
    "verified_resident",
    "blocked",
    "created_at",
)
BALLOT_COLUMNS = ("project_id", "pot_id", "user_id", "created_at", "updated_at")
CHOICE_COLUMNS = ("ballot_id", "idea_id")

WIELICZKA_SOURCE_NOTE = (
    "Настоящее голосование «Зелёный бюджет» (Zielony Milion) гмины Величка, Польша, 2023 год: "
    "названия проектов, их стоимость и 6 586 бюллетеней — из открытой библиотеки "
    "Pabulib (https://pabulib.org), файл Poland_Wieliczka_2023_Green_Budget.pb; "
    "источник данных — гмина Величка. Суммы переведены из злотых в рубли по условному "
    f"курсу {RUB_PER_PLN} ₽ за 1 злотый (в оригинале бюджет — 1 000 000 злотых); "
    "победители от этого не меняются. Названия проектов — на польском, как в оригинале. Ссылка на библиотеку: "
    "D. Stolicki, S. Szufa, N. Talmon, «Pabulib: A Participatory Budgeting Library», "
    "arXiv:2012.06539. Голосовавшие — демонстрационные учётные записи, по одной на бюллетень."
)
WIELICZKA_DESCRIPTION_RU = (
    "Так город Величка (Польша) в 2023 году распределил миллион злотых на «зелёные» проекты: "
    "жители выбирали любое число проектов, а победителей определил метод равных долей — "
    "каждый голосующий получает равную долю бюджета, и проекты оплачиваются из долей своих "
    "сторонников. Поэтому деньги достаются не только самой большой группе. "
    f"Суммы здесь переведены в рубли по условному курсу {RUB_PER_PLN} ₽ за 1 злотый: "
    f"бюджет 1 000 000 злотых показан как {_thousands(1_000_000 * RUB_PER_PLN)} ₽."
)
WIELICZKA_DESCRIPTION_EN = (
    "How the town of Wieliczka (Poland) spent one million złoty on green projects in 2023: "
    "residents approved any number of projects and the Method of Equal Shares chose the winners "
    "— every voter gets an equal share of the budget and projects are paid from their "
    "supporters' shares, so the money does not all go to the largest group. "
    f"Amounts here are converted to roubles at a conventional rate of {RUB_PER_PLN} ₽ per "
    f"złoty: the budget of 1,000,000 złoty is shown as {1_000_000 * RUB_PER_PLN:,} ₽."
)
WIELICZKA_DEPARTMENT = "Gmina Wieliczka"
WIELICZKA_REASON = "Проект допущен городом к голосованию."

YARDS_SOURCE_NOTE = (
    "Демонстрационный проект Veche: вопрос, идеи и оценки написаны для примера, "
    "это не решение города."
)


@dataclass(frozen=True)
class DemoIdea:
    title: str
    body: str
    category: str
    district: str | None
    # (feasible, cost in roubles, department, public reason); None: not evaluated yet.
    evaluation: tuple[bool, int | None, str, str] | None


YARDS_IDEAS = (
    DemoIdea(
        "Детская площадка с мягким покрытием во дворе",
        "Во дворе старая площадка с песком и металлическими горками. Предлагаю поставить "
        "новую площадку для детей разного возраста с резиновым покрытием и лавочками для "
        "родителей.",
        "improvement",
        "arbat",
        (True, 3_500_000, "Управа района Арбат", "Во дворе есть место, площадку можно обновить."),
    ),
    DemoIdea(
        "Освещение дорожек между домами",
        "Вечером дорожки от метро к домам совсем тёмные. Нужны фонари вдоль дорожек и у подъездов.",
        "safety",
        "basmanny",
        (True, 1_200_000, "Управа Басманного района", "Фонари можно поставить в этом году."),
    ),
    DemoIdea(
        "Велопарковки у подъездов",
        "Велосипеды негде оставить: их пристёгивают к перилам и деревьям. Поставьте простые "
        "стойки для велосипедов у каждого подъезда.",
        "transport",
        "aeroport",
        (True, 450_000, "Управа района Аэропорт", "Стойки недорогие, их можно поставить."),
    ),
    DemoIdea(
        "Цветники и скамейки вместо пустыря",
        "Между домами пустырь, где весной грязь. Можно разбить цветники, посадить кусты и "
        "поставить скамейки.",
        "parks",
        "bibirevo",
        (True, 2_000_000, "Управа района Бибирево", "Участок свободен, благоустройство возможно."),
    ),
    DemoIdea(
        "Подземный паркинг под двором",
        "Машины стоят на газонах. Если построить паркинг под двором, во дворе станет свободно.",
        "roads",
        "begovoy",
        (
            False,
            None,
            "Департамент строительства",
            "Подземный паркинг — это стройка, а не благоустройство двора, и он стоит намного "
            "больше бюджета проекта.",
        ),
    ),
    DemoIdea(
        "Площадка для выгула собак",
        "Собак выгуливают на детской площадке. Нужна отдельная огороженная площадка для собак.",
        "improvement",
        "babushkinsky",
        None,
    ),
    DemoIdea(
        "Уличные тренажёры для взрослых",
        "Хочется заниматься спортом рядом с домом. Поставьте во дворе несколько тренажёров и "
        "турник.",
        "sport",
        None,
        None,
    ),
)
YARDS_BUDGET = 20_000_000


@dataclass(frozen=True)
class ProjectSeed:
    """What seeding did for one project (``created`` False: it was already there)."""

    external_ref: str
    title: str
    created: bool
    ideas: int = 0
    ballots: int = 0
    voters_created: int = 0
    results: bool = False

    def describe(self) -> str:
        if not self.created:
            return f"  project {self.title!r}: already there, skipped"
        line = f"  project {self.title!r}: {self.ideas:,} ideas"
        if self.ballots:
            line += f", {self.ballots:,} ballots ({self.voters_created:,} demo voters created now)"
        if self.results:
            line += ", results counted and published"
        return line


def seed_projects(
    factory: sessionmaker[Session],
    places: Places,
    *,
    now: datetime | None = None,
    progress: Progress = no_progress,
    author_email: str | None = None,
    expert_email: str | None = None,
) -> tuple[ProjectSeed, ...]:
    """Seed the Wieliczka budget and the current yards project, each unless already stored.

    ``author_email``/``expert_email`` name the demo accounts that wrote and evaluated the yards
    ideas (none when absent). ``progress`` gets the stage "ballots" while Wieliczka's ballots
    are stored (only when they are)."""
    now = now or datetime.now(UTC)
    return (
        seed_pabulib(factory, now=now, progress=progress),
        seed_yards(factory, places, now=now, author_email=author_email, expert_email=expert_email),
    )


def _exists(session: Session, external_ref: str) -> bool:
    return (
        session.scalar(select(Project.id).where(Project.external_ref == external_ref)) is not None
    )


def _pb_day(value: str) -> date:
    """A Pabulib META date, 'DD.MM.YYYY'."""
    day, month, year = (int(part) for part in value.split("."))
    return date(year, month, day)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def seed_pabulib(
    factory: sessionmaker[Session],
    *,
    now: datetime | None = None,
    progress: Progress = no_progress,
) -> ProjectSeed:
    """The Wieliczka 2023 Green Budget from its Pabulib file (see the module's docstring), with
    its results computed and published as of the start of its results stage (the real day the
    vote closed; ``now`` instead, were that day still ahead of it)."""
    now = now or datetime.now(UTC)
    title_ru = "Зелёный бюджет Велички, 2023 (Польша)"
    with transaction(factory) as session:
        if _exists(session, WIELICZKA_REF):
            return ProjectSeed(WIELICZKA_REF, title_ru, created=False)
    election = parse_pb(WIELICZKA_PATH.read_text(encoding="utf-8"))
    voting_from = _local_midnight(_pb_day(election.meta["date_begin"]), WARSAW_TZ)
    # date_end is the last day of voting, inclusive.
    voting_until = _local_midnight(_pb_day(election.meta["date_end"]), WARSAW_TZ) + timedelta(1)
    with transaction(factory) as session:
        project = Project(
            slug="wieliczka-2023-green-budget",
            title_ru=title_ru,
            title_en="Wieliczka Green Budget 2023 (Poland)",
            description_ru=WIELICZKA_DESCRIPTION_RU,
            description_en=WIELICZKA_DESCRIPTION_EN,
            scope_district_id=None,
            published=True,
            voting="approval",
            approval_limit=None,
            rule="equal_shares",
            eligibility="everyone",
            external_ref=WIELICZKA_REF,
            source_note=WIELICZKA_SOURCE_NOTE,
            created_at=voting_from,
            updated_at=voting_from,
        )
        session.add(project)
        session.flush()
        session.add_all(
            [
                ProjectStage(
                    project_id=project.id,
                    stage="voting",
                    starts_at=voting_from,
                    ends_at=voting_until,
                ),
                ProjectStage(
                    project_id=project.id, stage="results", starts_at=voting_until, ends_at=None
                ),
            ]
        )
        pot = ProjectPot(
            project_id=project.id, district_id=None, amount=election.budget * RUB_PER_PLN
        )
        session.add(pot)
        session.flush()
        idea_of = _add_pabulib_ideas(session, project.id, election, voting_from)
        ballots, created = _add_ballots(
            session, project.id, pot.id, election, idea_of, voting_from, voting_until, progress
        )
        # The outcome by the project's rule (equal shares), published when the vote closed (the
        # results stage opens then), not at the seeding: the demo voters are not notified and no
        # official answers the ideas.
        compute_results(session, project.id)
        project.results_published_at = min(voting_until, now)
        ranking_log.recompute(session)  # running servers add the new ideas to their rankings
    return ProjectSeed(WIELICZKA_REF, title_ru, True, len(idea_of), ballots, created, results=True)


def _add_pabulib_ideas(
    session: Session, project_id: int, election: PbElection, created_at: datetime
) -> dict[int, int]:
    """Column of the ballot matrix -> idea id. Inserted in the order of the project ids as
    strings, so idea ids follow Pabulib's lexicographic tie-breaking."""
    order = sorted(range(len(election.project_ids)), key=lambda j: election.project_ids[j])
    # A green budget: every project is about the environment. No map points: the city map is
    # Moscow's (the file's coordinates would pull it out to Poland).
    ecology = session.scalar(select(Category.id).where(Category.slug == "ecology"))
    ideas: list[tuple[int, Idea]] = []
    for j in order:
        name = election.names[j] or f"Projekt {election.project_ids[j]}"
        body = (
            f"{name}\n\nZielony Budżet Wieliczki 2023 (Zielony Milion), "
            f"projekt nr {election.project_ids[j]} — pabulib.org. "
            f"Koszt: {_thousands(int(election.costs[j]))} zł."
        )
        idea = Idea(
            project_id=project_id,
            title=name[:300],
            body=body,
            category_id=ecology,
            district_id=None,
            author_id=None,
            language="pl",
            status="published",
            search_doc=search_document(name, body),
            external_ref=f"{WIELICZKA_REF}:{election.project_ids[j]}",
            created_at=created_at,
            updated_at=created_at,
        )
        session.add(idea)
        ideas.append((j, idea))
    session.flush()
    for j, idea in ideas:
        session.add(
            IdeaEvaluation(
                idea_id=idea.id,
                expert_id=None,
                feasible=True,
                reason=WIELICZKA_REASON,
                cost=int(election.costs[j]) * RUB_PER_PLN,
                department=WIELICZKA_DEPARTMENT,
                created_at=created_at,
                updated_at=created_at,
            )
        )
    session.flush()
    return {j: idea.id for j, idea in ideas}


def _us(moment: datetime) -> int:
    return int(moment.timestamp()) * US_PER_S


def _add_ballots(
    session: Session,
    project_id: int,
    pot_id: int,
    election: PbElection,
    idea_of: dict[int, int],
    voting_from: datetime,
    voting_until: datetime,
    progress: Progress,
) -> tuple[int, int]:
    """One demo voter and one ballot per VOTES row; returns (ballots, voters created now)."""
    n = election.ballots.shape[0]
    emails = [f"{WIELICZKA_VOTER_PREFIX}{i + 1:05d}@{DEMO_DOMAIN}" for i in range(n)]
    suffix = timestamp_suffix(session)
    # Ballots spread evenly over the voting days; voters registered the day before voting.
    start, stop = _us(voting_from), _us(voting_until)
    cast = start + (np.arange(n, dtype=np.int64) * (stop - start)) // max(n, 1)
    cast_at = format_timestamps(cast, suffix).tolist()
    signup = format_timestamps(np.array([start - 86_400 * US_PER_S]), suffix)[0]
    with progress("ballots", n, "ballot") as advance:
        existing = dict(
            session.execute(
                select(User.email, User.id).where(
                    User.email.like(f"{WIELICZKA_VOTER_PREFIX}%@{DEMO_DOMAIN}")
                )
            ).all()
        )
        missing = [i for i in range(n) if emails[i] not in existing]
        insert_rows(
            session,
            "users",
            USER_COLUMNS,
            [
                (
                    emails[i],
                    f"Участник голосования в Величке №{i + 1}",
                    UNUSABLE_PASSWORD,
                    "citizen",
                    None,
                    False,
                    False,
                    signup,
                )
                for i in missing
            ],
        )
        if missing:
            existing = dict(
                session.execute(
                    select(User.email, User.id).where(
                        User.email.like(f"{WIELICZKA_VOTER_PREFIX}%@{DEMO_DOMAIN}")
                    )
                ).all()
            )
        user_ids = [existing[e] for e in emails]
        insert_rows(
            session,
            "ballots",
            BALLOT_COLUMNS,
            [(project_id, pot_id, user_ids[i], cast_at[i], cast_at[i]) for i in range(n)],
        )
        ballot_of = dict(
            session.execute(
                select(Ballot.user_id, Ballot.id).where(Ballot.project_id == project_id)
            ).all()
        )
        matrix = election.ballots.tocsr()
        indptr, indices = matrix.indptr.tolist(), matrix.indices.tolist()
        rows = [
            (ballot_of[user_ids[i]], idea_of[j])
            for i in range(n)
            for j in indices[indptr[i] : indptr[i + 1]]
        ]
        insert_rows(session, "ballot_choices", CHOICE_COLUMNS, rows)
        advance(n)
    return n, len(missing)


def seed_yards(
    factory: sessionmaker[Session],
    places: Places,
    *,
    now: datetime,
    author_email: str | None = None,
    expert_email: str | None = None,
) -> ProjectSeed:
    """The current Moscow question "Как обновить дворы вашего района?" (proposals open now)."""
    title_ru = "Как обновить дворы вашего района?"
    with transaction(factory) as session:
        if _exists(session, YARDS_REF):
            return ProjectSeed(YARDS_REF, title_ru, created=False)
        author = _user_id(session, author_email)
        expert = _user_id(session, expert_email)
        today = now.astimezone(MOSCOW_TZ).date()
        opened = _local_midnight(today - timedelta(days=10), MOSCOW_TZ)
        bounds = [opened + timedelta(days=d) for d in (0, 31, 45, 59, 66)]
        project = Project(
            slug="yards",
            title_ru=title_ru,
            title_en="How should the yards of your district change?",
            description_ru=(
                "Город выделяет 20 миллионов рублей на благоустройство дворов. Предложите, что "
                "сделать в вашем дворе: площадку, освещение, скамейки, цветники. Эксперты "
                "проверят идеи и оценят их стоимость, а затем жители выберут, на что потратить "
                "деньги: в бюллетене можно отметить идеи на сумму не больше бюджета."
            ),
            description_en=(
                "The city sets aside 20 million roubles for the yards. Propose what to do in "
                "yours: a playground, lights, benches, flower beds. Experts check each idea and "
                "estimate its cost; then residents choose what to spend the money on, marking "
                "ideas up to the budget on their ballot."
            ),
            languages="ru,en",
            scope_district_id=None,
            published=True,
            voting="knapsack",
            rule="equal_shares",
            eligibility="residents",
            external_ref=YARDS_REF,
            source_note=YARDS_SOURCE_NOTE,
            created_at=opened,
            updated_at=opened,
        )
        session.add(project)
        session.flush()
        stages = ("proposals", "review", "voting", "results", "implementation")
        for i, stage in enumerate(stages):
            ends = bounds[i + 1] if i + 1 < len(bounds) else None
            session.add(
                ProjectStage(project_id=project.id, stage=stage, starts_at=bounds[i], ends_at=ends)
            )
        session.add(ProjectPot(project_id=project.id, district_id=None, amount=YARDS_BUDGET))
        if expert is not None:
            session.add(ProjectExpert(project_id=project.id, user_id=expert, assigned_at=opened))
        for k, spec in enumerate(YARDS_IDEAS):
            written = min(opened + timedelta(days=1, hours=5 * k), now)
            idea = Idea(
                project_id=project.id,
                title=spec.title,
                body=spec.body,
                category_id=places.categories.get(spec.category),
                district_id=_district(places, spec.district),
                author_id=author,
                language="ru",
                status="published",
                search_doc=search_document(spec.title, spec.body),
                external_ref=f"{YARDS_REF}:{k + 1}",
                created_at=written,
                updated_at=written,
            )
            session.add(idea)
            session.flush()
            if spec.evaluation is not None:
                feasible, cost, department, reason = spec.evaluation
                session.add(
                    IdeaEvaluation(
                        idea_id=idea.id,
                        expert_id=expert,
                        feasible=feasible,
                        reason=reason,
                        cost=cost,
                        department=department,
                        created_at=now,
                        updated_at=now,
                    )
                )
        ranking_log.recompute(session)
        return ProjectSeed(YARDS_REF, title_ru, True, len(YARDS_IDEAS))


def _user_id(session: Session, email: str | None) -> int | None:
    if email is None:
        return None
    return session.scalar(select(User.id).where(User.email == email))


def _district(places: Places, slug: str | None) -> int | None:
    return places.district_id(slug) if slug in places.slugs else None
