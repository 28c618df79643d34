"""Participatory-budget outcomes: greedy and the Method of Equal Shares.

Pure NumPy/SciPy implementations of the two rules cities use to turn
approval ballots into a set of funded projects, following the definitions of
Pabulib and `equalshares.net <https://equalshares.net/>`_ and checked against
``pabutools`` in the tests.

Ballots are a sparse voter x project approval matrix
(:class:`scipy.sparse.csr_matrix`; any non-zero entry is an approval).

Ties are broken by *tie rank*: among tied projects the one with the smallest
``tie_rank`` wins.  The default is the index order of ``costs``; pass
:func:`lexicographic_rank` of the Pabulib project ids to reproduce
``pabutools``' default ``lexico_tie_breaking`` (ids compared as strings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
Completion = Literal["none", "add1", "add1-greedy"]

_REL_TOL = 1e-9


@dataclass(frozen=True)
class Outcome:
    """Selected projects of a budget rule.

    Attributes
    ----------
    selected : numpy.ndarray
        Sorted indices (into ``costs``) of the funded projects.
    total_cost : int
        Sum of the costs of the funded projects.
    """

    selected: IntArray
    total_cost: int


def lexicographic_rank(ids: Sequence[str]) -> IntArray:
    """Rank project ids as strings, as ``pabutools``' lexicographic tie-breaking.

    Parameters
    ----------
    ids : sequence of str
        Project ids in the order of ``costs``.

    Returns
    -------
    numpy.ndarray
        ``rank[j]`` is the position of ``ids[j]`` in string order.

    Examples
    --------
    >>> lexicographic_rank(["9", "10", "2"]).tolist()
    [2, 0, 1]
    """
    order = sorted(range(len(ids)), key=lambda j: ids[j])
    rank = np.empty(len(ids), dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(ids), dtype=np.int64)
    return rank


def _prepare(
    costs: npt.ArrayLike, ballots: sp.spmatrix | sp.sparray, tie_rank: npt.ArrayLike | None
) -> tuple[IntArray, sp.csc_matrix, IntArray]:
    c = np.asarray(costs, dtype=np.int64)
    m = sp.csc_matrix(ballots, dtype=np.float64)
    m.data[:] = 1.0
    m.eliminate_zeros()
    m.sum_duplicates()
    m.data[:] = 1.0
    if m.shape[1] != c.shape[0]:
        raise ValueError("ballots must have one column per project")
    rank = (
        np.arange(c.shape[0], dtype=np.int64)
        if tie_rank is None
        else np.asarray(tie_rank, dtype=np.int64)
    )
    return c, m, rank


def _outcome(mask: npt.NDArray[np.bool_], costs: IntArray) -> Outcome:
    sel = np.flatnonzero(mask).astype(np.int64)
    return Outcome(sel, int(costs[sel].sum()))


def _greedy_fill(
    costs: IntArray, votes: IntArray, budget: int, rank: IntArray, chosen: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    chosen = chosen.copy()
    spent = int(costs[chosen].sum())
    order = np.lexsort((rank, -votes))
    for j in order.tolist():
        if not chosen[j] and spent + int(costs[j]) <= budget:
            chosen[j] = True
            spent += int(costs[j])
    return chosen


def greedy(
    costs: npt.ArrayLike,
    ballots: sp.spmatrix | sp.sparray,
    budget: int,
    tie_rank: npt.ArrayLike | None = None,
) -> Outcome:
    """Greedy by approval count within the budget (Pabulib's ``greedy``).

    Projects are taken by number of approvals, most first (ties: smallest
    ``tie_rank``); a project that no longer fits is skipped and the scan goes
    on, so the outcome is exhaustive.

    Parameters
    ----------
    costs : array_like of int, shape (n_projects,)
        Project costs.
    ballots : scipy.sparse matrix, shape (n_voters, n_projects)
        Approval ballots.
    budget : int
        Budget limit.
    tie_rank : array_like of int, optional
        Tie-breaking rank per project (smaller wins); default index order.

    Returns
    -------
    Outcome
        Selected project indices (sorted) and their total cost.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> b = sp.csr_matrix([[1, 1, 0], [1, 0, 0], [0, 0, 1]])
    >>> out = greedy([60, 30, 50], b, 100)
    >>> out.selected.tolist(), out.total_cost
    ([0, 1], 90)
    """
    c, m, rank = _prepare(costs, ballots, tie_rank)
    votes = np.diff(m.indptr).astype(np.int64)
    return _outcome(_greedy_fill(c, votes, budget, rank, np.zeros(c.shape[0], bool)), c)


def _gather(indptr: IntArray, indices: IntArray, rows: IntArray) -> tuple[IntArray, IntArray]:
    """Entries of the compressed ``rows``: (position in ``rows``, index)."""
    cnt = indptr[rows + 1] - indptr[rows]
    first = np.cumsum(cnt) - cnt
    owner = np.repeat(np.arange(rows.size, dtype=np.int64), cnt)
    offs = np.arange(int(cnt.sum()), dtype=np.int64) - first[owner]
    return owner, indices[indptr[rows][owner] + offs]


def _payments(
    projs: IntArray, cf: FloatArray, indptr: IntArray, indices: IntArray, budgets: FloatArray
) -> FloatArray:
    """Per-supporter payment ``rho`` of each project in ``projs``; inf if unaffordable.

    Supporters' budgets are sorted ascending per project; the candidate at
    position ``k`` is ``(cost - sum of the k poorest) / (n - k)``, and the
    first candidate not above the ``k``-th budget is the answer.
    """
    owner, voters = _gather(indptr, indices, projs)
    b = budgets[voters]
    order = np.lexsort((b, owner))
    owner, b = owner[order], b[order]
    cnt = np.bincount(owner, minlength=projs.size)
    seg = (np.cumsum(cnt) - cnt)[owner]
    total = np.bincount(owner, weights=b, minlength=projs.size)
    before = np.cumsum(b) - b
    before -= before[seg]
    pos = np.arange(owner.size, dtype=np.int64) - seg
    rho = (cf[projs][owner] - before) / (cnt[owner] - pos)
    valid = rho <= b * (1 + _REL_TOL)
    hit = np.flatnonzero(valid)
    who, at = np.unique(owner[hit], return_index=True)
    out = np.full(projs.size, np.inf)
    out[who] = rho[hit[at]]
    out[total < cf[projs] * (1 - 1e-12)] = np.inf
    return out


def _mes_fixed(
    c: IntArray, m: sp.csc_matrix, rank: IntArray, per_voter: float
) -> npt.NDArray[np.bool_]:
    """One run of MES with cost utilities and endowment ``per_voter`` each.

    Only projects sharing a supporter with the one just funded are
    re-evaluated: the others' supporters kept their budgets.
    """
    n_voters, n_proj = m.shape
    indptr = m.indptr.astype(np.int64)
    indices = m.indices.astype(np.int64)
    r = m.tocsr()
    rptr = r.indptr.astype(np.int64)
    rind = r.indices.astype(np.int64)
    nsup = np.diff(indptr)
    cf = c.astype(np.float64)
    chosen: npt.NDArray[np.bool_] = (c == 0) & (nsup > 0)
    alive = (nsup > 0) & (c > 0)
    budgets = np.full(n_voters, per_voter, dtype=np.float64)
    rho = np.full(n_proj, np.inf)
    live = np.flatnonzero(alive)
    rho[live] = _payments(live, cf, indptr, indices, budgets)
    alive &= np.isfinite(rho)
    while alive.any():
        afford = np.where(alive, rho / np.where(cf > 0, cf, 1.0), np.inf)
        best = afford.min()
        tied = np.flatnonzero(alive & (afford <= best * (1 + _REL_TOL)))
        j = int(tied[np.argmin(rank[tied])])
        chosen[j] = True
        alive[j] = False
        sup = indices[indptr[j] : indptr[j + 1]]
        budgets[sup] -= np.minimum(budgets[sup], rho[j])
        touched = np.zeros(n_proj, dtype=bool)
        touched[_gather(rptr, rind, sup)[1]] = True
        redo = np.flatnonzero(touched & alive)
        if redo.size:
            rho[redo] = _payments(redo, cf, indptr, indices, budgets)
            alive &= np.isfinite(rho)
    return chosen


def _exhaustive(
    c: IntArray, chosen: npt.NDArray[np.bool_], budget: int, avail: npt.NDArray[np.bool_]
) -> bool:
    spent = int(c[chosen].sum())
    rest = avail & ~chosen
    return not bool((c[rest] + spent <= budget).any())


def equal_shares(
    costs: npt.ArrayLike,
    ballots: sp.spmatrix | sp.sparray,
    budget: int,
    completion: Completion = "add1-greedy",
    tie_rank: npt.ArrayLike | None = None,
    stop_when_exhaustive: bool = False,
) -> Outcome:
    """Method of Equal Shares for approval ballots with cost utilities.

    Each voter starts with ``budget / n_voters``.  Repeatedly, for every
    project still affordable by its supporters, find the smallest payment
    ``rho`` such that supporters paying ``min(budget_i, rho)`` cover its cost;
    fund the project minimising ``rho / cost`` (the payment per unit of
    utility, utilities being costs as on equalshares.net and in pabutools;
    ties: smallest ``tie_rank``), charge its supporters, and stop when no
    project is affordable.  Projects their supporters can no longer afford
    are dropped.

    Completions:

    - ``"none"``: the plain rule.
    - ``"add1"``: raise every voter's endowment by 1 unit of currency and
      rerun, as long as the outcome stays within the budget; the last feasible
      outcome is taken (equalshares.net's Add1).  With
      ``stop_when_exhaustive=True`` the loop also stops at the first
      exhaustive outcome, which is ``pabutools``'
      ``method_of_equal_shares(..., voter_budget_increment=1)``.
    - ``"add1-greedy"`` (default): ``"add1"`` followed by greedy filling by
      approval count (the "utilitarian greedy completion").

    Floating-point arithmetic is used; payments within a relative ``1e-9``
    count as ties (``pabutools`` uses exact fractions).

    Parameters
    ----------
    costs : array_like of int, shape (n_projects,)
        Project costs.
    ballots : scipy.sparse matrix, shape (n_voters, n_projects)
        Approval ballots.
    budget : int
        Budget limit.
    completion : {"none", "add1", "add1-greedy"}
        Completion method, default ``"add1-greedy"``.
    tie_rank : array_like of int, optional
        Tie-breaking rank per project (smaller wins); default index order.
    stop_when_exhaustive : bool
        Stop Add1 at the first exhaustive outcome (pabutools' semantics).

    Returns
    -------
    Outcome
        Selected project indices (sorted) and their total cost.

    Examples
    --------
    Three voters want A or B (50 each), one voter wants C (20).  Greedy with
    budget 100 funds A and B; equal shares gives the minority its C.

    >>> import scipy.sparse as sp
    >>> b = sp.csr_matrix([[1, 1, 0]] * 3 + [[0, 0, 1]])
    >>> greedy([50, 50, 20], b, 100).selected.tolist()
    [0, 1]
    >>> out = equal_shares([50, 50, 20], b, 100, completion="none")
    >>> out.selected.tolist(), out.total_cost
    ([0, 2], 70)
    """
    if completion not in ("none", "add1", "add1-greedy"):
        raise ValueError(f"unknown completion {completion!r}")
    c, m, rank = _prepare(costs, ballots, tie_rank)
    n_voters = m.shape[0]
    if n_voters == 0:
        return _outcome(np.zeros(c.shape[0], bool), c)
    per_voter = budget / n_voters
    chosen = _mes_fixed(c, m, rank, per_voter)
    if completion != "none":
        avail = (np.diff(m.indptr) > 0) & (c > 0)
        # each step adds n_voters to the total endowment; bounded as pabutools
        while per_voter <= budget:
            if stop_when_exhaustive and _exhaustive(c, chosen, budget, avail):
                break
            per_voter += 1.0
            nxt = _mes_fixed(c, m, rank, per_voter)
            if int(c[nxt].sum()) > budget:
                break
            chosen = nxt
            if bool(chosen[avail].all()):
                break
        if completion == "add1-greedy":
            votes = np.diff(m.indptr).astype(np.int64)
            chosen = _greedy_fill(c, votes, budget, rank, chosen)
    return _outcome(chosen, c)
