"""A poll's results: counts, shares with 95 % intervals, the census correction and integrity.

The arithmetic is the pure core's (``ranking/polls.py``: :class:`~ranking.polls.PollTally`),
over the tally each worker keeps current per answer (``webapp/polls/tally.py``); this module
maps the core's arrays to what the pages, the CSV and the open data show.

Each resident's answer counts once (the database holds one response per resident and poll). For
every question: the counts and raw shares with 95 % Wilson intervals, and the shares
post-stratified by district: each district's answers re-weighted so that it weighs what its
population weighs among the districts that answered (``webapp/polls/population.py``). A
district without its own figure is weighted together with the rest of its okrug (the okrug's
figure less its districts' figures) when the okrug has one; answers from places with no figure
at all are left out of the corrected shares, and the results say how many were. The price of
the weights is Kish's design effect ``n·Σw²/(Σw)²``: the corrected shares are as precise as a
simple random sample of ``n / deff`` residents, and their intervals use that size. Scale
questions give the mean with its interval; ranking questions the mean place (1 = first) and the
share of first choices. The okrug breakdown is weighted within each okrug; the district one is
raw (inside one district weighting changes nothing).

Integrity: respondents whose submission the manipulation signals flag (bursts, waves of fresh
accounts, lockstep) are tallied apart, so the results state the flagged share and the raw shares
without them. Free-text "other" answers are counted, never shown: nothing here returns an
individual's answer.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from ranking.polls import Breakdown, Mean
from ranking.polls import Question as CoreQuestion
from ranking.polls import QuestionResult as CoreResult
from webapp.kernel.errors import NotFound
from webapp.kernel.storage.models import (
    District,
    Poll,
    PollOption,
    PollQuestion,
)
from webapp.polls.population import Population, population
from webapp.polls.tally import Layout, live_tally
from webapp.polls.tally import clear as clear_tallies
from webapp.polls.tally import note_answer as tally_note_answer
from webapp.taxonomy import shapes

log = logging.getLogger("veche")
Z = 1.959963984540054  # the 97.5 % normal quantile: 95 % intervals
CACHE_TTL_S = 30.0
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A share (0..1) or a mean, with its 95 % interval."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class OptionResult:
    option_id: int
    text_ru: str
    text_en: str
    count: int  # residents who chose it (ranking: who ranked it)
    raw: Estimate  # share of the question's respondents (ranking: mean rank)
    corrected: Estimate | None  # None: no answer from a place with a population figure
    clean: Estimate | None = None  # raw, without the flagged respondents (None: none flagged)

    def text(self, language: str) -> str:
        return self.text_en if language == "en" and self.text_en else self.text_ru


# A breakdown line with fewer respondents than this would show what a few people answered: such
# groups are pooled (and withheld when even the pool is this small).
MIN_GROUP = 5


@dataclass(frozen=True)
class GroupResult:
    """One okrug's or district's answers to a question (raw: the breakdown shows who said what)."""

    district_id: int | None  # None: residents without a district
    name_ru: str
    name_en: str
    respondents: int
    values: tuple[float, ...]  # per option: share (ranking: mean rank); scale: (mean,)

    def name(self, language: str) -> str:
        return self.name_en if language == "en" else self.name_ru


@dataclass(frozen=True)
class QuestionResult:
    question_id: int
    position: int
    kind: str
    text_ru: str
    text_en: str
    respondents: int
    options: tuple[OptionResult, ...]
    other_count: int  # free-text "other" answers (counted, never shown)
    mean: Estimate | None  # scale: raw mean
    corrected_mean: Estimate | None  # scale: post-stratified mean
    scale_min: int | None
    scale_max: int | None
    design_effect: float  # of this question's corrected estimates (1.0: none)
    okrugs: tuple[GroupResult, ...]
    districts: tuple[GroupResult, ...]
    clean_mean: Estimate | None = None  # scale: raw mean without the flagged respondents

    def text(self, language: str) -> str:
        return self.text_en if language == "en" and self.text_en else self.text_ru


@dataclass(frozen=True)
class PollResults:
    poll_id: int
    title_ru: str
    title_en: str
    simulated: bool
    public: bool  # visible to everyone now (False: officials' preview)
    closed: bool
    closes_at: datetime
    respondents: int
    covered: int  # respondents in places with a population figure (the correction's sample)
    design_effect: float
    effective_n: float
    source: str
    measure: str
    label: MappingProxyType[str, str]  # the source's short name per language
    measure_label: MappingProxyType[str, str]  # what the figures count, per language
    questions: tuple[QuestionResult, ...]
    computed_at: datetime
    flagged: int = 0  # respondents the manipulation signals flagged
    flagged_share: float = 0.0
    flagged_reasons: MappingProxyType[str, int] = field(  # burst, fresh, lockstep
        default_factory=lambda: MappingProxyType({})
    )
    without_district: int = 0  # respondents without a district (raw shares only)

    def title(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_ru

    def source_label(self, language: str) -> str:
        return self.label.get(language) or self.source

    def measure_text(self, language: str) -> str:
        return self.measure_label.get(language) or self.measure


# --- from the core's arrays to the pages' results -------------------------------------------------


def visible_to_public(poll: Poll, now: datetime) -> bool:
    """Results are public for a published poll after its close, or while open when live."""
    if not poll.published:
        return False
    return now >= poll.closes_at or (poll.results_live and now >= poll.opens_at)


@dataclass(frozen=True)
class Strata:
    """The post-stratification cells of the city's districts (``Layout.district_ids`` order)."""

    stratum_of: IntArray  # (D,) stratum, -1: no figure
    population: FloatArray  # (S,)
    okrug_of: IntArray  # (D,) okrug group 0..G-1
    okrug_ids: tuple[int, ...]  # group -> the okrug's district id


def strata(district_ids: tuple[int, ...], pop: Population) -> Strata:
    """A district with its own figure is a stratum; the others of an okrug share one, weighing
    the okrug's figure less its districts' figures, when that is known and positive."""
    rest: dict[int, float] = {o: float(p) for o, p in pop.okrug.items()}
    for d, own in pop.district.items():
        parent = pop.parent.get(d)
        if parent in rest:
            rest[parent] -= own
    keys: dict[tuple[str, int], int] = {}
    people: list[float] = []
    stratum = np.full(len(district_ids), -1, dtype=np.int64)
    okrug_ids: dict[int, int] = {}
    okrug = np.zeros(len(district_ids), dtype=np.int64)
    for i, d in enumerate(district_ids):
        o = pop.parent.get(d, d)
        okrug[i] = okrug_ids.setdefault(o, len(okrug_ids))
        key: tuple[str, int] | None = None
        figure = 0.0
        if d in pop.district:
            key, figure = ("d", d), float(pop.district[d])
        elif rest.get(o, 0.0) > 0:
            key, figure = ("o", o), rest[o]
        if key is None:
            continue
        if key not in keys:
            keys[key] = len(people)
            people.append(figure)
        stratum[i] = keys[key]
    return Strata(stratum, np.asarray(people, dtype=np.float64), okrug, tuple(okrug_ids))


def _est(value: float, low: float, high: float) -> Estimate | None:
    if not (math.isfinite(value) and math.isfinite(low) and math.isfinite(high)):
        return None
    return Estimate(float(value), float(low), float(high))


def _mean_est(mean: Mean | None) -> Estimate | None:
    if mean is None or not math.isfinite(mean.mean):
        return None
    low = mean.low if math.isfinite(mean.low) else mean.mean
    high = mean.high if math.isfinite(mean.high) else mean.mean
    return Estimate(mean.mean, low, high)


def _place(positions: FloatArray, n: float, z: float) -> tuple[float, float]:
    """Mean place (1 = first) of one option from its counts per place, and the interval's half."""
    total = float(positions.sum())
    if total <= 0:
        return float("nan"), float("nan")
    places = np.arange(1, positions.size + 1, dtype=np.float64)
    mean = float(places @ positions / total)
    var = float(((places - mean) ** 2) @ positions / total)
    half = z * math.sqrt(var / n) if n > 1 else 0.0
    return mean, half


def _groups(
    question: CoreQuestion,
    breakdown: Breakdown | None,
    ids: tuple[int, ...],
    names: dict[int, tuple[str, str]],
    n_options: int,
) -> tuple[GroupResult, ...]:
    """The breakdown's columns as lines; a column with fewer than ``MIN_GROUP`` respondents
    would show what a few people answered, so small columns are pooled into one "other places"
    line (``district_id`` -1, raw), withheld when even the pool is that small."""
    if breakdown is None:
        return ()
    out: list[GroupResult] = []
    pooled_counts = np.zeros(breakdown.counts.shape[0])
    pooled = 0
    for j, gid in enumerate(ids):
        n = int(round(float(breakdown.respondents[j])))
        if n <= 0:
            continue
        if n < MIN_GROUP:
            pooled += n
            pooled_counts += breakdown.counts[:, j]
            continue
        raw_counts = breakdown.counts[:, j]
        if question.kind == "scale":
            assert breakdown.mean is not None
            values: tuple[float, ...] = (float(breakdown.mean[j]),)
            if not math.isfinite(values[0]):  # no population figures here: as answered
                values = (float(question.scale_values @ raw_counts / n),)
        else:
            values = tuple(float(v) for v in breakdown.share[:n_options, j])
            if not all(math.isfinite(v) for v in values):
                values = tuple(float(v) / n for v in raw_counts[:n_options])
        name_ru, name_en = names.get(gid, ("", ""))
        out.append(GroupResult(gid, name_ru, name_en, n, values))
    if pooled:
        values = ()
        if pooled >= MIN_GROUP:
            if question.kind == "scale":
                values = (float(question.scale_values @ pooled_counts / pooled),)
            else:
                values = tuple(float(v) / pooled for v in pooled_counts[:n_options])
        out.append(
            GroupResult(
                -1,
                f"Остальные места (меньше {MIN_GROUP} ответов в каждом)",
                f"Other places (fewer than {MIN_GROUP} answers each)",
                pooled,
                values,
            )
        )
    return tuple(sorted(out, key=lambda g: (g.district_id == -1, -g.respondents, g.name_ru)))


def _question(
    layout: Layout,
    qi: int,
    question: PollQuestion,
    options: list[PollOption],
    core: CoreResult,
    clean: CoreResult | None,
    names: dict[int, tuple[str, str]],
    okrug_ids: tuple[int, ...],
    z: float,
) -> QuestionResult:
    spec = layout.spec.questions[qi]
    n_q = core.respondents
    m = len(options)
    cov = core.coverage
    n_eff = cov.n_eff if math.isfinite(cov.n_eff) else 0.0
    option_results: list[OptionResult] = []
    mean = corrected_mean = clean_mean = None
    if question.kind in ("single", "multiple"):
        for i, opt in enumerate(options):
            raw = Estimate(
                float(core.raw.share[i]) if n_q else 0.0,
                float(core.raw.low[i]) if n_q else 0.0,
                float(core.raw.high[i]) if n_q else 0.0,
            )
            corrected = _est(core.weighted.share[i], core.weighted.low[i], core.weighted.high[i])
            cleaned = (
                _est(clean.raw.share[i], clean.raw.low[i], clean.raw.high[i]) if clean else None
            )
            option_results.append(
                OptionResult(
                    opt.id, opt.text_ru, opt.text_en, int(core.counts[i]), raw, corrected, cleaned
                )
            )
    elif question.kind == "ranking":
        assert core.ranking is not None
        positions = core.ranking.positions.astype(np.float64)
        for i, opt in enumerate(options):
            place, half = _place(positions[i], float(n_q), z)
            raw = (
                Estimate(place, place - half, place + half)
                if math.isfinite(place)
                else (Estimate(0.0, 0.0, 0.0))
            )
            corrected = None
            wb = float(core.ranking.weighted_borda[i])
            if math.isfinite(wb) and math.isfinite(place) and n_eff > 0:
                # every ranking is a full order: mean place = options - mean Borda points
                c_place = spec.n_options - wb
                c_half = half * math.sqrt(n_q / n_eff) if n_eff else 0.0
                corrected = Estimate(c_place, c_place - c_half, c_place + c_half)
            cleaned = None
            if clean is not None and clean.ranking is not None:
                c_pl, c_h = _place(
                    clean.ranking.positions[i].astype(np.float64), clean.respondents, z
                )
                cleaned = _est(c_pl, c_pl - c_h, c_pl + c_h)
            option_results.append(
                OptionResult(
                    opt.id,
                    opt.text_ru,
                    opt.text_en,
                    int(core.ranking.ranked[i]),
                    raw,
                    corrected,
                    cleaned,
                )
            )
    else:  # scale
        mean = _mean_est(core.mean)
        corrected_mean = _mean_est(core.weighted_mean)
        clean_mean = _mean_est(clean.mean) if clean else None
    other_count = 0
    if layout.other[qi] >= 0:
        other_count = int(core.counts[layout.other[qi]])
    deff = cov.deff if math.isfinite(cov.deff) else 1.0
    return QuestionResult(
        question.id,
        question.position,
        question.kind,
        question.text_ru,
        question.text_en,
        n_q,
        tuple(option_results),
        other_count,
        mean,
        corrected_mean,
        question.scale_min,
        question.scale_max,
        deff,
        _groups(spec, core.by_okrug, okrug_ids, names, m),
        _groups(spec, core.by_district, layout.district_ids, names, m),
        clean_mean,
    )


def compute(session: Session, poll: Poll, pop: Population, now: datetime) -> PollResults:
    """The results of ``poll`` from this worker's live tally (built on first use)."""
    live = live_tally(session, poll)
    layout = live.layout
    cells = strata(layout.district_ids, pop)
    if not layout.district_ids:  # a city without districts yet: the core's one placeholder
        cells = Strata(np.full(1, -1, np.int64), np.zeros(0), np.zeros(1, np.int64), ())
    with live.lock:
        flags = live.flags
        integrity = live.tally.integrity(
            cells.population, cells.okrug_of, stratum_of=cells.stratum_of
        )
        n_resp = live.tally.n_respondents
    core, clean = integrity.with_flagged, integrity.without_flagged
    names: dict[int, tuple[str, str]] = {
        d.id: (d.name_ru, d.name_en)
        for d in session.execute(select(District.id, District.name_ru, District.name_en))
    }
    questions = session.scalars(
        select(PollQuestion)
        .where(PollQuestion.poll_id == poll.id)
        .order_by(PollQuestion.position, PollQuestion.id)
    ).all()
    options_by_q: dict[int, list[PollOption]] = {}
    for opt in session.scalars(
        select(PollOption)
        .join(PollQuestion, PollQuestion.id == PollOption.question_id)
        .where(PollQuestion.poll_id == poll.id)
        .order_by(PollOption.position, PollOption.id)
    ):
        options_by_q.setdefault(opt.question_id, []).append(opt)
    z = Z
    results: list[QuestionResult] = []
    for question in questions:
        qi = layout.q_index.get(question.id)
        if qi is None:  # pragma: no cover - the layout is rebuilt when questions change
            continue
        results.append(
            _question(
                layout,
                qi,
                question,
                options_by_q.get(question.id, []),
                core.questions[qi],
                clean.questions[qi] if integrity.flagged else None,
                names,
                cells.okrug_ids,
                z,
            )
        )
    # the poll's figures: those of its most answered question
    main = max(core.questions, key=lambda q: q.respondents) if core.questions else None
    covered = main.coverage.weighted if main else 0
    deff = main.coverage.deff if main and math.isfinite(main.coverage.deff) else 1.0
    return PollResults(
        poll.id,
        poll.title_ru,
        poll.title_en,
        poll.simulated,
        visible_to_public(poll, now),
        now >= poll.closes_at,
        poll.closes_at,
        n_resp,
        covered,
        deff,
        covered / deff if covered else 0.0,
        pop.source,
        pop.measure,
        pop.label,
        pop.measure_label,
        tuple(results),
        now,
        flags.flagged,
        flags.flagged / n_resp if n_resp else 0.0,
        MappingProxyType({"burst": flags.burst, "fresh": flags.fresh, "lockstep": flags.lockstep}),
        main.coverage.unknown_district if main else 0,
    )


# --- the district map ------------------------------------------------------------------------


def district_map(session: Session, lang: str, audience: tuple[int, ...]) -> shapes.MapShapes | None:
    """The district map, zoomed to the poll's okrugs when it asks only some; None without a
    usable boundary file (the page then has no map, only the tables)."""
    okrugs: list[str] | None = None
    if audience:
        rows = session.execute(
            select(District.id, District.slug, District.parent_id).where(District.id.in_(audience))
        ).all()
        parents = {r.parent_id for r in rows if r.parent_id is not None}
        slugs = {r.slug for r in rows if r.parent_id is None}
        if parents:
            slugs |= set(session.scalars(select(District.slug).where(District.id.in_(parents))))
        okrugs = sorted(slugs) or None
    try:
        return shapes.map_shapes(session, lang, okrugs=okrugs)
    except shapes.BoundaryFileError:
        log.warning("poll results: no district map", exc_info=True)
        return None


# --- the use-case, cached per worker ---------------------------------------------------------------

_cache: dict[tuple[int, str], tuple[tuple[object, ...], float, PollResults]] = {}
_cache_lock = threading.Lock()


# The last results each reader kind got, for FRESH_S: readers arriving within it need no
# database round trip at all (the other workers' answers reach the tally within the same second
# anyway: tally.SYNC_INTERVAL_S); an answer taken by this worker drops it (note_answer).
FRESH_S = 1.0
_recent: dict[tuple[int, str, bool], tuple[float, PollResults]] = {}


def recent(poll_id: int, population_file: str, staff: bool) -> PollResults | None:
    """The results served less than ``FRESH_S`` ago to the same kind of reader, if any."""
    with _cache_lock:
        hit = _recent.get((poll_id, population_file, staff))
    if hit is None or time.monotonic() - hit[0] >= FRESH_S:
        return None
    if not staff and not hit[1].public:  # pragma: no cover - a staff result never goes here
        return None
    return hit[1]


def note_answer(poll_id: int) -> None:
    """An answer to ``poll_id`` was committed by this worker: its next reader sees it."""
    tally_note_answer(poll_id)
    with _cache_lock:
        for key in [k for k in _recent if k[0] == poll_id]:
            del _recent[key]


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _recent.clear()
    clear_tallies()


def poll_results(
    session: Session, poll_id: int, *, staff: bool = False, population_file: str = ""
) -> PollResults:
    """The results of a poll: ``NotFound`` unless public now (after the close, or live) or the
    reader is an official or admin (``staff``: the preview, ``public`` False).

    Cached per worker while the worker's tally of the poll (``webapp/polls/tally.py``, current
    per answer) and the poll's settings are unchanged, for ``CACHE_TTL_S`` at most.
    """
    poll = session.get(Poll, poll_id)
    now = datetime.now(UTC)
    if poll is None or (not staff and not visible_to_public(poll, now)):
        raise NotFound("Poll not found.")
    live = live_tally(session, poll)
    stamp: tuple[object, ...] = (
        id(live),
        live.version,
        poll.updated_at,
        poll.published,
        poll.results_live,
        poll.closes_at,
        visible_to_public(poll, now),
        now >= poll.closes_at,
    )
    key = (poll_id, population_file)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] == stamp and time.monotonic() - hit[1] < CACHE_TTL_S:
        with _cache_lock:
            _recent[(poll_id, population_file, staff)] = (time.monotonic(), hit[2])
        return hit[2]
    out = compute(session, poll, population(session, population_file), now)
    with _cache_lock:
        _cache[key] = (stamp, time.monotonic(), out)
        _recent[(poll_id, population_file, staff)] = (time.monotonic(), out)
        if len(_cache) > 256:
            _cache.pop(next(iter(_cache)))
    return out
