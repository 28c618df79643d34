"""City polls' statistical core: hand-computed tallies, intervals, weighting, updates, signals."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from ranking.polls import (
    PollSpec,
    PollTally,
    Question,
    poll_signals,
    poststratify,
    wilson,
)

YES_NO = PollSpec((Question("single", 2),), n_districts=2)


def _tally(spec: PollSpec, ballots: list[tuple[int, dict[int, Any]]], **kw: Any) -> PollTally:
    """A tally built from ``(district, answers)`` per respondent, through the array path."""
    rows: list[tuple[int, int, int, int]] = []
    for r, (_, answers) in enumerate(ballots):
        b = spec.ballot(answers)
        rows += [
            (r, int(q), int(o), int(p))
            for q, o, p in zip(b.question, b.option, b.position, strict=True)
        ]
    cols = np.array(rows, dtype=np.int64).reshape(-1, 4).T
    return PollTally.build(spec, *cols, district=[d for d, _ in ballots], **kw)


def _yes_no(counts: dict[int, tuple[int, int]]) -> PollTally:
    """``{district: (yes, no)}`` respondents of the YES_NO poll (option 0 = yes)."""
    ballots = []
    for district, (yes, no) in counts.items():
        ballots += [(district, {0: 0})] * yes + [(district, {0: 1})] * no
    return _tally(YES_NO, ballots)


# ---------------------------------------------------------------- Wilson intervals


def test_wilson_matches_the_textbook_values() -> None:
    low, high = wilson(0.5, 100)
    assert (round(float(low), 3), round(float(high), 3)) == (0.404, 0.596)
    # Newcombe (1998), Statistics in Medicine 17, table II, method 3 (Wilson score)
    cases = [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611),
             (1, 29, 0.0061, 0.1718)]  # fmt: skip
    x = np.array([c[0] for c in cases])
    n = np.array([c[1] for c in cases])
    low, high = wilson(x / n, n)
    assert np.round(low, 4).tolist() == [c[2] for c in cases]
    assert np.round(high, 4).tolist() == [c[3] for c in cases]


def test_wilson_equals_the_scipy_based_formula_at_other_levels() -> None:
    rng = np.random.default_rng(3)
    n = rng.integers(1, 5000, 200)
    x = rng.integers(0, n + 1)
    for confidence in (0.8, 0.9, 0.95, 0.99):
        z = norm.ppf(1 - (1 - confidence) / 2)
        # the (x, n) form of the interval (Agresti & Coull 1998, eq. 2)
        centre = (x + z**2 / 2) / (n + z**2)
        half = z * np.sqrt(n) / (n + z**2) * np.sqrt(x / n * (1 - x / n) + z**2 / (4 * n))
        low, high = wilson(x / n, n, confidence)
        np.testing.assert_allclose(low, centre - half, atol=1e-12)
        np.testing.assert_allclose(high, centre + half, atol=1e-12)


def test_wilson_without_a_sample_is_nan_and_otherwise_inside_the_unit_interval() -> None:
    low, high = wilson([0.0, 1.0, 0.3, 0.3], [0, 5, 0.5, 1e9])
    assert math.isnan(low[0]) and math.isnan(high[0])
    assert (low[1:] >= 0).all() and (high[1:] <= 1).all() and high[1] == 1.0
    assert high[3] - low[3] < 1e-4
    with pytest.raises(ValueError, match="confidence"):
        wilson(0.5, 10, confidence=1.0)


# ---------------------------------------------------------------- tallies of each kind


def test_single_choice_counts_shares_and_district_breakdown() -> None:
    t = _yes_no({0: (3, 1), 1: (1, 5)})
    q = t.results([100.0, 100.0]).questions[0]
    assert q.respondents == 10 and q.counts.tolist() == [4, 6]
    assert q.raw.share.tolist() == [0.4, 0.6]
    np.testing.assert_allclose(q.raw.low, wilson([0.4, 0.6], 10)[0])
    assert q.by_district.counts.tolist() == [[3, 1], [1, 5]]
    np.testing.assert_allclose(q.by_district.share, [[0.75, 1 / 6], [0.25, 5 / 6]])
    assert q.by_district.respondents.tolist() == [4, 6]
    # equal populations: each district's share counts half
    np.testing.assert_allclose(q.weighted.share, [(0.75 + 1 / 6) / 2, (0.25 + 5 / 6) / 2])
    assert t.respondents().tolist() == [[4, 6, 0]]


def test_multiple_choice_shares_are_of_respondents_not_of_ticks() -> None:
    spec = PollSpec((Question("multiple", 3, max_choices=2),), n_districts=1)
    t = _tally(spec, [(0, {0: [0, 1]}), (0, {0: [0]}), (0, {0: [2, 0]}), (0, {0: [1]})])
    q = t.results([1000.0]).questions[0]
    assert q.respondents == 4 and q.counts.tolist() == [3, 2, 1]
    assert q.raw.share.tolist() == [0.75, 0.5, 0.25]  # sums to 150 %, not 100 %
    low, high = wilson(0.75, 4)
    assert (q.raw.low[0], q.raw.high[0]) == (float(low), float(high))


def test_scale_mean_and_its_interval() -> None:
    spec = PollSpec((Question("scale", 5),), n_districts=1)
    points = [5, 4, 4, 3, 1, 5]  # 1..5 stars; options 0..4
    t = _tally(spec, [(0, {0: p - 1}) for p in points])
    q = t.results([10.0]).questions[0]
    assert q.mean is not None and q.weighted_mean is not None
    mean, sd = np.mean(points), np.std(points, ddof=1)
    half = 1.959964 * sd / math.sqrt(len(points))
    assert q.mean.mean == pytest.approx(mean)
    assert (q.mean.low, q.mean.high) == pytest.approx((mean - half, mean + half), abs=1e-5)
    assert q.weighted_mean.mean == pytest.approx(mean)  # one district: weights are all 1
    assert q.counts.tolist() == [1, 0, 1, 2, 2]
    assert q.by_district.mean is not None and q.by_district.mean.tolist() == pytest.approx([mean])


def test_scale_with_own_values() -> None:
    spec = PollSpec((Question("scale", 3, values=(-1.0, 0.0, 1.0)),), n_districts=1)
    t = _tally(spec, [(0, {0: 0}), (0, {0: 2}), (0, {0: 2}), (0, {0: 1})])
    mean = t.results([1.0]).questions[0].mean
    assert mean is not None and mean.mean == pytest.approx(0.25)


def test_ranking_borda_mean_rank_and_first_choices() -> None:
    spec = PollSpec((Question("ranking", 3, max_choices=2),), n_districts=1)
    # three respondents rank two of three options: [A, B], [B, A], [A, C]
    t = _tally(spec, [(0, {0: [0, 1]}), (0, {0: [1, 0]}), (0, {0: [0, 2]})])
    q = t.results([5.0]).questions[0]
    assert q.ranking is not None
    assert q.counts.tolist() == [2, 1, 0]  # first choices
    assert q.raw.share.tolist() == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert q.ranking.positions.tolist() == [[2, 1], [1, 1], [0, 1]]
    assert q.ranking.ranked.tolist() == [3, 2, 1]
    # Borda with m = 3: first place 2 points, second 1, unranked 0; mean per respondent
    assert q.ranking.borda.tolist() == pytest.approx([5 / 3, 3 / 3, 1 / 3])
    assert q.ranking.weighted_borda.tolist() == pytest.approx([5 / 3, 1.0, 1 / 3])
    assert q.ranking.mean_rank.tolist() == pytest.approx([4 / 3, 1.5, 2.0])


def test_a_never_ranked_option_has_no_mean_rank() -> None:
    spec = PollSpec((Question("ranking", 3),), n_districts=1)
    t = _tally(spec, [(0, {0: [1, 0]})])
    ranking = t.results([1.0]).questions[0].ranking
    assert ranking is not None and math.isnan(ranking.mean_rank[2])
    assert ranking.borda.tolist() == [1.0, 2.0, 0.0]


# ---------------------------------------------------------------- post-stratification


def test_poststratification_turns_a_raw_70_percent_into_40() -> None:
    # two districts of equal population; district 0 answered 7 times as often as district 1
    t = _yes_no({0: (700, 175), 1: (0, 125)})
    q = t.results([50_000.0, 50_000.0]).questions[0]
    assert q.raw.share[0] == pytest.approx(0.70)
    assert q.weighted.share[0] == pytest.approx(0.40)
    # w0 = 0.5 / 0.875, w1 = 0.5 / 0.125; deff = (875 w0² + 125 w1²) / 1000
    w0, w1 = 0.5 / 0.875, 0.5 / 0.125
    deff = (875 * w0**2 + 125 * w1**2) / 1000
    assert q.coverage.deff == pytest.approx(deff) and deff == pytest.approx(2.2857142857)
    assert q.coverage.n_eff == pytest.approx(1000 / deff)
    assert q.coverage.weights.tolist() == pytest.approx([w0, w1])
    low, high = wilson(0.4, 1000 / deff)
    assert (q.weighted.low[0], q.weighted.high[0]) == pytest.approx((float(low), float(high)))
    assert q.weighted.n == pytest.approx(437.5)
    # wider than the raw interval: the weights cost precision
    assert q.weighted.high[0] - q.weighted.low[0] > q.raw.high[0] - q.raw.low[0]


def test_a_proportional_sample_has_design_effect_one() -> None:
    spec = PollSpec((Question("single", 2),), n_districts=3)
    ballots = [(0, {0: 0})] * 4 + [(0, {0: 1})] * 6 + [(1, {0: 0})] * 15 + [(1, {0: 1})] * 5
    ballots += [(2, {0: 0})] * 3 + [(2, {0: 1})] * 27
    q = _tally(spec, ballots).results([1e5, 2e5, 3e5]).questions[0]
    assert q.coverage.deff == pytest.approx(1.0)
    assert q.coverage.n_eff == pytest.approx(60.0)
    np.testing.assert_allclose(q.weighted.share, q.raw.share)
    np.testing.assert_allclose(q.weighted.low, q.raw.low)


def test_districts_without_respondents_are_reported_and_weights_renormalised() -> None:
    spec = PollSpec((Question("single", 2),), n_districts=3)
    ballots = [(0, {0: 0})] * 3 + [(0, {0: 1})] + [(1, {0: 1})] * 4
    q = _tally(spec, ballots).results([100.0, 300.0, 600.0]).questions[0]
    assert q.coverage.uncovered.tolist() == [2]
    assert q.coverage.uncovered_population_share == pytest.approx(0.6)
    # renormalised over districts 0 and 1: 25 % and 75 % of the covered population
    assert q.weighted.share[0] == pytest.approx(0.25 * 0.75 + 0.75 * 0.0)
    assert q.coverage.weights.tolist() == pytest.approx([0.5, 1.5, 0.0])


def test_unknown_districts_and_missing_populations_are_left_out_of_the_weighting_only() -> None:
    spec = PollSpec((Question("single", 2),), n_districts=3)
    ballots = [(0, {0: 0})] * 2 + [(1, {0: 1})] * 2 + [(-1, {0: 0})] * 5 + [(2, {0: 0})] * 3
    q = _tally(spec, ballots).results([100.0, 100.0, np.nan]).questions[0]
    assert q.respondents == 12 and q.counts.tolist() == [10, 2]
    assert q.raw.share[0] == pytest.approx(10 / 12)  # the raw share counts everyone
    assert q.coverage.unknown_district == 5 and q.coverage.no_population == 3
    assert q.coverage.weighted == 4
    assert q.weighted.share[0] == pytest.approx(0.5)
    assert q.coverage.uncovered.tolist() == []  # NaN population: not a known gap
    # zero population means unknown too
    q0 = _tally(spec, ballots).results([100.0, 100.0, 0.0]).questions[0]
    assert q0.coverage.no_population == 3 and q0.weighted.share[0] == pytest.approx(0.5)


def test_without_any_population_figure_the_weighted_figures_are_nan() -> None:
    q = _yes_no({0: (1, 1)}).results().questions[0]
    assert np.isnan(q.weighted.share).all() and math.isnan(q.coverage.deff)
    assert q.raw.share.tolist() == [0.5, 0.5]


def test_okrug_breakdown_is_weighted_within_each_okrug() -> None:
    spec = PollSpec((Question("single", 2),), n_districts=4)
    ballots = [(0, {0: 0})] * 9 + [(1, {0: 1})] * 1 + [(2, {0: 0})] * 2 + [(3, {0: 0})] * 2
    q = _tally(spec, ballots).results([1.0, 1.0, 5.0, 1.0], okrug_of=[0, 0, 1, 1]).questions[0]
    o = q.by_okrug
    assert o is not None
    assert o.respondents.tolist() == [10, 4] and o.counts.tolist() == [[9, 4], [1, 0]]
    # okrug 0: districts 0 (all yes) and 1 (all no) weigh equally whatever their respondents
    assert o.share[:, 0].tolist() == pytest.approx([0.5, 0.5])
    assert o.share[:, 1].tolist() == pytest.approx([1.0, 0.0])
    assert o.deff[0] == pytest.approx((9 * (0.5 / 0.9) ** 2 + 1 * (0.5 / 0.1) ** 2) / 10)
    assert o.deff[1] == pytest.approx((2 * (5 / 6 / 0.5) ** 2 + 2 * (1 / 6 / 0.5) ** 2) / 4)


def test_poststratify_groups_and_input_checks() -> None:
    w = poststratify(np.array([[1.0, 2.0, 3.0]]), [2, 2, 3], [10, 10, 30], [0, 1, 1])
    assert w.respondents.tolist() == [2, 5]
    assert w.weights.tolist() == pytest.approx([1.0, 0.25 / 0.4, 0.75 / 0.6])
    with pytest.raises(ValueError, match="counts must be"):
        poststratify([[1, 2]], [1, 2, 3], [1, 2, 3])


# ---------------------------------------------------------------- integrity


def test_flagged_respondents_are_excluded_on_request_and_their_share_reported() -> None:
    spec = PollSpec((Question("single", 2),), n_districts=1)
    ballots = [(0, {0: 0})] * 6 + [(0, {0: 1})] * 4
    flagged = [False] * 6 + [True] * 3 + [False]
    t = _tally(spec, ballots, flagged=flagged)
    integ = t.integrity([1.0])
    assert integ.flagged == 3 and integ.flagged_share == pytest.approx(0.3)
    w, wo = integ.with_flagged.questions[0], integ.without_flagged.questions[0]
    assert w.counts.tolist() == [6, 4] and w.respondents == 10
    assert wo.counts.tolist() == [6, 1] and wo.respondents == 7
    assert wo.raw.share.tolist() == pytest.approx([6 / 7, 1 / 7])
    assert integ.without_flagged.respondents == 7 and integ.with_flagged.respondents == 10
    # flagging one more respondent later moves exactly that answer
    b = spec.ballot({0: 0})
    t.replace(0, b, b, flagged=True)
    assert t.results(include_flagged=False).questions[0].counts.tolist() == [5, 1]
    assert t.n_flagged == 4


def _plant_ring() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """30 polls over a month; 400 organic accounts; a ring of 8 new accounts answering 8 polls."""
    rng = np.random.default_rng(7)
    day = 86_400
    n_org = 400
    poll, account, time = [], [], []
    for a in range(n_org):
        for pick in rng.choice(30, size=int(rng.integers(1, 10)), replace=False).tolist():
            poll.append(pick)
            account.append(a)
            time.append(pick * day + int(rng.integers(0, 5 * day)))
    ring = np.arange(n_org, n_org + 8)
    for p in range(8):
        for j, member in enumerate(ring.tolist()):
            poll.append(p)
            account.append(member)
            time.append(p * day + 3600 + 20 * j)
    created = np.r_[np.full(n_org, -400 * day), np.full(8, -2 * day)]
    return np.array(poll), np.array(account), np.array(time), created, ring


def test_poll_signals_flag_a_lockstep_ring_and_not_organic_respondents() -> None:
    poll, account, time, created, ring = _plant_ring()
    s = poll_signals(poll, account, time, created)
    assert np.flatnonzero(s.flagged_accounts).tolist() == ring.tolist()
    assert s.flagged_rows.sum() == 64 and s.flagged_rows.shape == poll.shape
    assert s.signals.lockstep.pairs.shape[0] == 28  # every pair of the 8
    # the adapter's verdict feeds the tally: poll 0's respondents are its accounts
    mine = poll == 0
    accounts = account[mine]
    spec = PollSpec((Question("single", 2),), n_districts=1)
    n = accounts.shape[0]
    option = np.where(np.isin(accounts, ring), 0, 1)
    t = PollTally.build(spec, np.arange(n), np.zeros(n, np.int64), option,
                        district=np.zeros(n, np.int64),
                        flagged=s.flagged_accounts[accounts])  # fmt: skip
    integ = t.integrity([1.0])
    assert integ.flagged == 8
    assert integ.without_flagged.questions[0].counts.tolist()[0] == 0


def test_poll_signals_checks_its_input() -> None:
    with pytest.raises(ValueError, match="users must cover"):
        poll_signals([0, 0], [0, 5], [0, 1], [0, 0])


# ---------------------------------------------------------------- updates


def _random_answers(spec: PollSpec, rng: np.random.Generator) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for qi, q in enumerate(spec.questions):
        if rng.random() < 0.2:
            continue  # questions are optional
        if q.kind in ("single", "scale"):
            out[qi] = int(rng.integers(q.n_options))
        else:
            out[qi] = rng.permutation(q.n_options)[: int(rng.integers(1, q.limit + 1))].tolist()
    return out or {0: 0}


MIXED = PollSpec(
    (Question("single", 3), Question("multiple", 4, max_choices=2), Question("scale", 5),
     Question("ranking", 4, max_choices=3)),
    n_districts=3,
)  # fmt: skip


def _rebuild(state: dict[int, tuple[int, bool, dict[int, Any]]], n: int) -> PollTally:
    rows: list[tuple[int, int, int, int]] = []
    district = np.full(n, -1)
    flagged = np.zeros(n, bool)
    for r, (d, f, answers) in state.items():
        b = MIXED.ballot(answers)
        rows += [
            (r, int(q), int(o), int(p))
            for q, o, p in zip(b.question, b.option, b.position, strict=True)
        ]
        district[r], flagged[r] = d, f
    cols = np.array(rows, dtype=np.int64).reshape(-1, 4).T
    return PollTally.build(MIXED, *cols, district=district, flagged=flagged)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 80))
def test_incremental_updates_equal_a_rebuild(seed: int, steps: int) -> None:
    rng = np.random.default_rng(seed)
    n = 12
    state: dict[int, tuple[int, bool, dict[int, Any]]] = {}
    for r in range(0, n, 3):  # a few respondents from the initial build
        state[r] = (int(rng.integers(-1, 3)), bool(rng.random() < 0.2), _random_answers(MIXED, rng))
    tally = _rebuild(state, n)
    for _ in range(steps):
        r = int(rng.integers(0, n + 4))  # sometimes beyond the built size: the tally grows
        if r not in state:
            d, f, a = (
                int(rng.integers(-1, 3)),
                bool(rng.random() < 0.2),
                _random_answers(MIXED, rng),
            )
            tally.add(r, MIXED.ballot(a), district=d, flagged=f)
            state[r] = (d, f, a)
        elif rng.random() < 0.3:
            tally.remove(r, MIXED.ballot(state[r][2]))
            del state[r]
        else:
            d, f, old = state[r]
            new = _random_answers(MIXED, rng)
            if rng.random() < 0.3:
                d, f = int(rng.integers(-1, 3)), bool(rng.random() < 0.5)
            tally.replace(r, MIXED.ballot(old), MIXED.ballot(new), district=d, flagged=f)
            state[r] = (d, f, new)
    rebuilt = _rebuild(state, n + 4)
    for include in (True, False):
        np.testing.assert_array_equal(tally.counts(include), rebuilt.counts(include))
        np.testing.assert_array_equal(tally.respondents(include), rebuilt.respondents(include))
    assert tally.n_respondents == rebuilt.n_respondents == len(state)
    assert tally.n_flagged == rebuilt.n_flagged
    pop = [10.0, 20.0, 30.0]
    got, want = tally.results(pop, [0, 0, 1]), rebuilt.results(pop, [0, 0, 1])
    for qa, qb in zip(got.questions, want.questions, strict=True):
        np.testing.assert_array_equal(qa.weighted.share, qb.weighted.share)


def test_a_replaced_answer_moves_the_counts_exactly() -> None:
    t = _yes_no({0: (2, 0), 1: (0, 1)})
    t.replace(0, YES_NO.ballot({0: 0}), YES_NO.ballot({0: 1}), district=1)
    assert t.counts().tolist() == [[1, 0, 0], [0, 2, 0]]
    assert t.respondents().tolist() == [[1, 2, 0]]


def test_bad_updates_are_refused_and_change_nothing() -> None:
    t = _yes_no({0: (2, 1)})
    before = (t.counts(), t.respondents())
    yes, no = YES_NO.ballot({0: 0}), YES_NO.ballot({0: 1})
    with pytest.raises(ValueError, match="already answered"):
        t.add(0, yes, district=0)
    t2 = _yes_no({0: (0, 1)})
    with pytest.raises(ValueError, match="not what respondent 0 gave"):
        t2.remove(0, yes)  # nobody said yes: the count would go below 0
    with pytest.raises(ValueError, match="no answers"):
        t.remove(7, yes)
    with pytest.raises(ValueError, match="must be a Ballot"):
        t.replace(0, yes, "yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="district must be in"):
        t.add(5, yes, district=2)
    with pytest.raises(ValueError, match="district must be in"):
        t.replace(0, yes, no, district=9)
    after = (t.counts(), t.respondents())
    assert all(np.array_equal(x, y) for x, y in zip(before, after, strict=True))


def test_ballots_are_validated_against_the_questions() -> None:
    with pytest.raises(ValueError, match="option indices"):
        MIXED.ballot({0: 3})
    with pytest.raises(ValueError, match="question indices|question must be"):
        MIXED.ballot({4: 0})
    with pytest.raises(ValueError, match="at most 2"):
        MIXED.ballot({1: [0, 1, 2]})
    with pytest.raises(ValueError, match="given twice"):
        MIXED.ballot({1: [1, 1]})
    with pytest.raises(ValueError, match="positions must be 0..1"):
        MIXED.ballot_rows([3, 3], [0, 1], [0, 2])
    with pytest.raises(ValueError, match="positions must be 0 outside"):
        MIXED.ballot_rows([0], [0], [1])
    with pytest.raises(ValueError, match="at most 1"):
        MIXED.ballot_rows([0, 0], [0, 1])
    with pytest.raises(ValueError, match="at least one"):
        MIXED.ballot({})


def test_build_checks_ranges_and_per_question_limits() -> None:
    spec = YES_NO
    with pytest.raises(ValueError, match="more than 1 answers"):
        PollTally.build(spec, [0, 0], [0, 0], [0, 1], district=[0])
    with pytest.raises(ValueError, match="respondent indices"):
        PollTally.build(spec, [1], [0], [0], district=[0])
    with pytest.raises(ValueError, match="option indices"):
        PollTally.build(spec, [0], [0], [2], district=[0])
    with pytest.raises(ValueError, match="district must be in"):
        PollTally.build(spec, [0], [0], [0], district=[2])
    with pytest.raises(ValueError, match="integers"):
        PollTally.build(spec, [0.5], [0], [0], district=[0])
    with pytest.raises(ValueError, match="population"):
        _yes_no({0: (1, 0)}).results([1.0])
    with pytest.raises(ValueError, match="a single question needs more options"):
        Question("single", 1)
    with pytest.raises(ValueError, match="max_choices is for"):
        Question("single", 3, max_choices=2)


def test_an_empty_poll_has_no_shares_and_does_not_fail() -> None:
    t = PollTally.build(MIXED, [], [], [], district=[])
    res = t.results([1.0, 2.0, 3.0], okrug_of=[0, 0, 1])
    assert res.respondents == 0 and t.n_flagged == 0
    for q in res.questions:
        assert q.respondents == 0 and q.counts.sum() == 0
        assert np.isnan(q.raw.share).all() and np.isnan(q.raw.low).all()
        assert np.isnan(q.weighted.share).all() and math.isnan(q.coverage.deff)
        assert q.coverage.uncovered.tolist() == [0, 1, 2]
        assert q.coverage.uncovered_population_share == 1.0
    scale = res.questions[2]
    assert scale.mean is not None and math.isnan(scale.mean.mean)
    assert t.integrity().flagged_share == 0.0
    # and it can be filled from empty
    t.add(0, MIXED.ballot({0: 1, 3: [2, 0]}), district=2)
    assert t.results([1.0, 2.0, 3.0]).questions[0].weighted.share.tolist() == [0.0, 1.0, 0.0]


def test_districts_sharing_a_stratum_are_weighted_as_one() -> None:
    """Districts 1 and 2 share one population figure (stratum 1): the weighted result equals
    the tally where they are one district, and the district breakdown stays per district."""
    spec3 = PollSpec((Question("single", 2), Question("ranking", 3)), n_districts=3)
    spec2 = PollSpec((Question("single", 2), Question("ranking", 3)), n_districts=2)
    rng = np.random.default_rng(7)
    ballots3 = []
    for _ in range(60):
        d = int(rng.choice(3, p=[0.6, 0.3, 0.1]))
        ballots3.append((d, {0: int(rng.integers(2)), 1: [int(x) for x in rng.permutation(3)]}))
    ballots2 = [(min(d, 1), a) for d, a in ballots3]
    pooled = _tally(spec3, ballots3).results(
        [100.0, 300.0], okrug_of=[0, 1, 1], stratum_of=[0, 1, 1]
    )
    merged = _tally(spec2, ballots2).results([100.0, 300.0], okrug_of=[0, 1])
    for a, b in zip(pooled.questions, merged.questions, strict=True):
        np.testing.assert_allclose(a.weighted.share, b.weighted.share)
        np.testing.assert_allclose(a.weighted.low, b.weighted.low)
        assert a.coverage.deff == pytest.approx(b.coverage.deff)
        assert a.by_okrug is not None and b.by_okrug is not None
        np.testing.assert_allclose(a.by_okrug.share, b.by_okrug.share)
        assert a.by_district.respondents.shape == (3,)
    assert pooled.questions[1].ranking is not None and merged.questions[1].ranking is not None
    np.testing.assert_allclose(
        pooled.questions[1].ranking.weighted_borda, merged.questions[1].ranking.weighted_borda
    )
    # a district without a figure (-1) is left out of the weighted estimate, counted apart
    q = _tally(spec3, ballots3).results([100.0], stratum_of=[0, -1, -1]).questions[0]
    n_out = sum(1 for d, _ in ballots3 if d > 0)
    assert q.coverage.no_population == n_out and q.coverage.weighted == 60 - n_out
    with pytest.raises(ValueError, match="stratum_of"):
        _tally(spec3, ballots3).results([100.0], stratum_of=[0, 1, 1])
