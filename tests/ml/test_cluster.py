"""Duplicate groups: mutual kNN edges, the chain split, and incremental == full recompute."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.cluster import Edge, Group, GroupState, group_edges, mutual_knn_edges
from ml.index import ExactIndex


def test_mutual_knn_keeps_only_mutual_edges_above_threshold() -> None:
    ids = np.array([1, 2, 3, 4])
    neighbours = np.array([[2, 3, -1], [1, 4, 3], [4, 1, 2], [3, 2, -1]])
    scores = np.array(
        [[0.9, 0.8, -np.inf], [0.88, 0.7, 0.6], [0.95, 0.5, 0.4], [0.96, 0.75, -np.inf]]
    )
    edges = mutual_knn_edges(ids, neighbours, scores, threshold=0.72)
    # 1-2 mutual (min 0.88); 3-4 mutual (0.95); 1-3 and 2-4 above only one way
    assert edges == [Edge(1, 2, 0.88), Edge(3, 4, 0.95)]
    assert Edge(2, 4, 0.7) in mutual_knn_edges(ids, neighbours, scores, threshold=0.7)
    assert mutual_knn_edges(ids, neighbours, scores, threshold=0.99) == []


def test_mutual_knn_on_real_index_search_ignores_self_and_unknown() -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal((20, 16)).astype(np.float32)
    copies = base + 0.05 * rng.standard_normal((20, 16)).astype(np.float32)
    v = np.concatenate([base, copies])
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    ids = np.arange(40, dtype=np.int64) + 100
    index = ExactIndex(16)
    index.add(ids, v)
    nb, sc = index.search(v, 3)
    edges = mutual_knn_edges(ids, nb, sc.astype(np.float64), threshold=0.9)
    assert {(e.a, e.b) for e in edges} == {(100 + i, 120 + i) for i in range(20)}
    # a neighbour without its own row cannot be confirmed mutual
    assert mutual_knn_edges(ids[:20], nb[:20], sc[:20].astype(np.float64), 0.9) == []


def test_bad_shapes_and_edges_are_named() -> None:
    with pytest.raises(ValueError, match="a < b"):
        Edge(3, 2, 0.5)
    with pytest.raises(ValueError, match="neighbours"):
        mutual_knn_edges(np.array([1, 2]), np.array([[1]]), np.array([[0.5]]), 0.1)
    with pytest.raises(ValueError, match="max_size"):
        group_edges([], strict=0.5, max_size=1)
    with pytest.raises(ValueError, match="does not touch"):
        GroupState(strict=0.5).update(1, [Edge(2, 3, 0.9)])


def test_chain_is_split_clique_is_kept() -> None:
    chain = [Edge(1, 2, 0.9), Edge(2, 3, 0.88), Edge(3, 4, 0.9)]
    groups = group_edges(chain, strict=0.8)
    # a-b-c-d: best pairs survive, the chain does not become one group
    assert [g.members for g in groups] == [(1, 2), (3, 4)]
    assert all(len(g.members) == 2 for g in groups)
    clique = [Edge(a, b, 0.9) for a in range(10, 14) for b in range(a + 1, 14)]
    (g,) = group_edges(clique + [Edge(13, 20, 0.85)], strict=0.8)
    assert g.members == (10, 11, 12, 13) and len(g.edges) == 6
    assert g.score == pytest.approx(0.9)


def test_one_missing_edge_lowers_the_average_instead_of_vetoing() -> None:
    members = range(5)
    edges = [Edge(a, b, 0.95) for a in members for b in members if a < b and (a, b) != (0, 4)]
    # the last merge averages 3 x 0.95 + one missing (0) over 4 pairs = 0.71
    (g,) = group_edges(edges, strict=0.7)
    assert g.members == (0, 1, 2, 3, 4) and len(g.edges) == 9
    # at 0.85 no merge can put 0 and 4 together (best case 5 of 6 pairs: 0.79)
    split = group_edges(edges, strict=0.85)
    assert len(split) >= 2 and not any({0, 4} <= set(g.members) for g in split)
    assert sorted(m for g in split for m in g.members) == [0, 1, 2, 3, 4]
    assert all(len(g.members) <= 3 for g in group_edges(edges, strict=0.7, max_size=3))


def test_groups_sorted_strongest_first_and_weak_pairs_dropped() -> None:
    edges = [Edge(1, 2, 0.81), Edge(5, 6, 0.99), Edge(8, 9, 0.7), Edge(3, 4, 0.9)]
    groups = group_edges(edges, strict=0.8)
    assert [g.members for g in groups] == [(5, 6), (3, 4), (1, 2)]
    assert [g.score for g in groups] == sorted((g.score for g in groups), reverse=True)


def test_state_update_reports_changes_only() -> None:
    state = GroupState(strict=0.8)
    removed, added = state.update(2, [Edge(1, 2, 0.9)])
    assert removed == [] and [g.members for g in added] == [(1, 2)]
    removed, added = state.update(5, [Edge(5, 6, 0.95)])
    assert removed == [] and [g.members for g in added] == [(5, 6)]
    removed, added = state.update(3, [Edge(1, 3, 0.9), Edge(2, 3, 0.9)])
    assert [g.members for g in removed] == [(1, 2)] and [g.members for g in added] == [(1, 2, 3)]
    removed, added = state.remove(3)
    assert [g.members for g in removed] == [(1, 2, 3)] and [g.members for g in added] == [(1, 2)]
    assert state.remove(42) == ([], [])
    assert [g.members for g in state.groups()] == [(5, 6), (1, 2)]
    assert isinstance(state.group_of(1), Group) and state.group_of(3) is None


scores_st = st.sampled_from([0.55, 0.7, 0.8, 0.85, 0.9, 0.97])
op_st: st.SearchStrategy[tuple[str, int, list[tuple[int, float]]]] = st.one_of(
    st.tuples(
        st.just("update"),
        st.integers(0, 12),
        st.lists(st.tuples(st.integers(0, 12), scores_st), max_size=4),
    ),
    st.tuples(st.just("remove"), st.integers(0, 12), st.just([])),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(op_st, min_size=1, max_size=40),
    st.sampled_from([0.6, 0.8, 0.88]),
    st.sampled_from([2, 3, 50]),
)
def test_incremental_equals_full_recompute(
    ops: list[tuple[str, int, list[tuple[int, float]]]], strict: float, max_size: int
) -> None:
    state = GroupState(strict=strict, max_size=max_size)
    seen: set[Group] = set()
    for op, node, nbrs in ops:
        before = set(state.groups())
        if op == "update":
            edges = [Edge.between(node, other, s) for other, s in nbrs if other != node]
            removed, added = state.update(node, edges)
        else:
            removed, added = state.remove(node)
        after = set(state.groups())
        # the reported diff is exactly the change
        assert set(removed) == before - after and set(added) == after - before
        assert state.groups() == group_edges(state.edges(), strict=strict, max_size=max_size)
        for g in after:
            assert 2 <= len(g.members) <= max_size
            mean = sum(e.score for e in g.edges) / len(g.edges)
            assert g.score == pytest.approx(mean)
        seen |= after
    rebuilt = GroupState.from_edges(state.edges(), strict=strict, max_size=max_size)
    assert rebuilt.groups() == state.groups()
