"""Reading projects for the public pages: the list (open ones first), one project with its
timeline and numbers (how many ideas the experts evaluated, during the review), its ideas and the
projects open on the home page.

A project's ideas come most supported first where residents support ideas; in a budget vote
(approval or knapsack) they carry the experts' cost and come cheapest first (not yet costed ones
last, newest first), and once the results are published their votes and whether they are funded,
most votes first.

Drafts are read only for staff (officials and admins); citizens get ``NotFound`` for one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from webapp.kernel.dto import Page
from webapp.kernel.errors import NotFound
from webapp.kernel.storage.models import (
    PROJECT_STAGES,
    PUBLIC_STATUSES,
    Ballot,
    BudgetResult,
    Idea,
    IdeaEvaluation,
    Project,
    ProjectPot,
    ProjectStage,
    Vote,
    utcnow,
)
from webapp.projects.stages import StageState, Window, state_at

EXCERPT = 200  # characters of the description on a card
# Open now, by the phase of its StageState: where a resident can act.
ACTIVE_PHASES = ("open", "override", "permanent")


@dataclass(frozen=True)
class Counts:
    ideas: int  # public ideas
    authors: int  # distinct authors of those
    supporters: int  # distinct residents who supported one of them
    ballots: int  # distinct residents who cast a budget ballot
    participants: int  # distinct residents who did any of the three


@dataclass(frozen=True)
class PotLine:
    id: int
    district_id: int | None
    amount: int


@dataclass(frozen=True)
class TimelineStep:
    """One stage on the timeline: ``done``, ``now`` or ``later`` (``absent``: not planned)."""

    stage: str
    state: str
    starts_at: datetime | None
    ends_at: datetime | None


@dataclass(frozen=True)
class ProjectCard:
    id: int
    slug: str
    title_ru: str
    title_en: str
    excerpt_ru: str
    excerpt_en: str
    cover_key: str | None
    cover_alt: str
    scope_district_id: int | None
    permanent: bool
    published: bool
    voting: str
    state: StageState
    counts: Counts
    budget: int  # roubles, all pots together

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" and self.title_en else self.title_ru

    def excerpt(self, lang: str) -> str:
        return self.excerpt_en if lang == "en" and self.excerpt_en else self.excerpt_ru

    @property
    def current(self) -> Window | None:
        """The window of the stage in force (None when none is, or it is set by hand)."""
        return self.state.window(self.state.stage) if self.state.stage else None

    @property
    def active(self) -> bool:
        return self.state.phase in ACTIVE_PHASES


@dataclass(frozen=True)
class ProjectDetail(ProjectCard):
    description_ru: str
    description_en: str
    languages: str
    rule: str
    eligibility: str
    approval_limit: int | None
    override_reason: str
    source_note: str
    external_ref: str | None
    results_published_at: datetime | None
    pots: tuple[PotLine, ...]
    timeline: tuple[TimelineStep, ...]

    def description(self, lang: str) -> str:
        return self.description_en if lang == "en" and self.description_en else self.description_ru

    @property
    def in_review(self) -> bool:
        """Whether the experts' review is the stage in force now."""
        return self.state.phase in ("open", "override") and self.state.stage == "review"

    @property
    def ballots_counted(self) -> bool:
        """Whether to show how many ballots each pot got: a budget vote that is on or over
        (a project closed before its vote shows them only if ballots were cast)."""
        if self.voting == "supports":
            return False
        step = next((t for t in self.timeline if t.stage == "voting"), None)
        if step is None or step.state not in ("now", "done"):
            return False
        return step.state == "now" or self.state.phase != "closed" or self.counts.ballots > 0


@dataclass(frozen=True)
class ProjectIdea:
    """An idea on a project's page (the fields the idea card shows)."""

    id: int
    title: str
    excerpt: str
    language: str
    status: str
    category_id: int | None
    district_id: int | None
    support_count: int
    comment_count: int
    created_at: datetime
    # budget votes only: the experts' verdict and cost; after the results, the votes and funding
    feasible: bool | None = None
    cost: int | None = None
    votes: int | None = None
    funded: bool = False


def _excerpt(text: str, length: int = EXCERPT) -> str:
    line = " ".join(text.split())
    return line if len(line) <= length else line[:length].rsplit(" ", 1)[0] + "…"


def counts(session: Session, project_ids: Iterable[int]) -> dict[int, Counts]:
    """The numbers of each project, in five grouped queries."""
    ids = list(project_ids)
    if not ids:
        return {}
    public = Idea.status.in_(PUBLIC_STATUSES)
    ideas = dict(
        session.execute(
            select(Idea.project_id, func.count(Idea.id))
            .where(Idea.project_id.in_(ids), public)
            .group_by(Idea.project_id)
        ).all()
    )
    authors = dict(
        session.execute(
            select(Idea.project_id, func.count(func.distinct(Idea.author_id)))
            .where(Idea.project_id.in_(ids), public)
            .group_by(Idea.project_id)
        ).all()
    )
    supporters = dict(
        session.execute(
            select(Idea.project_id, func.count(func.distinct(Vote.user_id)))
            .join(Vote, Vote.idea_id == Idea.id)
            .where(Idea.project_id.in_(ids), public, Vote.value > 0)
            .group_by(Idea.project_id)
        ).all()
    )
    ballots = dict(
        session.execute(
            select(Ballot.project_id, func.count(func.distinct(Ballot.user_id)))
            .where(Ballot.project_id.in_(ids))
            .group_by(Ballot.project_id)
        ).all()
    )
    people = union(
        select(Idea.project_id.label("p"), Idea.author_id.label("u")).where(
            Idea.project_id.in_(ids), public, Idea.author_id.is_not(None)
        ),
        select(Idea.project_id, Vote.user_id)
        .join(Vote, Vote.idea_id == Idea.id)
        .where(Idea.project_id.in_(ids), public),
        select(Ballot.project_id, Ballot.user_id).where(Ballot.project_id.in_(ids)),
    ).subquery()
    participants: dict[int, int] = dict(
        session.execute(select(people.c.p, func.count()).group_by(people.c.p)).all()
    )
    return {
        i: Counts(
            int(ideas.get(i, 0)),
            int(authors.get(i, 0)),
            int(supporters.get(i, 0)),
            int(ballots.get(i, 0)),
            int(participants.get(i, 0)),
        )
        for i in ids
    }


def _windows(session: Session, ids: list[int]) -> dict[int, list[Window]]:
    out: dict[int, list[Window]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = session.execute(
        select(
            ProjectStage.project_id,
            ProjectStage.stage,
            ProjectStage.starts_at,
            ProjectStage.ends_at,
        ).where(ProjectStage.project_id.in_(ids))
    ).all()
    for r in rows:
        out[r.project_id].append(Window(r.stage, r.starts_at, r.ends_at))
    return out


def _budgets(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    return {
        p: int(total or 0)
        for p, total in session.execute(
            select(ProjectPot.project_id, func.sum(ProjectPot.amount))
            .where(ProjectPot.project_id.in_(ids))
            .group_by(ProjectPot.project_id)
        ).all()
    }


def _card(p: Project, state: StageState, c: Counts, budget: int) -> ProjectCard:
    return ProjectCard(
        id=p.id,
        slug=p.slug,
        title_ru=p.title_ru,
        title_en=p.title_en,
        excerpt_ru=_excerpt(p.description_ru),
        excerpt_en=_excerpt(p.description_en),
        cover_key=p.cover_key,
        cover_alt=p.cover_alt,
        scope_district_id=p.scope_district_id,
        permanent=p.permanent,
        published=p.published,
        voting=p.voting,
        state=state,
        counts=c,
        budget=budget,
    )


def _sort_key(card: ProjectCard) -> tuple[int, float]:
    """Open projects first (closing soonest first), then the permanent pool, then upcoming ones
    (opening soonest first), then finished and closed ones (latest first)."""
    phase = card.state.phase
    if phase in ("open", "override"):
        end = card.current.ends_at if card.current else None
        return (0, end.timestamp() if end else float("inf"))
    if phase == "permanent":
        return (1, 0.0)
    if phase in ("upcoming", "between"):
        nxt = card.state.next_opens_at
        return (2, nxt.timestamp() if nxt else float("inf"))
    last = max((w.ends_at or w.starts_at for w in card.state.windows), default=None)
    return (3, -last.timestamp() if last else 0.0)


def list_projects(
    session: Session,
    now: datetime | None = None,
    *,
    include_drafts: bool = False,
    keep: Callable[[Project, StageState], bool] | None = None,
    limit: int | None = None,
) -> list[ProjectCard]:
    """Every (published, unless ``include_drafts``) project as a card, open ones first.

    ``keep`` (a project and its stage now) picks the projects wanted before anything is counted,
    and ``limit`` keeps the first of them in the card order: the numbers (ideas, authors,
    supporters, ballots: grouped counts over their votes) are computed for those only — the
    permanent pool alone has every idea and vote of the city.
    """
    now = now or utcnow()
    query = select(Project)
    if not include_drafts:
        query = query.where(Project.published.is_(True))
    projects = list(session.scalars(query.order_by(Project.id)))
    windows = _windows(session, [p.id for p in projects])
    states = {
        p.id: state_at(now, windows[p.id], permanent=p.permanent, override=p.stage_override)
        for p in projects
    }
    if keep is not None:
        projects = [p for p in projects if keep(p, states[p.id])]
    if limit is not None:
        # the card order needs only the project and its stage: cut before counting
        blank = Counts(0, 0, 0, 0, 0)
        projects = sorted(projects, key=lambda p: _sort_key(_card(p, states[p.id], blank, 0)))
        projects = projects[:limit]
    ids = [p.id for p in projects]
    numbers, budgets = counts(session, ids), _budgets(session, ids)
    cards = [_card(p, states[p.id], numbers[p.id], budgets.get(p.id, 0)) for p in projects]
    return sorted(cards, key=_sort_key)


def _open_now(project: Project, state: StageState) -> bool:
    return (
        not project.permanent
        and state.phase in ("open", "override")
        and state.stage in ("proposals", "voting")
    )


def open_projects(
    session: Session, now: datetime | None = None, limit: int = 3
) -> list[ProjectCard]:
    """Published dated projects whose proposals or voting are open now (for the home page);
    only these are counted (never the permanent pool's whole city of votes)."""
    return list_projects(session, now, keep=_open_now, limit=limit)


def timeline(state: StageState) -> tuple[TimelineStep, ...]:
    """The five stages in order, each done, now or later (``absent`` when not planned)."""
    order = {s: i for i, s in enumerate(PROJECT_STAGES)}
    current_index: float
    if state.phase == "closed":
        current_index = len(PROJECT_STAGES)
    elif state.stage is not None:
        current_index = order[state.stage]
    elif state.phase == "finished":
        current_index = len(PROJECT_STAGES)
    elif state.phase == "between" and state.next_stage is not None:
        current_index = order[state.next_stage] - 0.5
    else:
        current_index = -1
    steps = []
    for i, stage in enumerate(PROJECT_STAGES):
        w = state.window(stage)
        if i == current_index and state.phase != "closed":
            kind = "now"
        elif i < current_index:
            kind = "done"
        else:
            kind = "later"
        if w is None and kind != "now":
            kind = "absent"
        steps.append(
            TimelineStep(stage, kind, w.starts_at if w else None, w.ends_at if w else None)
        )
    return tuple(steps)


def project_detail(
    session: Session, project_id: int, now: datetime | None = None, *, staff: bool = False
) -> ProjectDetail:
    """One project with its timeline, numbers and pots; ``NotFound`` for a draft unless staff."""
    now = now or utcnow()
    p = session.get(Project, project_id)
    if p is None or (not p.published and not staff):
        raise NotFound("Project not found.")
    windows = _windows(session, [p.id])[p.id]
    state = state_at(now, windows, permanent=p.permanent, override=p.stage_override)
    pots = tuple(
        PotLine(int(r.id), r.district_id, int(r.amount))
        for r in session.execute(
            select(ProjectPot.id, ProjectPot.district_id, ProjectPot.amount)
            .where(ProjectPot.project_id == p.id)
            .order_by(ProjectPot.district_id.is_not(None), ProjectPot.district_id)
        ).all()
    )
    card = _card(p, state, counts(session, [p.id])[p.id], sum(x.amount for x in pots))
    return ProjectDetail(
        **{f: getattr(card, f) for f in card.__dataclass_fields__},
        description_ru=p.description_ru,
        description_en=p.description_en,
        languages=p.languages,
        rule=p.rule,
        eligibility=p.eligibility,
        approval_limit=p.approval_limit,
        override_reason=p.override_reason,
        source_note=p.source_note,
        external_ref=p.external_ref,
        results_published_at=p.results_published_at,
        pots=pots,
        timeline=timeline(state),
    )


def evaluated_ideas(session: Session, project_id: int) -> int:
    """How many of the project's public ideas the experts have evaluated (of ``counts().ideas``)."""
    return int(
        session.scalar(
            select(func.count(IdeaEvaluation.idea_id))
            .join(Idea, Idea.id == IdeaEvaluation.idea_id)
            .where(Idea.project_id == project_id, Idea.status.in_(PUBLIC_STATUSES))
        )
        or 0
    )


def project_ideas(
    session: Session,
    project_id: int,
    page: int,
    size: int,
    *,
    budget: bool = False,
    results: bool = False,
) -> Page[ProjectIdea]:
    """A page of the project's public ideas.

    ``budget`` (an approval or knapsack vote): with the experts' verdict and cost, cheapest
    first (ideas without a cost last, newest first); ``results`` (published): with each idea's
    votes and whether it is funded, most votes first (funded first among equals). Otherwise
    most supported first.
    """
    where = (Idea.project_id == project_id, Idea.status.in_(PUBLIC_STATUSES))
    total = session.scalar(select(func.count(Idea.id)).where(*where)) or 0
    query = select(
        Idea.id,
        Idea.title,
        Idea.body,
        Idea.language,
        Idea.status,
        Idea.category_id,
        Idea.district_id,
        Idea.support_count,
        Idea.comment_count,
        Idea.created_at,
        IdeaEvaluation.feasible,
        IdeaEvaluation.cost,
        BudgetResult.votes,
        BudgetResult.selected,
    ).where(*where)
    query = query.outerjoin(IdeaEvaluation, IdeaEvaluation.idea_id == Idea.id).outerjoin(
        BudgetResult,
        (BudgetResult.idea_id == Idea.id) & (BudgetResult.project_id == project_id),
    )
    if budget and results:
        query = query.order_by(
            BudgetResult.votes.is_(None),
            BudgetResult.votes.desc(),
            BudgetResult.selected.desc(),
            Idea.id.desc(),
        )
    elif budget:
        query = query.order_by(
            IdeaEvaluation.cost.is_(None), IdeaEvaluation.cost.asc(), Idea.id.desc()
        )
    else:
        query = query.order_by(Idea.support_count.desc(), Idea.id.desc())
    rows = session.execute(query.limit(size).offset((page - 1) * size)).all()
    items = [
        ProjectIdea(
            r.id,
            r.title,
            _excerpt(r.body),
            r.language,
            r.status,
            r.category_id,
            r.district_id,
            r.support_count,
            r.comment_count,
            r.created_at,
            feasible=r.feasible if budget else None,
            cost=int(r.cost) if budget and r.cost is not None else None,
            votes=int(r.votes) if budget and results and r.votes is not None else None,
            funded=bool(budget and results and r.selected),
        )
        for r in rows
    ]
    return Page(items, page, size, total)
