"""Writing projects: the officials' form (create, edit), the stage override, the cover, experts.

Every function takes the acting official's id and flushes, never commits. Input arrives as the
text of a form (or the same names from the JSON API): ``parse_input`` checks all of it and raises
one ``InvalidInput`` with a message per field; ``save_project`` then refuses with ``Conflict``
(409) a change that would make cast ballots unfair — once voting has opened, the stage dates of
stages already started, the kind of vote, the approval limit, the pots and the rule are fixed,
except that the end of the stage in force may be moved later. Creating, editing, the override and
expert changes are written to the audit log with what was before and after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from webapp.kernel import audit, validation
from webapp.kernel.errors import N_, Conflict, NotFound, invalid
from webapp.kernel.media import MediaStore, ProcessedImage
from webapp.kernel.storage.models import (
    BUDGET_RULES,
    ELIGIBILITY,
    PERMANENT_PROJECT_ID,
    PROJECT_STAGES,
    VOTING_KINDS,
    Ballot,
    District,
    Idea,
    Project,
    ProjectExpert,
    ProjectPot,
    ProjectStage,
    User,
    utcnow,
)
from webapp.kernel.validation import Errors, clean_text, local_input, parse_moment
from webapp.projects.projects import windows as stored_windows
from webapp.projects.stages import Window, state_at, validate_windows

TITLE_MAX = 300
DESCRIPTION_MAX = 20_000
ALT_MAX = 300
REASON_MAX = 2_000
SLUG_MAX = 80
MAX_BUDGET = 10**15  # roubles: a bound, not a policy
POT_ROWS = 30  # district pots a form may carry
LANGUAGE_CHOICES = ("ru,en", "ru", "en")
OVERRIDE_CHOICES = (*PROJECT_STAGES, "closed")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LOCKED = N_(
    "Voting in this project has opened: its dates, kind of vote, budgets and rule can no longer "
    "change, or the ballots already cast would become unfair. Only the end of the current stage "
    "can be moved later."
)

# The messages of stages.validate_windows, marked here for the catalogs (shown per field).
STAGE_ENDS_AFTER_START = N_("The stage must end after it starts.")
STAGE_AFTER_PREVIOUS = N_("The stage must start after the previous one ends.")


def slugify(text: str) -> str:
    """A URL name from a question (``kernel.validation.slugify``); "project" when nothing is left."""
    return validation.slugify(text, "project")


@dataclass(frozen=True)
class PotInput:
    district_id: int | None
    amount: int


@dataclass(frozen=True)
class ProjectInput:
    """A checked project form."""

    title_ru: str
    title_en: str
    description_ru: str
    description_en: str
    slug: str  # "" = from the question
    languages: str
    scope_district_id: int | None
    windows: tuple[Window, ...]
    voting: str
    approval_limit: int | None
    rule: str
    eligibility: str
    published: bool
    pots: tuple[PotInput, ...]
    source_note: str


def _int(errors: Errors, field: str, raw: str, low: int, high: int) -> int | None:
    text = raw.replace(" ", "").replace("\u00a0", "").replace("_", "")
    if not text:
        return None
    if not re.fullmatch(r"[0-9]{1,16}", text):
        errors.add(field, N_("Enter a whole number."))
        return None
    value = int(text)
    if not low <= value <= high:
        errors.add(field, N_("Must be between %(min)s and %(max)s."), min=low, max=high)
        return None
    return value


def parse_input(
    session: Session,
    data: dict[str, str],
    tz: ZoneInfo,
    *,
    permanent: bool = False,
) -> ProjectInput:
    """Check a project form (field -> text); ``InvalidInput`` names every bad field."""
    errors = Errors()

    def text(name: str, max_length: int, min_length: int = 0, multiline: bool = False) -> str:
        return clean_text(
            errors,
            name,
            data.get(name, ""),
            min_length=min_length,
            max_length=max_length,
            multiline=multiline,
        )

    title_ru = text("title_ru", TITLE_MAX, 3)
    title_en = text("title_en", TITLE_MAX)
    description_ru = text("description_ru", DESCRIPTION_MAX, multiline=True)
    description_en = text("description_en", DESCRIPTION_MAX, multiline=True)
    source_note = text("source_note", 2_000, multiline=True)
    slug = text("slug", SLUG_MAX).lower()
    if slug and not SLUG_RE.match(slug):
        errors.add("slug", N_("Use lower-case Latin letters, digits and hyphens."))
    languages = data.get("languages", "").strip() or "ru,en"
    if languages not in LANGUAGE_CHOICES:
        errors.add("languages", N_("Choose one of the offered values."))
    districts = set(session.scalars(select(District.id)))
    scope_raw = (data.get("scope_district_id") or "").strip()
    scope = _int(errors, "scope_district_id", scope_raw, 1, 2**31 - 1) if scope_raw else None
    if scope is not None and scope not in districts:
        errors.add("scope_district_id", N_("Unknown district."))
        scope = None

    windows: list[Window] = []
    for stage in PROJECT_STAGES:
        raw_start = (data.get(f"{stage}_starts_at") or "").strip()
        raw_end = (data.get(f"{stage}_ends_at") or "").strip()
        start = parse_moment(raw_start, tz) if raw_start else None
        end = parse_moment(raw_end, tz) if raw_end else None
        if raw_start and start is None:
            errors.add(f"{stage}_starts_at", N_("Enter a date and time, e.g. 2025-05-01 09:00."))
        if raw_end and end is None:
            errors.add(f"{stage}_ends_at", N_("Enter a date and time, e.g. 2025-05-01 09:00."))
        if permanent:
            if raw_start or raw_end:
                errors.add(
                    f"{stage}_starts_at",
                    N_("The permanent pool of ideas is always open: it has no stages."),
                )
            continue
        if start is None and not raw_start:
            if stage == "proposals":
                errors.add(f"{stage}_starts_at", N_("Enter when proposals open."))
            elif raw_end:
                errors.add(f"{stage}_starts_at", N_("Enter when this stage starts."))
            continue
        if start is not None and (end is not None or not raw_end):
            windows.append(Window(stage, start, end))
    seen: set[str] = set()
    for stage, message in validate_windows(windows):
        field = f"{stage}_ends_at" if message == STAGE_ENDS_AFTER_START else f"{stage}_starts_at"
        if field not in seen:
            errors.add(field, message)
            seen.add(field)

    voting = (data.get("voting") or "supports").strip()
    if voting not in VOTING_KINDS:
        errors.add("voting", N_("Choose one of the offered values."))
    rule = (data.get("rule") or "greedy").strip()
    if rule not in BUDGET_RULES:
        errors.add("rule", N_("Choose one of the offered values."))
    eligibility = (data.get("eligibility") or "everyone").strip()
    if eligibility not in ELIGIBILITY:
        errors.add("eligibility", N_("Choose one of the offered values."))
    approval_limit = _int(errors, "approval_limit", data.get("approval_limit", ""), 1, 1000)
    if voting == "approval" and approval_limit is None and "approval_limit" not in errors.errors:
        errors.add("approval_limit", N_("Enter how many ideas a resident may choose."))
    if voting != "approval":
        approval_limit = None

    pots: list[PotInput] = []
    budget = _int(errors, "budget", data.get("budget", ""), 1, MAX_BUDGET)
    if budget is not None:
        pots.append(PotInput(None, budget))
    used: set[int] = set()
    for n in range(POT_ROWS):
        raw_d = (data.get(f"pot_district_{n}") or "").strip()
        raw_a = (data.get(f"pot_amount_{n}") or "").strip()
        if not raw_d and not raw_a:
            continue
        district = _int(errors, f"pot_district_{n}", raw_d, 1, 2**31 - 1)
        amount = _int(errors, f"pot_amount_{n}", raw_a, 1, MAX_BUDGET)
        if district is None and f"pot_district_{n}" not in errors.errors:
            errors.add(f"pot_district_{n}", N_("Choose a district for this budget."))
        elif district is not None and district not in districts:
            errors.add(f"pot_district_{n}", N_("Unknown district."))
        elif district is not None and district in used:
            errors.add(f"pot_district_{n}", N_("This district already has a budget."))
        if raw_d and amount is None and f"pot_amount_{n}" not in errors.errors:
            errors.add(f"pot_amount_{n}", N_("Enter the amount in roubles."))
        if district is not None and amount is not None and district in districts:
            if district not in used:
                pots.append(PotInput(district, amount))
            used.add(district)
    if permanent:
        if voting != "supports":
            errors.add("voting", N_("The permanent pool of ideas collects supports only."))
        if pots:
            errors.add("budget", N_("The permanent pool of ideas has no budget."))
    elif voting in ("approval", "knapsack") and not pots and not errors.errors.get("budget"):
        errors.add("budget", N_("A budget vote needs a budget: enter the amount."))
    errors.raise_if_any()
    return ProjectInput(
        title_ru=title_ru,
        title_en=title_en,
        description_ru=description_ru,
        description_en=description_en,
        slug=slug,
        languages=languages,
        scope_district_id=scope,
        windows=tuple(windows),
        voting=voting,
        approval_limit=approval_limit,
        rule=rule,
        eligibility=eligibility,
        published=(data.get("published") or "").strip().lower() in ("1", "on", "true", "yes"),
        pots=tuple(pots),
        source_note=source_note,
    )


def _unique_slug(session: Session, wanted: str, project_id: int | None) -> str:
    slug = wanted
    n = 1
    while True:
        other = session.scalar(select(Project.id).where(Project.slug == slug))
        if other is None or other == project_id:
            return slug
        n += 1
        slug = f"{wanted[: SLUG_MAX - 6]}-{n}"


def _pots(session: Session, project_id: int) -> list[PotInput]:
    rows = session.execute(
        select(ProjectPot.district_id, ProjectPot.amount).where(ProjectPot.project_id == project_id)
    ).all()
    return sorted(
        (PotInput(r.district_id, int(r.amount)) for r in rows),
        key=lambda p: (p.district_id is not None, p.district_id or 0),
    )


def _voting_opened(session: Session, project: Project, now: datetime) -> bool:
    """Whether voting has started (by date or by hand) or anyone has cast a ballot."""
    if project.permanent:
        return False
    if project.stage_override in ("voting", "results", "implementation"):
        return True
    voting = next((w for w in stored_windows(session, project.id) if w.stage == "voting"), None)
    if voting is not None and voting.starts_at <= now:
        return True
    return (
        session.scalar(select(Ballot.id).where(Ballot.project_id == project.id).limit(1))
        is not None
    )


def _check_locked_change(
    session: Session, project: Project, new: ProjectInput, now: datetime
) -> None:
    """``Conflict`` when a change after voting opened would make the ballots unfair."""
    old_windows = {w.stage: w for w in stored_windows(session, project.id)}
    new_windows = {w.stage: w for w in new.windows}
    state = state_at(now, old_windows.values(), override=project.stage_override)
    current = state.stage if state.phase == "open" else None
    for stage in PROJECT_STAGES:
        old, upd = old_windows.get(stage), new_windows.get(stage)
        if old is not None and old.starts_at <= now:  # started: fixed, but its end may grow
            if upd is None or upd.starts_at != old.starts_at:
                raise Conflict(LOCKED)
            if upd.ends_at != old.ends_at:
                later = old.ends_at is not None and (
                    upd.ends_at is None or upd.ends_at > old.ends_at
                )
                if stage != current or not later:
                    raise Conflict(LOCKED)
        elif upd is not None and upd.starts_at < now and old != upd:
            raise Conflict(LOCKED)  # a stage may not be opened in the past
    if (
        new.voting != project.voting
        or new.approval_limit != project.approval_limit
        or new.rule != project.rule
        or sorted(new.pots, key=lambda p: p.district_id or 0)
        != sorted(_pots(session, project.id), key=lambda p: p.district_id or 0)
    ):
        raise Conflict(LOCKED)


def _snapshot(session: Session, project: Project) -> dict[str, Any]:
    """The audited picture of a project (dates as ISO text)."""
    return {
        "title_ru": project.title_ru,
        "title_en": project.title_en,
        "slug": project.slug,
        "published": project.published,
        "scope_district_id": project.scope_district_id,
        "languages": project.languages,
        "voting": project.voting,
        "approval_limit": project.approval_limit,
        "rule": project.rule,
        "eligibility": project.eligibility,
        "stages": {
            w.stage: [w.starts_at.isoformat(), w.ends_at.isoformat() if w.ends_at else None]
            for w in stored_windows(session, project.id)
        },
        "pots": [[p.district_id, p.amount] for p in _pots(session, project.id)],
    }


def _same_minute(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.replace(second=0, microsecond=0) == b.replace(second=0, microsecond=0)


def _keep_stored_seconds(new: ProjectInput, old: list[Window]) -> ProjectInput:
    """The form shows moments to the minute: a moment sent back unchanged keeps its stored
    seconds, so that saving a form never counts as moving a date."""
    by_stage = {w.stage: w for w in old}
    kept = []
    for w in new.windows:
        o = by_stage.get(w.stage)
        if o is None:
            kept.append(w)
            continue
        start = o.starts_at if _same_minute(w.starts_at, o.starts_at) else w.starts_at
        end = o.ends_at if _same_minute(w.ends_at, o.ends_at) else w.ends_at
        kept.append(Window(w.stage, start, end))
    return replace(new, windows=tuple(kept))


def save_project(
    session: Session,
    actor_id: int,
    project_id: int | None,
    data: dict[str, str],
    tz: ZoneInfo,
    now: datetime | None = None,
) -> int:
    """Create (``project_id`` None) or update a project from its form; returns its id.

    ``InvalidInput`` for bad fields (nothing stored), ``Conflict`` for a change voting forbids.
    """
    now = now or utcnow()
    project = None
    if project_id is not None:
        project = session.get(Project, project_id, with_for_update=True)
        if project is None:
            raise NotFound("Project not found.")
    permanent = project is not None and project.permanent
    new = parse_input(session, data, tz, permanent=permanent)
    if project is not None:
        new = _keep_stored_seconds(new, stored_windows(session, project.id))
    if project is not None and _voting_opened(session, project, now):
        _check_locked_change(session, project, new, now)
    if new.slug:
        clash = session.scalar(select(Project.id).where(Project.slug == new.slug))
        if clash is not None and clash != project_id:
            raise invalid("slug", N_("This address is already used by another project."))
        slug = new.slug
    elif project is not None:
        slug = project.slug
    else:
        slug = _unique_slug(session, slugify(new.title_ru), None)
    before = _snapshot(session, project) if project is not None else {}
    if project is None:
        project = Project(created_by=actor_id, created_at=now, slug=slug, title_ru=new.title_ru)
        session.add(project)
    project.slug = slug
    project.title_ru = new.title_ru
    project.title_en = new.title_en
    project.description_ru = new.description_ru
    project.description_en = new.description_en
    project.source_note = new.source_note
    project.languages = new.languages
    project.scope_district_id = new.scope_district_id
    project.voting = new.voting
    project.approval_limit = new.approval_limit
    project.rule = new.rule
    project.eligibility = new.eligibility
    project.published = True if permanent else new.published
    project.updated_at = now
    session.flush()
    if not permanent:
        session.execute(delete(ProjectStage).where(ProjectStage.project_id == project.id))
        for w in new.windows:
            session.add(
                ProjectStage(
                    project_id=project.id, stage=w.stage, starts_at=w.starts_at, ends_at=w.ends_at
                )
            )
        _replace_pots(session, project.id, new.pots)
    session.flush()
    after = _snapshot(session, project)
    if project_id is None:
        audit.record(
            session, actor_id, "project.create", "project", project.id, details={"after": after}
        )
    elif before != after:
        changed = sorted(k for k in after if before.get(k) != after[k])
        audit.record(
            session,
            actor_id,
            "project.update",
            "project",
            project.id,
            details={
                "before": {k: before.get(k) for k in changed},
                "after": {k: after[k] for k in changed},
            },
        )
    return project.id


def _replace_pots(session: Session, project_id: int, pots: tuple[PotInput, ...]) -> None:
    """Keep the pots whose district stays (ballots name them), update amounts, add and drop."""
    existing = {
        p.district_id: p
        for p in session.scalars(select(ProjectPot).where(ProjectPot.project_id == project_id))
    }
    wanted = {p.district_id: p.amount for p in pots}
    for district_id, row in existing.items():
        if district_id not in wanted:
            session.delete(row)
        else:
            row.amount = wanted[district_id]
    session.flush()
    for district_id, amount in wanted.items():
        if district_id not in existing:
            session.add(ProjectPot(project_id=project_id, district_id=district_id, amount=amount))


def set_override(
    session: Session, actor_id: int, project_id: int, choice: str, reason: str
) -> str | None:
    """Put a stage (or "closed") in force by hand, or ("" ) follow the dates again; audited.

    Returns the override now in force (None: the dates).
    """
    project = session.get(Project, project_id, with_for_update=True)
    if project is None:
        raise NotFound("Project not found.")
    if project.permanent:
        raise Conflict(N_("The permanent pool of ideas is always open: it has no stages."))
    errors = Errors()
    choice = (choice or "").strip()
    if choice not in ("", *OVERRIDE_CHOICES):
        errors.add("stage", N_("Choose one of the offered values."))
    text = clean_text(errors, "reason", reason, min_length=3, max_length=REASON_MAX, multiline=True)
    errors.raise_if_any()
    new = choice or None
    before = {"stage_override": project.stage_override, "reason": project.override_reason}
    project.stage_override = new
    project.override_reason = text if new else ""
    project.updated_at = utcnow()
    audit.record(
        session,
        actor_id,
        "project.override",
        "project",
        project_id,
        reason=text,
        details={
            "before": before,
            "after": {"stage_override": new, "reason": project.override_reason},
        },
    )
    session.flush()
    return new


def set_cover(
    session: Session,
    actor_id: int,
    project_id: int,
    image: ProcessedImage | None,
    alt: str,
    store: MediaStore | None,
    remove: bool = False,
) -> str | None:
    """Store a re-encoded cover (or keep the current one) with its description; ``remove`` takes
    it away. The description is required whenever there is a cover. Returns the cover's key."""
    project = session.get(Project, project_id, with_for_update=True)
    if project is None:
        raise NotFound("Project not found.")
    errors = Errors()
    alt_text = clean_text(errors, "cover_alt", alt, min_length=0, max_length=ALT_MAX)
    errors.raise_if_any()
    before = {"cover_key": project.cover_key, "cover_alt": project.cover_alt}
    if remove:
        project.cover_key, project.cover_alt = None, ""
    else:
        if image is None and project.cover_key is None:
            raise invalid("cover", N_("Please choose a picture to send."))
        if not alt_text:
            raise invalid("cover_alt", N_("Describe the picture for those who cannot see it."))
        if image is not None and store is not None:
            project.cover_key = store.put(image)
        project.cover_alt = alt_text
    project.updated_at = utcnow()
    audit.record(
        session,
        actor_id,
        "project.cover",
        "project",
        project_id,
        details={
            "before": before,
            "after": {"cover_key": project.cover_key, "cover_alt": project.cover_alt},
        },
    )
    session.flush()
    return project.cover_key


@dataclass(frozen=True)
class ExpertView:
    user_id: int
    email: str
    display_name: str


def list_experts(session: Session, project_id: int) -> list[ExpertView]:
    rows = session.execute(
        select(User.id, User.email, User.display_name)
        .join(ProjectExpert, ProjectExpert.user_id == User.id)
        .where(ProjectExpert.project_id == project_id)
        .order_by(User.display_name, User.id)
    ).all()
    return [ExpertView(r.id, r.email, r.display_name) for r in rows]


def add_expert(session: Session, actor_id: int, project_id: int, email: str) -> ExpertView:
    """Assign the registered user with this e-mail as an expert of the project; audited.

    Assigning someone twice changes nothing (and writes nothing)."""
    if session.get(Project, project_id) is None:
        raise NotFound("Project not found.")
    errors = Errors()
    address = clean_text(errors, "email", email, min_length=3, max_length=254).lower()
    errors.raise_if_any()
    user = session.execute(
        select(User.id, User.email, User.display_name).where(func.lower(User.email) == address)
    ).first()
    if user is None:
        raise invalid("email", N_("No account is registered with this e-mail address."))
    exists = session.get(ProjectExpert, (project_id, user.id))
    if exists is None:
        session.add(ProjectExpert(project_id=project_id, user_id=user.id, assigned_by=actor_id))
        audit.record(
            session,
            actor_id,
            "project.expert_add",
            "project",
            project_id,
            details={"expert": {"user_id": user.id, "email": user.email}},
        )
        session.flush()
    return ExpertView(user.id, user.email, user.display_name)


def remove_expert(session: Session, actor_id: int, project_id: int, user_id: int) -> bool:
    """Take the expert role in the project away from a user; audited. False if they had none."""
    row = session.get(ProjectExpert, (project_id, user_id))
    if row is None:
        return False
    email = session.scalar(select(User.email).where(User.id == user_id))
    session.delete(row)
    audit.record(
        session,
        actor_id,
        "project.expert_remove",
        "project",
        project_id,
        details={"expert": {"user_id": user_id, "email": email}},
    )
    session.flush()
    return True


def delete_project(session: Session, actor_id: int, project_id: int) -> None:
    """Delete a project that nobody has taken part in yet (no ideas, no ballots); audited.

    The permanent pool can never be deleted."""
    project = session.get(Project, project_id, with_for_update=True)
    if project is None:
        raise NotFound("Project not found.")
    if project.permanent or project.id == PERMANENT_PROJECT_ID:
        raise Conflict(N_("The permanent pool of ideas cannot be deleted."))
    if session.scalar(select(Idea.id).where(Idea.project_id == project_id).limit(1)) is not None:
        raise Conflict(N_("This project has ideas: close it instead of deleting it."))
    before = _snapshot(session, project)
    session.delete(project)
    audit.record(
        session, actor_id, "project.delete", "project", project_id, details={"before": before}
    )
    session.flush()


def form_values(session: Session, project_id: int, tz: ZoneInfo) -> dict[str, str]:
    """The edit form of a stored project, filled in (the same names ``parse_input`` reads)."""
    project = session.get(Project, project_id)
    if project is None:
        raise NotFound("Project not found.")
    values = {
        "title_ru": project.title_ru,
        "title_en": project.title_en,
        "description_ru": project.description_ru,
        "description_en": project.description_en,
        "source_note": project.source_note,
        "slug": project.slug,
        "languages": project.languages,
        "scope_district_id": str(project.scope_district_id or ""),
        "voting": project.voting,
        "approval_limit": str(project.approval_limit or ""),
        "rule": project.rule,
        "eligibility": project.eligibility,
        "published": "1" if project.published else "",
        "stage": project.stage_override or "",
        "reason": project.override_reason,
        "cover_alt": project.cover_alt,
    }
    for w in stored_windows(session, project_id):
        values[f"{w.stage}_starts_at"] = local_input(w.starts_at, tz)
        values[f"{w.stage}_ends_at"] = local_input(w.ends_at, tz)
    n = 0
    for pot in _pots(session, project_id):
        if pot.district_id is None:
            values["budget"] = str(pot.amount)
        else:
            values[f"pot_district_{n}"] = str(pot.district_id)
            values[f"pot_amount_{n}"] = str(pot.amount)
            n += 1
    return values
