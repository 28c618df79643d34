"""Candidate duplicate groups: mutual nearest neighbours, components, then a stricter split.

1. :func:`mutual_knn_edges` keeps an edge a-b when b is among a's k nearest neighbours, a is
   among b's, and both directions score at least ``threshold``. The edge score is the lower of
   the two (query vectors are script-weighted, so the directions may differ slightly).
2. :func:`group_edges` takes the connected components of those edges. A component can be a
   chain (a~b, b~c, c~d...) that glues unrelated ideas together, so each component is then
   split by **average-linkage agglomeration** on the edge scores, where a missing edge counts as
   0: start from singletons and repeatedly merge the two clusters with the highest average score
   over all cross pairs, while that average is at least ``strict`` and the merged size is at most
   ``max_size``. With missing edges at 0 a chain does not survive: for a-b-c with a-b = b-c = 0.9
   and no a-c edge, {a,b} to c averages (0 + 0.9) / 2 = 0.45. A group must be nearly a clique of
   strong edges; a single pair survives when its edge is at least ``strict``. Average rather than
   complete linkage, so a missing edge lowers a merge's average by 1/(|A|·|B|) of the pairs
   instead of vetoing it (4 ideas at 0.95 with one edge missing to a fifth average 0.71); rather
   than cutting weak bridges, so the result depends only on the edge set, not on arrival order.
   Only cluster pairs joined by at least one edge are ever candidates (others average 0), so
   the work is about O(E log E) per component, not cubic.
3. ``Group.score`` is the mean score of the group's edges; groups come strongest first (score
   descending, then members ascending: a total, deterministic order).
4. :class:`GroupState` keeps the current edges and, on ``update``/``remove`` of a node,
   recomputes only the components that node belonged to or now joins, returning the groups
   that disappeared and the ones that appeared. Its groups always equal ``group_edges`` over
   all its current edges (tested with random update/remove sequences).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Edge:
    """An undirected edge between two idea ids (``a < b``), with its score and reason codes."""

    a: int
    b: int
    score: float
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.a < self.b:
            raise ValueError(f"Edge needs a < b, got a={self.a}, b={self.b}")
        if not np.isfinite(self.score):
            raise ValueError(f"Edge score must be finite, got {self.score}")

    @classmethod
    def between(cls, x: int, y: int, score: float, reasons: tuple[str, ...] = ()) -> Edge:
        """The edge x-y whichever order the ids come in."""
        return cls(min(x, y), max(x, y), float(score), tuple(reasons))


@dataclass(frozen=True)
class Group:
    """A candidate duplicate group: sorted member ids, its edges (sorted), mean edge score."""

    members: tuple[int, ...]
    edges: tuple[Edge, ...]
    score: float


def mutual_knn_edges(
    ids: NDArray[np.int64],
    neighbours: NDArray[np.int64],
    scores: NDArray[np.float64],
    threshold: float,
) -> list[Edge]:
    """Edges a-b where each is in the other's neighbour row with a score >= ``threshold``.

    ``ids`` (n,) are the query ids; ``neighbours`` (n, k) their neighbour ids (``-1`` = padding)
    and ``scores`` (n, k) the matching scores. A neighbour that is not itself among ``ids`` has
    no row, so mutuality cannot be checked and it gets no edge; self-matches are ignored.
    Edges are sorted by (a, b).
    """
    ids_arr = np.asarray(ids)
    nb = np.asarray(neighbours)
    sc = np.asarray(scores, dtype=np.float64)
    if ids_arr.ndim != 1:
        raise ValueError(f"ids must be 1-D, got shape {ids_arr.shape}")
    if nb.ndim != 2 or nb.shape[0] != ids_arr.shape[0]:
        raise ValueError(f"neighbours must be (len(ids), k), got shape {nb.shape}")
    if sc.shape != nb.shape:
        raise ValueError(f"scores must have the shape of neighbours {nb.shape}, got {sc.shape}")
    if ids_arr.size and not np.issubdtype(ids_arr.dtype, np.integer):
        raise TypeError(f"ids must be integers, got dtype {ids_arr.dtype}")
    directed: dict[tuple[int, int], float] = {}
    for row, src in enumerate(ids_arr.tolist()):
        for dst, s in zip(nb[row].tolist(), sc[row].tolist(), strict=True):
            if dst < 0 or dst == src or not s >= threshold:
                continue
            key = (src, dst)
            if key not in directed or s > directed[key]:
                directed[key] = s
    out = []
    for (src, dst), s in directed.items():
        if src < dst and (dst, src) in directed:
            out.append(Edge(src, dst, min(s, directed[(dst, src)])))
    out.sort(key=lambda e: (e.a, e.b))
    return out


def _dedupe(edges: Iterable[Edge]) -> dict[tuple[int, int], Edge]:
    """One edge per pair: the highest score wins (ties: the first seen)."""
    best: dict[tuple[int, int], Edge] = {}
    for e in edges:
        if not isinstance(e, Edge):
            raise TypeError(f"expected Edge, got {type(e).__name__}")
        key = (e.a, e.b)
        if key not in best or e.score > best[key].score:
            best[key] = e
    return best


def _components(adj: dict[int, dict[int, Edge]], seeds: Iterable[int]) -> list[list[int]]:
    """Connected components (sorted member lists) reachable from ``seeds``."""
    seen: set[int] = set()
    out = []
    for s in seeds:
        if s in seen or s not in adj:
            continue
        seen.add(s)
        stack, comp = [s], []
        while stack:
            x = stack.pop()
            comp.append(x)
            for y in adj[x]:
                if y not in seen:
                    seen.add(y)
                    stack.append(y)
        out.append(sorted(comp))
    return out


def _split_component(
    members: list[int], adj: dict[int, dict[int, Edge]], strict: float, max_size: int
) -> list[Group]:
    """Average-linkage agglomeration inside one component (missing edges = 0), cut at strict."""
    if len(members) < 2:
        return []
    # cluster id = smallest member id (stable, order-independent)
    of: dict[int, int] = {m: m for m in members}
    clusters: dict[int, list[int]] = {m: [m] for m in members}
    link: dict[int, dict[int, float]] = {m: {} for m in members}  # sums of cross scores
    for x in members:  # sorted iteration: float sums and ties do not depend on edge arrival
        for y in sorted(adj[x]):
            link[x][y] = adj[x][y].score
    heap: list[tuple[float, int, int]] = []

    def push(c: int, d: int) -> None:
        avg = link[c][d] / (len(clusters[c]) * len(clusters[d]))
        if avg >= strict and len(clusters[c]) + len(clusters[d]) <= max_size:
            lo, hi = min(c, d), max(c, d)
            heapq.heappush(heap, (-avg, lo, hi))

    for c in members:
        for d in link[c]:
            if c < d:
                push(c, d)
    while heap:
        neg, c, d = heapq.heappop(heap)
        if c not in clusters or d not in clusters or d not in link[c]:
            continue
        current = link[c][d] / (len(clusters[c]) * len(clusters[d]))
        if current != -neg or len(clusters[c]) + len(clusters[d]) > max_size:
            continue  # stale entry (a fresh one was pushed when either cluster changed)
        keep, gone = c, d  # c < d: the merged cluster keeps the smaller id
        clusters[keep].extend(clusters.pop(gone))
        for m in clusters[keep]:
            of[m] = keep
        gone_links = link.pop(gone)
        del link[keep][gone]
        for other, s in gone_links.items():
            if other == keep:
                continue
            link[keep][other] = link[keep].get(other, 0.0) + s
            link[other][keep] = link[other].get(keep, 0.0) + s
            del link[other][gone]
        for other in link[keep]:
            push(keep, other)
    groups = []
    for member_list in clusters.values():
        if len(member_list) < 2:
            continue
        ms = tuple(sorted(member_list))
        inside = set(ms)
        edges = tuple(
            sorted(
                (e for x in ms for y, e in adj[x].items() if y in inside and x < y),
                key=lambda e: (e.a, e.b),
            )
        )
        score = float(np.mean([e.score for e in edges]))
        groups.append(Group(ms, edges, score))
    return groups


def _order(groups: list[Group]) -> list[Group]:
    return sorted(groups, key=lambda g: (-g.score, g.members))


def _check_split(strict: float, max_size: int) -> None:
    if not np.isfinite(strict):
        raise ValueError(f"strict must be a finite number, got {strict}")
    if max_size < 2:
        raise ValueError(f"max_size must be >= 2, got {max_size}")


def _adjacency(edges: Iterable[Edge]) -> dict[int, dict[int, Edge]]:
    adj: dict[int, dict[int, Edge]] = {}
    for e in _dedupe(edges).values():
        adj.setdefault(e.a, {})[e.b] = e
        adj.setdefault(e.b, {})[e.a] = e
    return adj


def group_edges(edges: Iterable[Edge], *, strict: float, max_size: int = 50) -> list[Group]:
    """Connected components of ``edges``, each split by average linkage cut at ``strict``.

    Repeated pairs keep their highest-scoring edge. Groups have >= 2 members, strongest first.

    A chain 1-2-3 is split (1 and 3 were never found similar), a pair stays:

    >>> edges = [Edge.between(1, 2, 0.9), Edge.between(3, 2, 0.9), Edge.between(7, 8, 0.95)]
    >>> [g.members for g in group_edges(edges, strict=0.6)]
    [(7, 8), (1, 2)]

    Once 1-3 is an edge too the three are nearly a clique and form one group:

    >>> [g.members for g in group_edges([*edges, Edge.between(1, 3, 0.8)], strict=0.6)]
    [(7, 8), (1, 2, 3)]
    """
    _check_split(strict, max_size)
    adj = _adjacency(edges)
    groups: list[Group] = []
    for comp in _components(adj, sorted(adj)):
        groups.extend(_split_component(comp, adj, strict, max_size))
    return _order(groups)


@dataclass
class GroupState:
    """Current edges and groups, updated one node at a time.

    ``update(node, edges)`` makes ``edges`` the node's complete set of edges (old ones not in it
    disappear); ``remove(node)`` drops the node and its edges. Both recompute only the
    components touched and return ``(removed groups, new groups)`` — groups that did not change
    appear in neither list.
    """

    strict: float
    max_size: int = 50
    _adj: dict[int, dict[int, Edge]] = field(default_factory=dict, repr=False)
    _group_of: dict[int, Group] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        _check_split(self.strict, self.max_size)

    @classmethod
    def from_edges(cls, edges: Iterable[Edge], *, strict: float, max_size: int = 50) -> GroupState:
        state = cls(strict=strict, max_size=max_size)
        state._adj = _adjacency(edges)
        for comp in _components(state._adj, sorted(state._adj)):
            for g in _split_component(comp, state._adj, strict, max_size):
                for m in g.members:
                    state._group_of[m] = g
        return state

    def edges(self) -> list[Edge]:
        """Every current edge, sorted by (a, b)."""
        return sorted(
            {e for nbrs in self._adj.values() for e in nbrs.values()}, key=lambda e: (e.a, e.b)
        )

    def groups(self) -> list[Group]:
        """Current groups, strongest first (equal to ``group_edges(self.edges(), ...)``)."""
        return _order(list({id(g): g for g in self._group_of.values()}.values()))

    def group_of(self, node: int) -> Group | None:
        return self._group_of.get(node)

    def _unlink(self, node: int) -> None:
        for other in self._adj.pop(node, {}):
            nbrs = self._adj[other]
            del nbrs[node]
            if not nbrs:
                del self._adj[other]

    def _recompute(self, touched: set[int]) -> tuple[list[Group], list[Group]]:
        old = {id(g): g for m in touched if (g := self._group_of.get(m)) is not None}
        # every member of an old group is in a touched component, so all its members go
        for g in old.values():
            for m in g.members:
                self._group_of.pop(m, None)
        fresh: list[Group] = []
        for comp in _components(self._adj, sorted(touched)):
            fresh.extend(_split_component(comp, self._adj, self.strict, self.max_size))
        for g in fresh:
            for m in g.members:
                self._group_of[m] = g
        old_set, new_set = set(old.values()), set(fresh)
        return _order(list(old_set - new_set)), _order(list(new_set - old_set))

    def _component_of(self, node: int) -> set[int]:
        comps = _components(self._adj, [node])
        return set(comps[0]) if comps else {node}

    def update(self, node: int, edges: Iterable[Edge]) -> tuple[list[Group], list[Group]]:
        """Replace ``node``'s edges by ``edges`` (each must have ``node`` as one end)."""
        new = _dedupe(edges)
        for e in new.values():
            if node not in (e.a, e.b):
                raise ValueError(f"edge {e.a}-{e.b} does not touch node {node}")
        touched = self._component_of(node)
        for e in new.values():
            other = e.b if e.a == node else e.a
            if other not in touched:
                touched |= self._component_of(other)
        self._unlink(node)
        for e in new.values():
            other = e.b if e.a == node else e.a
            self._adj.setdefault(node, {})[other] = e
            self._adj.setdefault(other, {})[node] = e
        return self._recompute(touched)

    def remove(self, node: int) -> tuple[list[Group], list[Group]]:
        """Drop ``node`` and its edges (an unknown node changes nothing)."""
        if node not in self._adj:
            return [], []
        touched = self._component_of(node)
        self._unlink(node)
        return self._recompute(touched)
