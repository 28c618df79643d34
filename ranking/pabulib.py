"""Parser for the Pabulib ``.pb`` format (approval ballots).

The format (https://pabulib.org/format) has three semicolon-separated CSV
sections, ``META``, ``PROJECTS`` and ``VOTES``, each starting with a header
row.  This module turns the text into arrays; it does no file I/O.  Text
that is not such a file raises :class:`ValueError` naming the problem.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp


@dataclass(frozen=True)
class PbElection:
    """A Pabulib election as arrays.

    Attributes
    ----------
    meta : dict of str to str
        The META section (``budget``, ``rule``, ``vote_type``, ...).
    project_ids : list of str
        Project ids in file order; column ``j`` of ``ballots`` is ``project_ids[j]``.
    names : list of str
        Project names ("" when absent).
    costs : numpy.ndarray
        Costs, int64.
    votes : numpy.ndarray
        The ``votes`` column (approval counts as published), int64; -1 when absent.
    selected : numpy.ndarray
        The ``selected`` column as bool (official winners); False when absent.
    ballots : scipy.sparse.csr_matrix
        Voter x project approval matrix (1 = approved), in VOTES order.
    voter_ids : list of str
        Voter ids in VOTES order.
    """

    meta: dict[str, str]
    project_ids: list[str]
    names: list[str]
    costs: npt.NDArray[np.int64]
    votes: npt.NDArray[np.int64]
    selected: npt.NDArray[np.bool_]
    ballots: sp.csr_matrix
    voter_ids: list[str]

    @property
    def budget(self) -> int:
        """The META ``budget`` as an int (decimals truncated)."""
        return int(float(self.meta["budget"]))


def _sections(text: str) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    reader = csv.reader(io.StringIO(text), delimiter=";")
    for row in reader:
        if not row or all(not cell.strip() for cell in row):
            continue
        head = row[0].strip().upper()
        if len(row) == 1 and head in {"META", "PROJECTS", "VOTES"}:
            current = out.setdefault(head, [])
            continue
        if current is None:
            raise ValueError("data before the first section header")
        current.append([cell.strip() for cell in row])
    return out


def _number(value: str, what: str) -> int:
    """An integer field (decimals truncated, as Pabulib writes some costs)."""
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{what} is not a number: {value!r}") from None
    if not np.isfinite(number):
        raise ValueError(f"{what} is not a number: {value!r}")
    return int(number)


def parse_pb(text: str) -> PbElection:
    """Parse the text of a Pabulib ``.pb`` file with approval votes.

    Parameters
    ----------
    text : str
        The whole file.

    Returns
    -------
    PbElection
        Projects, costs, official outcome and the ballot matrix.

    Examples
    --------
    >>> e = parse_pb('''META
    ... key;value
    ... budget;100
    ... vote_type;approval
    ... PROJECTS
    ... project_id;cost;votes;name;selected
    ... 7;60;2;Park;1
    ... 3;50;1;Bench;0
    ... VOTES
    ... voter_id;vote
    ... a;7,3
    ... b;7
    ... ''')
    >>> e.project_ids, e.costs.tolist(), e.selected.tolist(), e.budget
    (['7', '3'], [60, 50], [True, False], 100)
    >>> e.ballots.toarray().tolist()
    [[1, 1], [1, 0]]
    """
    secs = _sections(text)
    for name in ("META", "PROJECTS", "VOTES"):
        if name not in secs:
            raise ValueError(f"missing section {name}")
    meta_rows = secs["META"][1:]
    meta = {r[0]: (r[1] if len(r) > 1 else "") for r in meta_rows}
    _number(meta.get("budget", ""), "META budget")
    if meta.get("vote_type", "approval") != "approval":
        raise ValueError(f"unsupported vote_type {meta.get('vote_type')!r}")
    phead, *prows = secs["PROJECTS"]
    col = {k: i for i, k in enumerate(phead)}

    def cell(r: list[str], key: str, default: str) -> str:
        i = col.get(key)
        return r[i] if i is not None and i < len(r) and r[i] != "" else default

    if "project_id" not in col or "cost" not in col:
        raise ValueError("PROJECTS needs the columns project_id and cost")
    ids = [cell(r, "project_id", "") for r in prows]
    where = {pid: j for j, pid in enumerate(ids)}
    if len(where) != len(ids) or "" in where:
        raise ValueError("PROJECTS has an empty or repeated project_id")
    costs = np.array([_number(cell(r, "cost", ""), "cost") for r in prows], dtype=np.int64)
    if (costs < 0).any():
        raise ValueError("PROJECTS has a negative cost")
    votes = np.array([_number(cell(r, "votes", "-1"), "votes") for r in prows], dtype=np.int64)
    selected = np.array([cell(r, "selected", "0") == "1" for r in prows], dtype=bool)
    names = [cell(r, "name", "") for r in prows]

    vhead, *vrows = secs["VOTES"]
    vcol = {k: i for i, k in enumerate(vhead)}
    if "vote" not in vcol:
        raise ValueError("VOTES needs the column vote")
    vi, ci = vcol["vote"], vcol.get("voter_id", 0)
    indptr = [0]
    indices: list[int] = []
    voter_ids: list[str] = []
    for r in vrows:
        voter_ids.append(r[ci])
        try:
            chosen = (
                {where[p.strip()] for p in r[vi].split(",") if p.strip()} if vi < len(r) else set()
            )
        except KeyError as exc:
            raise ValueError(
                f"voter {r[ci]!r} approves an unknown project {exc.args[0]!r}"
            ) from None
        indices.extend(sorted(chosen))
        indptr.append(len(indices))
    ballots = sp.csr_matrix(
        (
            np.ones(len(indices), dtype=np.int64),
            np.asarray(indices, dtype=np.int64),
            np.asarray(indptr, dtype=np.int64),
        ),
        shape=(len(vrows), len(ids)),
    )
    return PbElection(meta, ids, names, costs, votes, selected, ballots, voter_ids)
