"""A poll's results: counts, shares with 95 % intervals, and the census correction.

Each resident's answer counts once (the database holds one response per resident and poll). For
every question the results give the counts and raw shares with 95 % Wilson intervals, and the
shares post-stratified by district: each district's answers re-weighted so that it weighs what
its population weighs among the districts that answered (``webapp/polls/population.py``). A
district without its own figure falls back on the rest of its okrug (the okrug's figure less its
districts' figures) when the okrug has one; answers from places with no figure at all are left
out of the corrected shares, and the results say how many were. The price of the weights is the
Kish design effect ``n·Σw²/(Σw)²``: the corrected shares are as precise as a simple random
sample of ``n / deff`` residents, and their intervals use that size. Scale questions give the
mean with its interval; ranking questions the mean rank (1 = first; the Borda order). Free-text
"other" answers are counted, never shown: nothing here returns an individual's answer.

Reading is two streamed queries (responses, answers) into integer arrays; the arithmetic is
NumPy. A per-worker cache keyed by the poll's answer count and last answer time keeps the page
cheap under load.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.kernel.errors import NotFound
from webapp.kernel.storage.models import (
    District,
    Poll,
    PollAnswer,
    PollOption,
    PollQuestion,
    PollResponse,
)
from webapp.polls.population import Population, population

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

    def title(self, language: str) -> str:
        return self.title_en if language == "en" and self.title_en else self.title_ru

    def source_label(self, language: str) -> str:
        return self.label.get(language) or self.source

    def measure_text(self, language: str) -> str:
        return self.measure_label.get(language) or self.measure


# --- statistics (thin local helpers; see ranking/ for the pure core) -------------------------------


def wilson(successes: float, n: float) -> Estimate:
    """The share ``successes / n`` with its 95 % Wilson interval (``n`` may be an effective size)."""
    if n <= 0:
        return Estimate(0.0, 0.0, 0.0)
    p = min(max(successes / n, 0.0), 1.0)
    z2 = Z * Z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = Z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(values: FloatArray, weights: FloatArray | None = None) -> Estimate | None:
    """The (weighted) mean with a normal 95 % interval; the effective size under weights."""
    if values.size == 0:
        return None
    if weights is None:
        weights = np.ones_like(values)
    total = float(weights.sum())
    if total <= 0:
        return None
    mean = float((weights * values).sum() / total)
    n_eff = total * total / float((weights * weights).sum())
    var = float((weights * (values - mean) ** 2).sum() / total)
    half = Z * math.sqrt(var / n_eff) if n_eff > 1 else 0.0
    return Estimate(mean, mean - half, mean + half)


def kish(weights: FloatArray) -> float:
    """Kish's design effect of unequal weights, ``n·Σw²/(Σw)²`` (1.0 for equal weights)."""
    total = float(weights.sum())
    if weights.size == 0 or total <= 0:
        return 1.0
    return float(weights.size * float((weights * weights).sum()) / (total * total))


def stratum_weights(strata: IntArray, stratum_pop: FloatArray) -> FloatArray:
    """Post-stratification weights (mean 1) of respondents in ``strata`` (-1: no figure, weight 0).

    Each stratum with respondents weighs its population's share among those strata.
    """
    weights = np.zeros(strata.size, dtype=np.float64)
    covered = strata >= 0
    if not covered.any():
        return weights
    counts = np.bincount(strata[covered], minlength=stratum_pop.size).astype(np.float64)
    present = counts > 0
    pop_total = float(stratum_pop[present].sum())
    n = float(counts.sum())
    per = np.zeros_like(counts)
    per[present] = (stratum_pop[present] / pop_total) / (counts[present] / n)
    weights[covered] = per[strata[covered]]
    return weights


# --- reading -------------------------------------------------------------------------------------


def visible_to_public(poll: Poll, now: datetime) -> bool:
    """Results are public for a published poll after its close, or while open when live."""
    if not poll.published:
        return False
    return now >= poll.closes_at or (poll.results_live and now >= poll.opens_at)


def _strata(
    resp_district: IntArray, pop: Population
) -> tuple[IntArray, FloatArray, dict[int, int]]:
    """Each respondent's stratum (-1: none), the strata's populations, district -> okrug."""
    okrug_rest: dict[int, float] = {o: float(p) for o, p in pop.okrug.items()}
    for d, figure in pop.district.items():
        parent = pop.parent.get(d)
        if parent in okrug_rest:
            okrug_rest[parent] -= figure
    keys: dict[tuple[str, int], int] = {}
    people_of: list[float] = []
    strata = np.full(resp_district.size, -1, dtype=np.int64)
    for district_id in np.unique(resp_district):
        d = int(district_id)
        if d < 0:
            continue
        key: tuple[str, int] | None = None
        people = 0.0
        if d in pop.district:
            key, people = ("d", d), float(pop.district[d])
        else:
            o = pop.parent.get(d, d)
            if okrug_rest.get(o, 0.0) > 0:
                key, people = ("o", o), okrug_rest[o]
        if key is None:
            continue
        if key not in keys:
            keys[key] = len(people_of)
            people_of.append(people)
        strata[resp_district == d] = keys[key]
    return strata, np.asarray(people_of, dtype=np.float64), dict(pop.parent)


def _groups(
    group_of: IntArray,
    answered: npt.NDArray[np.bool_],
    per_option: FloatArray | None,
    names: dict[int, tuple[str, str]],
    nan_mean: bool = False,
) -> tuple[GroupResult, ...]:
    """Raw values per group (okrug or district) among the question's respondents.

    A group with fewer than ``MIN_GROUP`` respondents would show what those few people answered,
    so small groups are pooled into one "other places" line (``district_id`` -1); if even the
    pool is that small, its values are withheld (empty) and only its size is shown.
    """
    out: list[GroupResult] = []
    ids = group_of[answered]
    small = np.zeros_like(answered)

    def values_of(mask: npt.NDArray[np.bool_]) -> tuple[float, ...]:
        if per_option is None:
            return ()
        block = per_option[mask]
        if nan_mean:
            with np.errstate(invalid="ignore"):
                col = np.nanmean(block, axis=0)
            return tuple(float(v) if not math.isnan(v) else 0.0 for v in col)
        return tuple(float(v) for v in block.mean(axis=0))

    for g in np.unique(ids):
        mask = answered & (group_of == g)
        n = int(mask.sum())
        if n < MIN_GROUP:
            small |= mask
            continue
        gid = int(g)
        name_ru, name_en = names.get(gid, ("", ""))
        out.append(GroupResult(gid if gid >= 0 else None, name_ru, name_en, n, values_of(mask)))
    pooled = int(small.sum())
    if pooled:
        out.append(
            GroupResult(
                -1,
                f"Остальные места (меньше {MIN_GROUP} ответов в каждом)",
                f"Other places (fewer than {MIN_GROUP} answers each)",
                pooled,
                values_of(small) if pooled >= MIN_GROUP else (),
            )
        )
    return tuple(
        sorted(out, key=lambda g: (g.district_id in (None, -1), -g.respondents, g.name_ru))
    )


def compute(session: Session, poll: Poll, pop: Population, now: datetime) -> PollResults:
    """The results of ``poll`` from its stored responses (two streamed queries)."""
    resp_rows = session.execute(
        select(PollResponse.id, PollResponse.district_id)
        .where(PollResponse.poll_id == poll.id)
        .order_by(PollResponse.id)
        .execution_options(yield_per=10_000)
    )
    ids_list: list[int] = []
    dist_list: list[int] = []
    for rid, did in resp_rows:
        ids_list.append(rid)
        dist_list.append(-1 if did is None else did)
    resp_ids = np.asarray(ids_list, dtype=np.int64)
    resp_district = np.asarray(dist_list, dtype=np.int64)
    n_resp = resp_ids.size

    a_q: list[int] = []
    a_r: list[int] = []
    a_o: list[int] = []
    a_v: list[int] = []
    answer_rows = session.execute(
        select(
            PollAnswer.question_id, PollAnswer.response_id, PollAnswer.option_id, PollAnswer.value
        )
        .join(PollResponse, PollResponse.id == PollAnswer.response_id)
        .where(PollResponse.poll_id == poll.id)
        .execution_options(yield_per=50_000)
    )
    for q, r, o, v in answer_rows:
        a_q.append(q)
        a_r.append(r)
        a_o.append(-1 if o is None else o)
        a_v.append(-(2**62) if v is None else v)
    ans_q = np.asarray(a_q, dtype=np.int64)
    ans_r = np.searchsorted(resp_ids, np.asarray(a_r, dtype=np.int64))
    ans_o = np.asarray(a_o, dtype=np.int64)
    ans_v = np.asarray(a_v, dtype=np.int64)

    names: dict[int, tuple[str, str]] = {}
    parent: dict[int, int | None] = {}
    for d in session.execute(
        select(District.id, District.name_ru, District.name_en, District.parent_id)
    ):
        names[d.id] = (d.name_ru, d.name_en)
        parent[d.id] = d.parent_id
    okrug_of = np.asarray(
        [-1 if d < 0 else (parent.get(d) or d) for d in dist_list], dtype=np.int64
    )

    strata, stratum_pop, _ = _strata(resp_district, pop)
    all_w = stratum_weights(strata, stratum_pop)
    covered_mask = strata >= 0
    poll_deff = kish(all_w[covered_mask])
    covered = int(covered_mask.sum())

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

    results: list[QuestionResult] = []
    for question in questions:
        opts = options_by_q.get(question.id, [])
        k = len(opts)
        sel = ans_q == question.id
        q_r, q_o, q_v = ans_r[sel], ans_o[sel], ans_v[sel]
        answered = np.zeros(n_resp, dtype=np.bool_)
        answered[q_r] = True
        n_q = int(answered.sum())
        other_count = int(np.unique(q_r[q_o < 0]).size) if question.kind != "scale" else 0
        col_of = {opt.id: i for i, opt in enumerate(opts)}
        cols = np.asarray([col_of.get(int(o), -1) for o in q_o], dtype=np.int64)
        known = cols >= 0

        q_strata = np.where(answered, strata, -1)
        w_all = stratum_weights(q_strata, stratum_pop)
        in_corr = answered & (q_strata >= 0)
        w = w_all[in_corr]
        deff = kish(w) if w.size else 1.0
        n_eff = (w.size / deff) if w.size else 0.0

        option_results: list[OptionResult] = []
        mean = corrected_mean = None
        per_option: FloatArray | None = None
        nan_mean = False
        if question.kind in ("single", "multiple"):
            chosen = np.zeros((n_resp, k), dtype=np.float64)
            chosen[q_r[known], cols[known]] = 1.0
            per_option = chosen
            for i, opt in enumerate(opts):
                count = int(chosen[answered, i].sum())
                corrected = (
                    wilson(float((w * chosen[in_corr, i]).sum()) / float(w.sum()) * n_eff, n_eff)
                    if w.size
                    else None
                )
                option_results.append(
                    OptionResult(
                        opt.id, opt.text_ru, opt.text_en, count, wilson(count, n_q), corrected
                    )
                )
        elif question.kind == "ranking":
            ranks = np.full((n_resp, k), np.nan, dtype=np.float64)
            ranks[q_r[known], cols[known]] = q_v[known].astype(np.float64)
            per_option = ranks
            nan_mean = True
            for i, opt in enumerate(opts):
                col = ranks[:, i]
                has = answered & ~np.isnan(col)
                raw = mean_interval(col[has]) or Estimate(0.0, 0.0, 0.0)
                has_c = in_corr & ~np.isnan(col)
                corrected = mean_interval(col[has_c], w_all[has_c]) if has_c.any() else None
                option_results.append(
                    OptionResult(opt.id, opt.text_ru, opt.text_en, int(has.sum()), raw, corrected)
                )
        else:  # scale
            values = np.full(n_resp, np.nan, dtype=np.float64)
            ok = q_v > -(2**62)
            values[q_r[ok]] = q_v[ok].astype(np.float64)
            has = answered & ~np.isnan(values)
            mean = mean_interval(values[has])
            has_c = in_corr & ~np.isnan(values)
            corrected_mean = mean_interval(values[has_c], w_all[has_c]) if has_c.any() else None
            per_option = values.reshape(-1, 1)
            nan_mean = True

        results.append(
            QuestionResult(
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
                _groups(okrug_of, answered, per_option, names, nan_mean),
                _groups(resp_district, answered, per_option, names, nan_mean),
            )
        )

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
        poll_deff,
        covered / poll_deff if covered else 0.0,
        pop.source,
        pop.measure,
        pop.label,
        pop.measure_label,
        tuple(results),
        now,
    )


# --- the use-case, cached per worker ---------------------------------------------------------------

_cache: dict[tuple[int, str], tuple[tuple[object, ...], float, PollResults]] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def poll_results(
    session: Session, poll_id: int, *, staff: bool = False, population_file: str = ""
) -> PollResults:
    """The results of a poll: ``NotFound`` unless public now (after the close, or live) or the
    reader is an official or admin (``staff``: the preview, ``public`` False).

    Cached per worker for ``CACHE_TTL_S`` while the poll's answer count, last answer time and
    settings are unchanged.
    """
    poll = session.get(Poll, poll_id)
    now = datetime.now(UTC)
    if poll is None or (not staff and not visible_to_public(poll, now)):
        raise NotFound("Poll not found.")
    count, last = session.execute(
        select(func.count(PollResponse.id), func.max(PollResponse.updated_at)).where(
            PollResponse.poll_id == poll_id
        )
    ).one()
    stamp: tuple[object, ...] = (
        count,
        last,
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
        return hit[2]
    out = compute(session, poll, population(session, population_file), now)
    with _cache_lock:
        _cache[key] = (stamp, time.monotonic(), out)
        if len(_cache) > 256:
            _cache.pop(next(iter(_cache)))
    return out
