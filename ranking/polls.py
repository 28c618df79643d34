"""City polls: tallies, confidence intervals and post-stratification in pure NumPy.

A poll has questions of four kinds (:class:`Question`): single choice, multiple choice (up to
``k`` ticks), a rating scale (one option per scale point) and ranking (the respondent orders up
to ``k`` options). Answers arrive as rows of integer arrays (respondent, question, option and,
for ranking questions, the position 0 = first choice), and each respondent has a district
(``0..D-1``, or ``-1`` unknown) and a flag (set by the integrity signals).

:class:`PollTally` keeps, per *cell* (a question's option, or for a ranking question an
``(option, position)`` pair) and per *stratum* (district or unknown, flagged or not), the number
of answers, and per question and stratum the number of respondents. It is built from the arrays
with one ``np.bincount`` over a flattened index and then kept current one respondent at a time
(:meth:`PollTally.add`, :meth:`PollTally.remove`, :meth:`PollTally.replace`), exactly equal to a
rebuild. Everything a results page shows is computed from these small tables
(:meth:`PollTally.results`), so it costs the same for ten answers or ten million.

Statistics (what a survey statistician would insist on; the results page explains them in plain
words):

- **Shares are of respondents.** For a multiple-choice question an option's share is the share of
  the question's respondents who ticked it (the shares add up to more than 100 %); for a ranking
  question the shares are first-choice shares, with the Borda score and mean rank beside them.
- **Intervals.** 95 % Wilson score intervals (:func:`wilson`; Wilson 1927), which stay inside
  [0, 1] and keep their coverage for small counts and shares near 0 or 1, unlike the normal
  ("Wald") interval (Brown, Cai & DasGupta 2001, *Statistical Science* 16(2)). For a weighted
  share the interval is Wilson's with the sample size replaced by Kish's effective sample size
  ``n_eff = n / deff`` (Kish 1965, *Survey Sampling*, §11.7; Korn & Graubard 1998, *Survey
  Methodology* 24(2); Dean & Pagano 2015, *Statistics in Medicine* 34(28), who found Wilson with
  the effective sample size among the best intervals for survey proportions).
- **Post-stratification** (:func:`poststratify`). Each district counts by its share of the
  population: a respondent of district ``d`` weighs ``w_d = (N_d / N) / (n_d / n)``, where ``N_d``
  is the district's population, ``n_d`` its respondents, and ``N``, ``n`` the sums over the
  *covered* districts (population known and at least one respondent). Districts with population
  but no respondent are reported (``uncovered``, and the share of the population they hold) and
  the weights are renormalised over the covered districts: the weighted estimate describes the
  covered part of the city, and the page must say how much of it that is. Respondents whose
  district is unknown, or whose district has no population figure, cannot be weighted: they are
  left out of the weighted estimate and counted separately (``unknown_district``,
  ``no_population``); they remain in the raw shares. The design effect of the weights is Kish's
  ``deff = n * sum(w_i^2) / (sum w_i)^2`` (1 when the sample is proportional to the population).
- **Integrity.** Flagged respondents are tallied apart; every result is available with and
  without them (:meth:`PollTally.integrity`), with the flagged share. :func:`poll_signals` runs
  the ranking core's burst, fresh-account and lockstep detectors over poll submissions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from ranking.arrays import Users, Votes
from ranking.signals import SignalConfig, Signals, detect_signals

Kind = Literal["single", "multiple", "scale", "ranking"]
KINDS: tuple[Kind, ...] = ("single", "multiple", "scale", "ranking")
UNKNOWN = -1
"""District index of a respondent whose district is unknown."""

Float = NDArray[np.float64]
Int = NDArray[np.int64]


# --------------------------------------------------------------------------- intervals


def z_value(confidence: float = 0.95) -> float:
    """The two-sided normal quantile for ``confidence`` (1.959964 for 0.95).

    >>> round(z_value(0.95), 6)
    1.959964
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return float(ndtri(0.5 + confidence / 2))


def wilson(share: object, n: object, confidence: float = 0.95) -> tuple[Float, Float]:
    """Wilson score interval of a share, vectorised.

    ``low, high = (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` with ``p = share``.
    ``n`` may be fractional: for a weighted share pass Kish's effective sample size (see the
    module docstring). Where ``n <= 0`` or the share is NaN both bounds are NaN.

    Parameters
    ----------
    share : array-like of float in [0, 1].
    n : array-like, broadcastable with ``share``: the sample size (or effective sample size).
    confidence : float, default 0.95.

    Returns
    -------
    (low, high) : float64 arrays of the broadcast shape.

    Examples
    --------
    50 of 100 (the textbook value is [0.404, 0.596]):

    >>> low, high = wilson(0.5, 100)
    >>> round(float(low), 4), round(float(high), 4)
    (0.4038, 0.5962)
    >>> [round(float(x), 4) for x in wilson(0.0, 10)[1:]]
    [0.2775]
    """
    z = z_value(confidence)
    p, m = np.broadcast_arrays(np.asarray(share, dtype=np.float64), np.asarray(n, np.float64))
    ok = (m > 0) & np.isfinite(p)
    safe_n = np.where(ok, m, 1.0)
    safe_p = np.where(ok, np.clip(p, 0.0, 1.0), 0.5)
    z2 = z * z / safe_n
    centre = (safe_p + z2 / 2) / (1 + z2)
    half = z / (1 + z2) * np.sqrt(safe_p * (1 - safe_p) / safe_n + z2 / (4 * safe_n))
    low = np.where(ok, np.maximum(centre - half, 0.0), np.nan)
    high = np.where(ok, np.minimum(centre + half, 1.0), np.nan)
    return low.astype(np.float64), high.astype(np.float64)


# --------------------------------------------------------------------------- questions


@dataclass(frozen=True)
class Question:
    """One question of a poll.

    Attributes
    ----------
    kind : ``"single"``, ``"multiple"``, ``"scale"`` or ``"ranking"``.
    n_options : number of options (for a scale: of scale points, lowest first).
    max_choices : multiple choice: at most this many ticks; ranking: at most this many options
        ranked (positions ``0..max_choices-1``). Defaults to ``n_options``; 1 for single/scale.
    values : scale only: the value of each point, for the mean (default ``1..n_options``).
    """

    kind: Kind
    n_options: int
    max_choices: int | None = None
    values: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if isinstance(self.n_options, bool) or not isinstance(self.n_options, int):
            raise ValueError(f"n_options must be an integer, got {self.n_options!r}")
        if self.n_options < (2 if self.kind != "multiple" else 1):
            raise ValueError(f"a {self.kind} question needs more options, got {self.n_options}")
        k = self.max_choices
        if k is not None:
            if self.kind in ("single", "scale"):
                raise ValueError(f"max_choices is for multiple and ranking, not {self.kind}")
            if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.n_options:
                raise ValueError(f"max_choices must be in 1..{self.n_options}, got {k!r}")
        if self.values is not None:
            if self.kind != "scale":
                raise ValueError("values are for scale questions only")
            if len(self.values) != self.n_options or not all(
                np.isfinite(float(v)) for v in self.values
            ):
                raise ValueError(f"values must be {self.n_options} finite numbers")

    @property
    def limit(self) -> int:
        """The most answer rows one respondent may give to this question."""
        if self.kind in ("single", "scale"):
            return 1
        return self.max_choices or self.n_options

    @property
    def positions(self) -> int:
        """Positions tallied per option: the ranked places for ranking, else 1."""
        return self.limit if self.kind == "ranking" else 1

    @property
    def scale_values(self) -> Float:
        """The value of each option (scale questions; ``1..n_options`` by default)."""
        if self.values is not None:
            return np.asarray(self.values, dtype=np.float64)
        return np.arange(1, self.n_options + 1, dtype=np.float64)


@dataclass(frozen=True)
class Ballot:
    """One respondent's answers to a poll, validated against its :class:`PollSpec`.

    Build it with :meth:`PollSpec.ballot` or :meth:`PollSpec.ballot_rows`. ``cells`` are the
    tally cells it adds to, ``questions`` the distinct questions it answers (sorted).
    """

    question: Int
    option: Int
    position: Int
    cells: Int
    questions: Int


@dataclass(frozen=True)
class PollSpec:
    """A poll's questions and its city's number of districts.

    >>> spec = PollSpec((Question("single", 3), Question("ranking", 4, max_choices=2)), 5)
    >>> spec.n_cells, spec.cell_offset.tolist()
    (11, [0, 3, 11])
    """

    questions: tuple[Question, ...]
    n_districts: int
    cell_offset: Int = field(init=False, repr=False, compare=False)
    cell_table: Int = field(init=False, repr=False, compare=False)
    """(questions, max options, max positions) int64: each answer's cell, or -1 if impossible."""

    def __post_init__(self) -> None:
        if not self.questions or not all(isinstance(q, Question) for q in self.questions):
            raise ValueError("a poll needs at least one Question")
        d = self.n_districts
        if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 30_000:
            raise ValueError(f"n_districts must be an integer in 1..30000, got {d!r}")
        sizes = [q.n_options * q.positions for q in self.questions]
        offset = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offset[1:])
        object.__setattr__(self, "cell_offset", offset)
        m = max(q.n_options for q in self.questions)
        k = max(q.positions for q in self.questions)
        table = np.full((len(sizes), m, k), -1, dtype=np.int64)
        for qi, q in enumerate(self.questions):
            block = np.arange(sizes[qi], dtype=np.int64) + offset[qi]
            table[qi, : q.n_options, : q.positions] = block.reshape(q.n_options, q.positions)
        table.flags.writeable = False
        object.__setattr__(self, "cell_table", table)

    @property
    def n_questions(self) -> int:
        return len(self.questions)

    @property
    def n_cells(self) -> int:
        return int(self.cell_offset[-1])

    def _table(self, name: str) -> Int:
        return np.asarray([getattr(q, name) for q in self.questions], dtype=np.int64)

    def ballot(self, answers: Mapping[int, int | Sequence[int]]) -> Ballot:
        """A respondent's answers as ``{question: option}`` (single, scale) or
        ``{question: [options]}`` (multiple: the ticked ones; ranking: in order, first choice
        first).

        >>> spec = PollSpec((Question("single", 3), Question("ranking", 4, max_choices=2)), 5)
        >>> spec.ballot({0: 2, 1: [3, 0]}).cells.tolist()
        [2, 9, 4]
        """
        question: list[int] = []
        option: list[int] = []
        position: list[int] = []
        for q, choice in answers.items():
            if isinstance(q, bool) or not isinstance(q, int | np.integer):
                raise ValueError(f"question indices must be integers, got {q!r}")
            picked = [choice] if isinstance(choice, int | np.integer) else list(choice)
            question += [int(q)] * len(picked)
            option += [int(o) for o in picked]
            position += (
                list(range(len(picked))) if self._kind(int(q)) == "ranking" else [0] * len(picked)
            )
        return self.ballot_rows(question, option, position)

    def _kind(self, q: int) -> Kind:
        if not 0 <= q < self.n_questions:
            raise ValueError(f"question must be in 0..{self.n_questions - 1}, got {q}")
        return self.questions[q].kind

    def ballot_rows(self, question: object, option: object, position: object = None) -> Ballot:
        """A respondent's answers as rows (the database's shape); validated completely.

        Each answered question needs 1..``limit`` rows; single and scale questions exactly one;
        multiple choice distinct options; ranking distinct options at positions ``0..r-1``.
        """
        q = np.asarray(question, dtype=np.int64).reshape(-1)
        o = np.asarray(option, dtype=np.int64).reshape(-1)
        p = np.zeros_like(q) if position is None else np.asarray(position, np.int64).reshape(-1)
        if not q.shape == o.shape == p.shape:
            raise ValueError("question, option and position must have the same length")
        if q.size == 0:
            raise ValueError("a ballot needs at least one answer")
        # one ballot is a handful of rows: plain Python is faster than NumPy calls here
        given: dict[int, tuple[list[int], list[int]]] = {}
        offset, cells_l = self.cell_offset.tolist(), []
        for qi, oi, pi in zip(q.tolist(), o.tolist(), p.tolist(), strict=True):
            if not 0 <= qi < self.n_questions:
                raise ValueError(f"question indices must be in 0..{self.n_questions - 1}")
            spec = self.questions[qi]
            if not 0 <= oi < spec.n_options:
                raise ValueError("option indices must be in 0..n_options-1 of their question")
            mine = given.setdefault(qi, ([], []))
            mine[0].append(oi)
            mine[1].append(pi)
            cells_l.append(offset[qi] + oi * spec.positions + pi)
        for qi, (options, places) in given.items():
            spec, rows = self.questions[qi], len(options)
            if rows > spec.limit:
                raise ValueError(f"question {qi} takes at most {spec.limit} answers, got {rows}")
            if len(set(options)) != rows:
                raise ValueError(f"question {qi}: an option is given twice")
            if spec.kind != "ranking" and any(places):
                raise ValueError("positions must be 0 outside ranking questions")
            if spec.kind == "ranking" and sorted(places) != list(range(rows)):
                raise ValueError(f"question {qi}: ranked positions must be 0..{rows - 1}")
        cells = np.array(cells_l, dtype=np.int64)
        questions = np.array(sorted(given), dtype=np.int64)
        return Ballot(q, o, p, cells, questions)

    def cells(
        self,
        question: NDArray[np.integer],
        option: NDArray[np.integer],
        position: NDArray[np.integer],
    ) -> Int:
        """Tally cell of each answer row, after checking every index is in range.

        One gather from a small (question, option, position) table, where impossible
        combinations hold -1; any integer dtype is accepted as is (no copies to int64).
        """
        if question.size == 0:
            return np.zeros(0, dtype=np.int64)
        if int(question.min()) < 0 or int(question.max()) >= self.n_questions:
            raise ValueError(f"question indices must be in 0..{self.n_questions - 1}")
        table = self.cell_table
        _, m, k = table.shape
        if int(option.min()) < 0 or int(option.max()) >= m:
            raise ValueError("option indices must be in 0..n_options-1 of their question")
        if int(position.min()) < 0 or int(position.max()) >= k:
            raise ValueError("positions must be 0 outside ranking questions, < max_choices in them")
        flat: NDArray[np.integer] = question.astype(np.int32 if table.size < 2**31 else np.int64)
        flat = (flat * m + option) * k + position  # int32 when it fits: half the memory traffic
        cells: Int = table.reshape(-1)[flat]
        if int(cells.min()) < 0:
            n_options = self._table("n_options")
            if np.any(option >= n_options[question]):
                raise ValueError("option indices must be in 0..n_options-1 of their question")
            raise ValueError("positions must be 0 outside ranking questions, < max_choices in them")
        return cells


# --------------------------------------------------------------------------- post-stratification


@dataclass(frozen=True)
class Weighted:
    """Post-stratified estimate over groups of districts (:func:`poststratify`).

    Attributes
    ----------
    counts : (cells, G) float64, weighted answer counts (``sum_d w_d * count_d``).
    respondents : (G,) float64, respondents in the weighted estimate (``sum_d n_d``, covered
        districts only; also ``sum_d w_d * n_d``).
    share : (cells, G) float64, ``counts / respondents`` (NaN without respondents).
    deff : (G,) float64, Kish's design effect of the weights (NaN without respondents).
    n_eff : (G,) float64, ``respondents / deff``.
    weights : (D,) float64, the weight of a respondent of each district (0 where not covered).
    covered : (D,) bool, the district has a population figure and respondents.
    uncovered : (D,) bool, the district has a population figure and no respondent.
    """

    counts: Float
    respondents: Float
    share: Float
    deff: Float
    n_eff: Float
    weights: Float
    covered: NDArray[np.bool_]
    uncovered: NDArray[np.bool_]


def poststratify(
    counts: object, respondents: object, population: object, group: object | None = None
) -> Weighted:
    """Re-weight district counts so that each district counts by its share of the population.

    Within each group ``g`` of districts (the whole city when ``group`` is None; okrugs for an
    okrug breakdown), a respondent of covered district ``d`` weighs
    ``w_d = (N_d / N_g) / (n_d / n_g)``, with ``N_g`` and ``n_g`` summed over the group's covered
    districts (population known, > 0, and ``n_d > 0``). Districts without respondents are left
    out and the weights renormalised over the rest (see the module docstring).

    Parameters
    ----------
    counts : (cells, D) answer counts per district (any cells: options, scale points …).
    respondents : (D,) respondents per district.
    population : (D,) population per district; NaN or 0 where unknown.
    group : (D,) int group of each district (0..G-1), default all 0.

    Examples
    --------
    District 0 (population 100) gave 70 answers, all "yes"; district 1 (population 300)
    gave 30, none "yes". Raw "yes" is 70 %; weighted by population it is 25 %:

    >>> w = poststratify([[70, 0], [0, 30]], [70, 30], [100, 300])
    >>> round(float(w.share[0, 0]), 3), round(float(w.deff[0]), 3)
    (0.25, 1.964)
    """
    c = np.asarray(counts, dtype=np.float64)
    n = np.asarray(respondents, dtype=np.float64)
    pop = np.asarray(population, dtype=np.float64)
    if c.ndim != 2 or n.ndim != 1 or pop.shape != n.shape or c.shape[1] != n.shape[0]:
        raise ValueError("counts must be (cells, D), respondents and population (D,)")
    d = n.shape[0]
    g = np.zeros(d, np.int64) if group is None else np.asarray(group, dtype=np.int64)
    if g.shape != (d,) or (d and int(g.min()) < 0):
        raise ValueError("group must give a group index >= 0 for each district")
    n_groups = int(g.max()) + 1 if d else 1
    known = np.isfinite(pop) & (pop > 0)
    covered = known & (n > 0)
    pop_c = np.where(covered, pop, 0.0)
    n_c = np.where(covered, n, 0.0)
    big_n = np.bincount(g, weights=pop_c, minlength=n_groups).astype(np.float64)
    small_n = np.bincount(g, weights=n_c, minlength=n_groups).astype(np.float64)
    weights = np.zeros(d)
    np.divide(pop_c * small_n[g], big_n[g] * n_c, out=weights, where=covered & (big_n[g] * n_c > 0))
    onehot = np.zeros((d, n_groups))
    onehot[np.arange(d), g] = 1.0
    weighted = (c * weights) @ onehot
    sum_w2n = np.bincount(g, weights=n_c * weights**2, minlength=n_groups).astype(np.float64)
    has = small_n > 0
    share = np.full(weighted.shape, np.nan)
    np.divide(weighted, small_n, out=share, where=has)
    deff = np.full(n_groups, np.nan)
    np.divide(sum_w2n, small_n, out=deff, where=has)
    n_eff = np.full(n_groups, np.nan)
    np.divide(small_n, deff, out=n_eff, where=has)
    return Weighted(weighted, small_n, share, deff, n_eff, weights, covered, known & (n == 0))


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Estimate:
    """Shares with their interval bounds; ``n`` is the sample size the interval used."""

    share: Float
    low: Float
    high: Float
    n: Float


@dataclass(frozen=True)
class Mean:
    """A scale question's mean with a normal interval (``mean ± z·s/sqrt(n)``)."""

    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class Breakdown:
    """Shares per district or per okrug (columns).

    Attributes
    ----------
    counts : (m, G) answers per option (first choices for ranking) per column.
    respondents : (G,) respondents per column.
    share, low, high : (m, G) share of the column's respondents and its interval; for okrugs
        post-stratified by district population within the okrug, with the effective n.
    deff, n_eff : (G,) design effect and effective n (1 and ``respondents`` for districts).
    mean : (G,) scale questions: the mean per column (weighted for okrugs); else None.
    """

    counts: Float
    respondents: Float
    share: Float
    low: Float
    high: Float
    deff: Float
    n_eff: Float
    mean: Float | None


@dataclass(frozen=True)
class Coverage:
    """Who the weighted estimate of one question stands on.

    Attributes
    ----------
    weighted : respondents in the weighted estimate (known district with a population figure).
    unknown_district : respondents without a known district (raw shares only).
    no_population : respondents of districts without a population figure (raw shares only).
    uncovered : (k,) int64, districts with a population figure and no respondent.
    uncovered_population_share : share of the known population living in ``uncovered``.
    deff, n_eff : Kish's design effect of the weights and the effective sample size.
    weights : (D,) float64, a respondent's weight per district (0 where not covered).
    """

    weighted: int
    unknown_district: int
    no_population: int
    uncovered: Int
    uncovered_population_share: float
    deff: float
    n_eff: float
    weights: Float


@dataclass(frozen=True)
class Ranking:
    """A ranking question's scores (per option, with ``m`` options and ``k`` ranked places).

    Attributes
    ----------
    positions : (m, k) int64, times each option was put at each place (0 = first).
    ranked : (m,) int64, times each option was ranked at all.
    borda : (m,) float64, mean Borda points per respondent: place ``p`` earns ``m - 1 - p``,
        an unranked option 0; in ``[0, m - 1]``.
    weighted_borda : (m,) float64, the same, post-stratified.
    mean_rank : (m,) float64, mean place (1 = first) among those who ranked it; NaN if never.
    """

    positions: Int
    ranked: Int
    borda: Float
    weighted_borda: Float
    mean_rank: Float


@dataclass(frozen=True)
class QuestionResult:
    """Everything a results page shows for one question.

    ``counts``, ``raw`` and ``weighted`` are per option; for ranking questions they are about
    first choices (see ``ranking`` for the rest). ``raw`` counts every respondent (districts
    known or not) with ``n`` = respondents; ``weighted`` is post-stratified with ``n`` = the
    effective sample size (``coverage``).
    """

    question: int
    kind: Kind
    respondents: int
    counts: Int
    raw: Estimate
    weighted: Estimate
    coverage: Coverage
    by_district: Breakdown
    by_okrug: Breakdown | None
    mean: Mean | None
    weighted_mean: Mean | None
    ranking: Ranking | None


@dataclass(frozen=True)
class PollResults:
    """One poll's results; ``include_flagged`` says whether flagged respondents count."""

    questions: tuple[QuestionResult, ...]
    respondents: int
    include_flagged: bool


@dataclass(frozen=True)
class Integrity:
    """Results with and without the flagged respondents, and how many were flagged."""

    with_flagged: PollResults
    without_flagged: PollResults
    flagged: int
    flagged_share: float


# --------------------------------------------------------------------------- the tally


class PollTally:
    """Counts of one poll per cell × stratum, kept current one respondent at a time.

    Strata are ``0..D-1`` (districts), ``D`` (unknown district), then the same ``D + 1`` again
    for flagged respondents. Build it with :meth:`build`; the respondent indices are dense
    (``0..R-1``) and the tally grows when :meth:`add` meets a larger one.

    >>> spec = PollSpec((Question("single", 2),), n_districts=2)
    >>> t = PollTally.build(spec, [0, 1, 2], [0, 0, 0], [1, 1, 0], district=[0, 1, -1])
    >>> t.add(3, spec.ballot({0: 1}), district=1)
    >>> r = t.results(population=[500.0, 500.0]).questions[0]
    >>> r.counts.tolist(), r.respondents, r.coverage.unknown_district
    ([1, 3], 4, 1)
    """

    def __init__(self, spec: PollSpec) -> None:
        self.spec = spec
        d1 = spec.n_districts + 1
        self._strata = 2 * d1
        self._counts = np.zeros((spec.n_cells, self._strata), dtype=np.int64)
        self._respondents = np.zeros((spec.n_questions, self._strata), dtype=np.int64)
        self._district = np.zeros(0, dtype=np.int16)
        self._flagged = np.zeros(0, dtype=np.bool_)
        self._answered = np.zeros((0, spec.n_questions), dtype=np.bool_)

    # ---- building

    @classmethod
    def build(
        cls,
        spec: PollSpec,
        respondent: object,
        question: object,
        option: object,
        position: object | None = None,
        *,
        district: object,
        flagged: object | None = None,
    ) -> PollTally:
        """Tally answer rows from scratch.

        Parameters
        ----------
        spec : the poll.
        respondent, question, option : (n,) integer arrays, one row per answer (a multiple-
            choice question has one row per ticked option, a ranking one per ranked option).
        position : (n,) integer array, the place of a ranking answer (0 = first); 0 elsewhere.
            Default all 0.
        district : (R,) district of each respondent ``0..R-1`` (-1 unknown).
        flagged : (R,) bool, respondents flagged by the integrity signals; default none.

        Every index is range-checked and no respondent may give a question more rows than its
        ``limit``; rows are trusted to be distinct otherwise (the database's unique constraints
        guarantee it; :meth:`add` checks one ballot completely).
        """
        tally = cls(spec)
        d = np.asarray(district)
        if d.ndim != 1 or (d.size and d.dtype.kind not in "iu"):
            raise ValueError("district must be a 1-d integer array, one entry per respondent")
        n_resp = d.shape[0]
        if n_resp and (int(d.min()) < UNKNOWN or int(d.max()) >= spec.n_districts):
            raise ValueError(f"district must be in -1..{spec.n_districts - 1}")
        f = np.zeros(n_resp, np.bool_) if flagged is None else np.asarray(flagged, np.bool_)
        if f.shape != (n_resp,):
            raise ValueError("flagged must have one entry per respondent")
        r = _int_array("respondent", respondent)
        q = _int_array("question", question, r.shape[0])
        o = _int_array("option", option, r.shape[0])
        p = np.zeros(1, np.int8) if position is None else _int_array("position", position, r.size)
        if r.size and (int(r.min()) < 0 or int(r.max()) >= n_resp):
            raise ValueError(f"respondent indices must be in 0..{n_resp - 1} (len(district))")
        tally._grow(n_resp)
        tally._district[:n_resp] = d
        tally._flagged[:n_resp] = f
        if r.size == 0:
            return tally
        strata = tally._stratum_of(d.astype(np.int64), f)
        nq = spec.n_questions
        # per (respondent, question): rows given; > 0 means answered
        rows = np.bincount(r.astype(np.int64) * nq + q, minlength=n_resp * nq).reshape(n_resp, nq)
        limit = spec._table("limit")
        if np.any(rows > limit):
            worst = int(np.flatnonzero((rows > limit).any(axis=0))[0])
            raise ValueError(f"a respondent gave question {worst} more than {limit[worst]} answers")
        answered = rows > 0
        tally._answered[:n_resp] = answered
        cells = spec.cells(q, o, np.broadcast_to(p, q.shape))
        key = cells * tally._strata + strata[r]
        tally._counts += np.bincount(key, minlength=spec.n_cells * tally._strata).reshape(
            spec.n_cells, tally._strata
        )
        for qi in range(nq):
            tally._respondents[qi] = np.bincount(strata[answered[:, qi]], minlength=tally._strata)
        return tally

    def _grow(self, n: int) -> None:
        have = self._district.shape[0]
        if n <= have:
            return
        cap = max(n, 2 * have)
        district = np.full(cap, UNKNOWN, dtype=np.int16)
        district[:have] = self._district
        flagged = np.zeros(cap, dtype=np.bool_)
        flagged[:have] = self._flagged
        answered = np.zeros((cap, self.spec.n_questions), dtype=np.bool_)
        answered[:have] = self._answered
        self._district, self._flagged, self._answered = district, flagged, answered

    def _stratum_of(self, district: Int, flagged: NDArray[np.bool_]) -> Int:
        d = self.spec.n_districts
        base = np.where(district < 0, d, district)
        return np.asarray(base + (d + 1) * flagged.astype(np.int64), dtype=np.int64)

    # ---- incremental updates

    def add(self, respondent: int, ballot: Ballot, *, district: int, flagged: bool = False) -> None:
        """Add one respondent's answers; the respondent must have none in the tally yet."""
        r = self._check_respondent(respondent)
        _check_ballot(ballot)
        self._check_district(district)
        self._grow(r + 1)
        if self._answered[r].any():
            raise ValueError(f"respondent {r} has already answered: use replace()")
        self._apply(r, ballot, district, bool(flagged), +1)

    def remove(self, respondent: int, ballot: Ballot) -> None:
        """Take out one respondent's answers; ``ballot`` must be exactly what was added."""
        r = self._check_respondent(respondent)
        self._check_removal(r, ballot)
        self._apply(r, ballot, int(self._district[r]), bool(self._flagged[r]), -1)

    def replace(
        self,
        respondent: int,
        old: Ballot,
        new: Ballot,
        *,
        district: int | None = None,
        flagged: bool | None = None,
    ) -> None:
        """Replace a respondent's answers atomically (both checked before anything changes).

        ``district`` and ``flagged`` default to the respondent's current ones; passing them moves
        the respondent (a changed flag from the signals is ``replace(r, b, b, flagged=True)``).
        """
        r = self._check_respondent(respondent)
        self._check_removal(r, old)
        _check_ballot(new)
        d = int(self._district[r]) if district is None else district
        self._check_district(d)
        f = bool(self._flagged[r]) if flagged is None else bool(flagged)
        self._apply(r, old, int(self._district[r]), bool(self._flagged[r]), -1)
        self._apply(r, new, d, f, +1)

    def _check_respondent(self, respondent: int) -> int:
        if isinstance(respondent, bool) or not isinstance(respondent, int | np.integer):
            raise ValueError(f"respondent must be an integer, got {respondent!r}")
        if respondent < 0:
            raise ValueError(f"respondent must be >= 0, got {respondent}")
        return int(respondent)

    def _check_district(self, district: int) -> None:
        if isinstance(district, bool) or not isinstance(district, int | np.integer):
            raise ValueError(f"district must be an integer, got {district!r}")
        if not UNKNOWN <= district < self.spec.n_districts:
            raise ValueError(f"district must be in -1..{self.spec.n_districts - 1}")

    def _check_removal(self, r: int, ballot: Ballot) -> None:
        _check_ballot(ballot)
        if r >= self._answered.shape[0] or not self._answered[r].any():
            raise ValueError(f"respondent {r} has no answers in the tally")
        if not np.array_equal(np.flatnonzero(self._answered[r]), ballot.questions):
            raise ValueError(f"the ballot does not answer the questions respondent {r} answered")
        s = int(
            self._stratum_of(self._district[r : r + 1].astype(np.int64), self._flagged[r : r + 1])[
                0
            ]
        )
        if np.any(self._counts[ballot.cells, s] < 1):
            raise ValueError(f"the ballot is not what respondent {r} gave (a count would be < 0)")

    def _apply(self, r: int, ballot: Ballot, district: int, flagged: bool, sign: int) -> None:
        d = self.spec.n_districts
        s = (d if district < 0 else district) + (d + 1) * int(flagged)
        # cells of one ballot are distinct (PollSpec.ballot_rows checks it), so += is exact
        self._counts[ballot.cells, s] += sign
        self._respondents[ballot.questions, s] += sign
        self._answered[r, ballot.questions] = sign > 0
        if sign > 0:
            self._district[r] = district
            self._flagged[r] = flagged

    # ---- reading

    @property
    def n_respondents(self) -> int:
        """Respondents with at least one answer (flagged ones included)."""
        return int(self._answered.any(axis=1).sum())

    @property
    def n_flagged(self) -> int:
        """Flagged respondents with at least one answer."""
        return int((self._answered.any(axis=1) & self._flagged[: self._answered.shape[0]]).sum())

    def counts(self, include_flagged: bool = True) -> Int:
        """(n_cells, D + 1) answers per cell per district; the last column: unknown district."""
        d1 = self.spec.n_districts + 1
        out = self._counts[:, :d1].copy()
        if include_flagged:
            out += self._counts[:, d1:]
        return out

    def respondents(self, include_flagged: bool = True) -> Int:
        """(n_questions, D + 1) respondents per question per district (last: unknown)."""
        d1 = self.spec.n_districts + 1
        out = self._respondents[:, :d1].copy()
        if include_flagged:
            out += self._respondents[:, d1:]
        return out

    def results(
        self,
        population: object = None,
        okrug_of: object | None = None,
        *,
        include_flagged: bool = True,
        confidence: float = 0.95,
        stratum_of: object | None = None,
    ) -> PollResults:
        """Shares, intervals, the post-stratified estimate and the breakdowns of every question.

        Parameters
        ----------
        population : (D,) population per district (adults), NaN or 0 where unknown; None: no
            district is known, so every weighted figure is NaN. With ``stratum_of``: (S,) per
            stratum.
        okrug_of : (D,) okrug index of each district, for the okrug breakdown (weighted within
            each okrug); None: no okrug breakdown.
        include_flagged : count the flagged respondents (the default) or leave them out.
        confidence : of the intervals, default 0.95.
        stratum_of : (D,) the post-stratification stratum ``0..S-1`` of each district, or -1
            (no population figure); None: each district is its own stratum. Several districts
            share a stratum when the population is known only for their sum (say, an okrug's
            figure less its districts that have their own): they are weighted together. The
            district breakdown stays per district; ``coverage.uncovered`` then lists strata.
        """
        d = self.spec.n_districts
        pop = np.full(d, np.nan) if population is None else np.asarray(population, np.float64)
        okrug = None if okrug_of is None else np.asarray(okrug_of, dtype=np.int64)
        if okrug is not None and (okrug.shape != (d,) or (d and int(okrug.min()) < 0)):
            raise ValueError(
                f"okrug_of must give an okrug index >= 0 for each of the {d} districts"
            )
        strata = None
        if stratum_of is not None:
            strata = np.asarray(stratum_of, dtype=np.int64)
            n_s = pop.shape[0] if pop.ndim == 1 else -1
            if strata.shape != (d,) or (d and (int(strata.min()) < -1 or int(strata.max()) >= n_s)):
                raise ValueError(f"stratum_of must give a stratum in -1..{n_s - 1} per district")
        elif pop.shape != (d,):
            raise ValueError(f"population must have one entry per district ({d})")
        z = z_value(confidence)
        counts = self.counts(include_flagged).astype(np.float64)
        resp = self.respondents(include_flagged).astype(np.float64)
        out = []
        for qi, question in enumerate(self.spec.questions):
            sl = slice(int(self.spec.cell_offset[qi]), int(self.spec.cell_offset[qi + 1]))
            out.append(
                _question(qi, question, counts[sl], resp[qi], pop, okrug, confidence, z, strata)
            )
        if include_flagged:
            n = self.n_respondents
        else:
            n = self.n_respondents - self.n_flagged
        return PollResults(tuple(out), n, include_flagged)

    def integrity(
        self,
        population: object = None,
        okrug_of: object | None = None,
        confidence: float = 0.95,
        stratum_of: object | None = None,
    ) -> Integrity:
        """Results with and without the flagged respondents, and the flagged share."""
        n, f = self.n_respondents, self.n_flagged
        kw = {"confidence": confidence, "stratum_of": stratum_of}
        return Integrity(
            self.results(population, okrug_of, include_flagged=True, **kw),  # type: ignore[arg-type]
            self.results(population, okrug_of, include_flagged=False, **kw),  # type: ignore[arg-type]
            f,
            f / n if n else 0.0,
        )


def _check_ballot(ballot: object) -> None:
    if not isinstance(ballot, Ballot):
        raise ValueError("ballot must be a Ballot (PollSpec.ballot or ballot_rows)")


def _int_array(name: str, values: object, length: int | None = None) -> NDArray[np.integer]:
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if a.size and a.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, got {a.dtype}")
    if length is not None and a.shape[0] != length:
        raise ValueError(f"{name} must have length {length}, got {a.shape[0]}")
    return a.astype(np.int64) if a.size == 0 else a


def _question(
    qi: int,
    question: Question,
    cells: Float,
    resp: Float,
    pop: Float,
    okrug: Int | None,
    confidence: float,
    z: float,
    strata: Int | None = None,
) -> QuestionResult:
    """One question's result from its cells (cells × (D + 1)) and respondents ((D + 1,)).

    ``strata`` (D,) maps districts to the strata of ``pop`` (-1: no figure); None: identity.
    """
    d = resp.shape[0] - 1
    m, k = question.n_options, question.positions
    by_place = cells.reshape(m, k, d + 1)
    first = by_place[:, 0, :]  # the option's counts; first choices for ranking
    n_all = float(resp.sum())
    total = first.sum(axis=1)
    share = _share(total, n_all)
    raw = Estimate(share, *wilson(share, n_all, confidence), np.asarray(n_all))
    # post-stratified over strata (districts, or groups of them) with a population figure
    extra = _extra(question, by_place)  # scale values / Borda points per option, if any
    stacked = first[:, :d] if extra is None else np.vstack([first[:, :d], extra[:, :d]])
    s_resp, s_pop, s_okrug = resp[:d], pop, okrug
    if strata is not None:
        # one more stratum, without a figure, for the districts that have none
        n_s = pop.shape[0]
        agg = np.zeros((d, n_s + 1))
        agg[np.arange(d), np.where(strata < 0, n_s, strata)] = 1.0
        stacked, s_resp = stacked @ agg, resp[:d] @ agg
        s_pop = np.append(pop, np.nan)
        if okrug is not None:
            # the extra stratum is never weighted; its group only keeps the okrugs' count
            s_okrug = np.full(n_s + 1, int(okrug.max()) if d else 0, dtype=np.int64)
            s_okrug[strata[strata >= 0]] = okrug[strata >= 0]
            if np.any(s_okrug[strata[strata >= 0]] != okrug[strata >= 0]):
                raise ValueError("a stratum must lie inside one okrug")
    w = poststratify(stacked, s_resp, s_pop)
    n_eff = float(w.n_eff[0])
    wshare = w.share[:m, 0]
    weighted = Estimate(wshare, *wilson(wshare, n_eff, confidence), np.asarray(n_eff))
    known_pop = np.isfinite(s_pop) & (s_pop > 0)
    pop_total = float(s_pop[known_pop].sum())
    coverage = Coverage(
        weighted=int(w.respondents[0]),
        unknown_district=int(resp[d]),
        no_population=int(s_resp[~known_pop].sum()),
        uncovered=np.flatnonzero(w.uncovered).astype(np.int64),
        uncovered_population_share=(
            float(s_pop[w.uncovered].sum() / pop_total) if pop_total else 0.0
        ),
        deff=float(w.deff[0]),
        n_eff=n_eff,
        weights=w.weights,
    )
    # per district: raw (weighting inside one district changes nothing)
    dshare = _share(first[:, :d], resp[:d])
    dmean = _scale_means(question, first[:, :d], resp[:d]) if question.kind == "scale" else None
    by_district = Breakdown(
        first[:, :d],
        resp[:d],
        dshare,
        *wilson(dshare, resp[:d], confidence),
        np.where(resp[:d] > 0, 1.0, np.nan),
        resp[:d].copy(),
        dmean,
    )
    by_okrug = None
    if okrug is not None and s_okrug is not None:
        s_first = stacked[:m]
        wo = poststratify(s_first, s_resp, s_pop, s_okrug)
        oshare = wo.share
        omean = None
        if question.kind == "scale":
            omean = _scale_means(question, wo.counts, wo.respondents)
        by_okrug = Breakdown(
            np.asarray(first[:, :d] @ _onehot(okrug)),
            np.bincount(okrug, weights=resp[:d], minlength=oshare.shape[1]).astype(np.float64),
            oshare,
            *wilson(oshare, wo.n_eff, confidence),
            wo.deff,
            wo.n_eff,
            omean,
        )
    mean = weighted_mean = None
    if question.kind == "scale":
        mean = _mean(question.scale_values, total, n_all, n_all, z)
        weighted_mean = _mean(
            question.scale_values, w.counts[:m, 0], float(w.respondents[0]), n_eff, z
        )
    ranking = None
    if question.kind == "ranking":
        positions = by_place.sum(axis=2)
        ranked = positions.sum(axis=1)
        place = np.arange(1, k + 1, dtype=np.float64)
        mean_rank = np.full(m, np.nan)
        np.divide(positions @ place, ranked, out=mean_rank, where=ranked > 0)
        assert extra is not None
        ranking = Ranking(
            positions.astype(np.int64),
            ranked.astype(np.int64),
            _share(extra.sum(axis=1), n_all),
            w.share[m:, 0],
            mean_rank,
        )
    return QuestionResult(
        qi,
        question.kind,
        int(n_all),
        total.astype(np.int64),
        raw,
        weighted,
        coverage,
        by_district,
        by_okrug,
        mean,
        weighted_mean,
        ranking,
    )


def _share(count: Float, n: object) -> Float:
    n_a = np.asarray(n, dtype=np.float64)
    out = np.full(np.broadcast_shapes(count.shape, n_a.shape), np.nan)
    np.divide(count, n_a, out=out, where=n_a > 0)
    return out


def _onehot(group: Int) -> Float:
    g = np.zeros((group.shape[0], int(group.max()) + 1 if group.size else 1))
    g[np.arange(group.shape[0]), group] = 1.0
    return g


def _extra(question: Question, by_place: Float) -> Float | None:
    """Rows to post-stratify with the options: Borda points per option (ranking)."""
    if question.kind != "ranking":
        return None
    m, k = question.n_options, question.positions
    points = (m - 1 - np.arange(k)).astype(np.float64)
    return np.asarray(np.einsum("okd,k->od", by_place, points), dtype=np.float64)


def _scale_means(question: Question, counts: Float, n: Float) -> Float:
    return _share(question.scale_values @ counts, n)


def _mean(values: Float, counts: Float, n: float, n_eff: float, z: float) -> Mean:
    """Mean of a scale and a normal interval with ``n_eff`` (Bessel-corrected variance)."""
    if not n > 0:
        return Mean(float("nan"), float("nan"), float("nan"))
    mean = float(values @ counts / n)
    if not n_eff > 1:
        return Mean(mean, float("nan"), float("nan"))
    var = float(((values - mean) ** 2) @ counts / n) * n_eff / (n_eff - 1)
    half = z * (var / n_eff) ** 0.5
    return Mean(mean, mean - half, mean + half)


# --------------------------------------------------------------------------- integrity signals


@dataclass(frozen=True)
class PollSignals:
    """The ranking core's signals over poll submissions.

    Attributes
    ----------
    signals : the detectors' per-submission verdict (:class:`ranking.signals.Signals`; its
        "idea" is the poll).
    flagged_rows : (n,) bool, a submission with any reason (burst, fresh wave, lockstep).
    flagged_accounts : (n_accounts,) bool, an account with any flagged submission; map it to a
        poll's respondents (``flagged_accounts[account_of_respondent]``) for :meth:`PollTally.build`.
    """

    signals: Signals
    flagged_rows: NDArray[np.bool_]
    flagged_accounts: NDArray[np.bool_]


def poll_signals(
    poll: object,
    account: object,
    time: object,
    account_created: object,
    config: SignalConfig | None = None,
) -> PollSignals:
    """Run the burst, fresh-account and lockstep detectors over poll submissions.

    One row per submission (an account answering a poll, at ``time``), across *all* polls: each
    poll plays the part of an idea in :func:`ranking.signals.detect_signals`. A burst is a poll
    getting far more submissions in an hour than its trailing rate; a fresh wave, a poll drawing
    an unusual share of accounts created within a day (compared with the *other* polls of the
    same day, so one poll alone cannot show it); lockstep, two accounts answering the same polls
    within minutes of each other on five or more polls.

    Parameters
    ----------
    poll, account : (n,) int indices (dense, >= 0).
    time : (n,) int64 Unix seconds of each submission.
    account_created : (n_accounts,) int64 Unix seconds each account was created.
    config : thresholds; default ``SignalConfig()``.

    Examples
    --------
    Accounts 0 and 1 answer the same six polls a minute apart:

    >>> import numpy as np
    >>> poll = np.r_[np.arange(6), np.arange(6), 0]
    >>> account = np.r_[np.zeros(6, int), np.ones(6, int), 2]
    >>> time = np.r_[np.arange(6) * 86400, np.arange(6) * 86400 + 60, 5000]
    >>> s = poll_signals(poll, account, time, np.full(3, -10**8))
    >>> s.flagged_accounts.tolist()
    [True, True, False]
    """
    votes = Votes.build(poll, account, time=time)
    created = np.asarray(account_created, dtype=np.int64)
    if created.ndim != 1:
        raise ValueError("account_created must be one-dimensional")
    n_accounts = created.shape[0]
    users = Users.build(np.ones(n_accounts, np.bool_), np.full(n_accounts, UNKNOWN), created)
    signals = detect_signals(votes, users, config)
    rows = signals.reason_bits != 0
    accounts = np.zeros(n_accounts, dtype=np.bool_)
    accounts[votes.user[rows]] = True
    return PollSignals(signals, rows, accounts)
