"""ml.topics: themes recovered from synthetic clustered vectors, c-TF-IDF labels, validation."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from ml.topics import candidate_ks, cluster_vectors, find_topics, tokens, topic_keywords

# Four subjects, each with its own words in several forms (Russian and English), sharing filler.
SUBJECTS = {
    "bike": ["велодорожка", "велодорожки", "велодорожку", "велосипедистов"],
    "playground": ["площадка", "площадки", "качели", "горка"],
    "trees": ["trees", "tree", "planting", "shade"],
    "buses": ["автобус", "автобусы", "остановка", "маршрут"],
}


def _corpus(
    per_cluster: int = 30, dim: int = 32, noise: float = 0.15, seed: int = 1
) -> tuple[NDArray[np.float64], list[str], NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.standard_normal((dim, dim)))[0][: len(SUBJECTS)]
    vectors: list[NDArray[np.float64]] = []
    texts: list[str] = []
    truth: list[int] = []
    for c, (name, words) in enumerate(SUBJECTS.items()):
        for i in range(per_cluster):
            v = centres[c] + noise * rng.standard_normal(dim)
            vectors.append(v / np.linalg.norm(v))
            picked = [words[(i + j) % len(words)] for j in range(3)]
            texts.append(f"Предлагаю {' '.join(picked)} в нашем районе, please {name}")
            truth.append(c)
    return np.asarray(vectors, dtype=np.float64), texts, np.asarray(truth, dtype=np.int64)


def test_planted_clusters_are_recovered_exactly_with_their_own_keywords() -> None:
    x, texts, truth = _corpus()
    result = find_topics(x, texts)
    assert result.k == 4  # the silhouette sweep finds the planted number
    assert [len(t.members) for t in result.topics] == [30, 30, 30, 30]
    found = set()
    for topic in result.topics:
        classes = set(truth[list(topic.members)])
        assert len(classes) == 1, "a theme mixes two planted clusters"
        c = classes.pop()
        found.add(c)
        own = {*list(SUBJECTS.values())[c], list(SUBJECTS)[c]}
        assert topic.keywords, "a theme without labels"
        assert set(topic.keywords) <= own, (topic.keywords, own)
        assert 0.5 < topic.cohesion <= 1.0
    assert found == {0, 1, 2, 3}
    assert (result.labels >= 0).all()


def test_words_are_counted_by_stem_and_shown_in_their_most_frequent_form() -> None:
    x, texts, truth = _corpus()
    result = find_topics(x, texts)
    bike = next(t for t in result.topics if truth[t.members[0]] == 0)
    # велодорожка / велодорожки / велодорожку are one stem: it ranks first, shown as one word
    assert bike.keywords[0] in {"велодорожка", "велодорожки", "велодорожку"}
    assert sum(k.startswith("велодорож") for k in bike.keywords) == 1
    # filler words shared by every cluster, and stop words, are never labels
    for topic in result.topics:
        assert not {"предлагаю", "please", "нашем", "районе"} & set(topic.keywords)


def test_small_clusters_go_to_other() -> None:
    x, texts, _ = _corpus(per_cluster=20, noise=0.05)
    rng = np.random.default_rng(5)
    far = rng.standard_normal(x.shape[1])
    stray = far + 0.01 * rng.standard_normal((2, x.shape[1]))  # a tight pair far from the rest
    stray /= np.linalg.norm(stray, axis=1, keepdims=True)
    x = np.vstack([x, stray])
    texts = [*texts, "одинокая идея про фонтан", "ещё одна про фонтан"]
    result = find_topics(x, texts, n_topics=5, min_size=3)
    assert result.k == 5
    assert list(result.labels[-2:]) == [-1, -1]  # their cluster of two went to "other"
    assert [len(t.members) for t in result.topics] == [20, 20, 20, 20]
    assert sorted(result.labels[:-2].tolist()) == sorted([0, 1, 2, 3] * 20)


def test_too_few_rows_make_no_themes() -> None:
    x, texts, _ = _corpus(per_cluster=1)
    result = find_topics(x[:4], texts[:4], min_size=3)
    assert result.topics == () and result.k == 0
    assert (result.labels == -1).all()


def test_results_are_deterministic_for_a_seed() -> None:
    x, texts, _ = _corpus()
    a = find_topics(x, texts, random_state=3)
    b = find_topics(x[::-1].copy(), texts[::-1], random_state=3)
    assert [sorted(len(t.members) for t in a.topics)] == [sorted(len(t.members) for t in b.topics)]
    again = find_topics(x, texts, random_state=3)
    assert np.array_equal(a.labels, again.labels)
    assert [t.keywords for t in a.topics] == [t.keywords for t in again.topics]


def test_inputs_are_validated_naming_the_parameter() -> None:
    x, texts, _ = _corpus()
    with pytest.raises(ValueError, match="L2-normalised"):
        find_topics(x * 2, texts)
    with pytest.raises(ValueError, match="2-d"):
        find_topics(x[0], texts[:1])
    with pytest.raises(ValueError, match="texts"):
        find_topics(x, texts[:-1])
    with pytest.raises(ValueError, match="finite"):
        bad = x.copy()
        bad[0, 0] = np.nan
        cluster_vectors(bad)
    with pytest.raises(ValueError, match="n_topics"):
        cluster_vectors(x, n_topics=1)
    with pytest.raises(ValueError, match="min_size"):
        cluster_vectors(x, min_size=0)
    with pytest.raises(ValueError, match="labels"):
        topic_keywords(texts, np.zeros(3))


def test_candidate_ks_stay_within_a_factor_of_two_of_the_rule_of_thumb() -> None:
    for n in (20, 120, 850, 3000):
        ks = candidate_ks(n)
        k0 = (n / 2) ** 0.5
        assert ks == sorted(set(ks)) and len(ks) <= 6
        assert all(2 <= k <= 20 and k <= n // 3 for k in ks)
        assert min(ks) >= min(max(2, int(k0 / 2)), 20) and max(ks) <= max(2, 2 * k0 + 1)


def test_tokens_drop_stop_words_digits_and_short_words() -> None:
    words = [w for _, w in tokens("Прошу сделать 2 велодорожки и ремонт ям на улице", "ru")]
    assert words == ["велодорожки", "ремонт"]
    spanish = [s for s, _ in tokens("Solicitamos arreglar las aceras del barrio", "es")]
    assert spanish == ["arregl", "acer"]
