"""Themes: clusters of related (not duplicate) ideas with keyword labels.

Duplicates say the same thing; a *theme* gathers different proposals about one subject (bike
lanes on several streets, playground repairs across a district) so that one official answer can
cover them. Two steps, both on arrays:

1. **Clusters** (:func:`cluster_vectors`): k-means over L2-normalised embeddings (on unit
   vectors the Euclidean k-means objective is the cosine one). The number of clusters ``k``:
   the rule of thumb ``k0 = sqrt(n / 2)`` sets the scale, and a **silhouette sweep** picks
   ``k`` within a factor of two of it — up to six values from ``k0 / 2`` to ``2 k0`` (bounded
   by 2, ``max_topics`` and ``n // min_size``), each fitted on one fixed random sample of at
   most ``sample_size`` rows and scored by its mean cosine silhouette; the best wins, the
   smaller on a tie. Why not a free sweep from 2: on real proposals (the demo's UK petitions
   and Madrid proposals, with the lexical and with the default encoder) the silhouette falls
   almost monotonically with ``k`` and picks 2 or 3 huge groups (Madrid proposals, UK petitions,
   a block of test spam), which answers nothing; the window keeps the
   sweep where themes are useful and still lets it find real structure (the unit test
   recovers planted clusters exactly). The final clustering is fitted on all rows
   (``MiniBatchKMeans`` above 20,000 rows). Clusters with fewer than ``min_size`` members go
   to "other" (label ``-1``): a theme of one or two ideas answers nothing.
2. **Labels** (:func:`topic_keywords`): class-based TF-IDF (c-TF-IDF, as in BERTopic): the
   texts of each cluster are concatenated into one document, "other" into one more, and a
   ``TfidfVectorizer`` (sublinear term frequency) over those documents scores each word for each
   cluster: frequent in the cluster, rare in the others. Words are counted **stemmed** (Snowball:
   Russian for Cyrillic words, and the text's language — English or Spanish — for Latin ones),
   so "велодорожка", "велодорожки" and "велодорожкой" are one word (Snowball does not join
   forms with a fleeting vowel, such as "велодорожек"); each label is shown in its
   most frequent surface form in the cluster. Stop words (Russian, English, Spanish: function
   words and the filler of civic proposals such as "предлагаю", "please", "solicitamos") ship
   in this module. A keyword must occur in at least two of its cluster's ideas and in at least
   ``min_share`` (10 %) of them, so that a label describes the theme rather than one long
   text; and when the ideas' languages are known, labels come from the ideas in the cluster's
   main language (a theme of Russian petitions is labelled in Russian even when an English
   petition joined it).
3. **Coherence** (:func:`coherence_scores`): k-means partitions everything, so some clusters
   are only "what was left over" — football next to gyms next to playgrounds. A cluster's
   *cohesion* is its members' mean cosine similarity over all distinct pairs,
   ``(|sum of members|^2 - m) / (m (m - 1))`` for ``m`` unit vectors; its **coherence** is
   how much more alike its members are to each other than to the other ideas:
   ``(cohesion - r) / (1 - r)``, where ``r`` is the mean cosine between the members and the
   other ideas *in the cluster's main language*. Same-language because the default encoder
   puts any two Russian texts closer than a Russian and an English one; against the whole
   corpus a random handful of English petitions among Russian ones would look like a theme.
   Clusters below ``min_coherence`` (default :data:`MIN_COHERENCE`, 0.05) are dropped: their
   ideas go to "other". The default was set on the demo corpus with the default encoder (360
   Russian petitions, 60 UK and 60 Madrid proposals): random same-language groups of 30–60
   ideas score between -0.03 and 0.03; the clusters that read as one subject (roads and metro,
   bans, penalties, single-use plastic) 0.06–0.12; a cluster mixing pensions, copyright and
   officials' pay 0.03. Borderline themes of a small, narrow language group (the UK
   petitions, all about energy and environment) can fall below it; a lower threshold lets
   random groups through.

Pure NumPy and scikit-learn: no web, no database (import-linter enforces it).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import snowballstemmer
from numpy.typing import NDArray
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import silhouette_score

MINIBATCH_ABOVE = 20_000
NORM_TOLERANCE = 1e-3
MIN_COHERENCE = 0.05  # see the module docstring, step 3
MIN_SHARE = 0.10  # of a cluster's ideas that must use a label word

_RU = """
а без более бы был была были было быть в вам вас весь во вот все всего всех вы где да даже для
до его ее её если есть еще ещё же за здесь и из или им их к как какой когда кто ли либо между
меня мне много может мы на над надо наш не него нее неё нет ни них но ну о об однако он она они
оно от очень по под при про с со так также такой там те тем то того тоже той только том ты у
уже хотя чего чей чем что чтобы чье чьё эта эти это этот я которые который которая которое
нужно необходимо прошу просим предлагаю предлагаем сделать будет можно город города городе
москва москвы москве жителей жители район района районе улица улицы улице дом дома год года
практический практического результат результата российской федерации россии рф
"""
_EN = """
a about above after again all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has
have having he her here hers him his how i if in into is it its itself just me more most my no
nor not now of off on once only or other our ours out over own please same she should so some
such than that the their them then there these they this those through to too under until up
very was we were what when where which while who whom why will with would you your
need needs want make made call calling ask asking government petition people uk many new
use used using work working allow allowed require required ensure introduce take give get
would like also one two every year years time way well much must may might still even
country number
"""
_ES = """
a al algo ante como con contra cual cuando de del desde donde el ella ellas ellos en entre era
es esa ese eso esta este esto estos fue ha hay la las le les lo los mas más me mi muy no nos o
para pero por que qué se sea ser si sí sin sobre son su sus también te tiene todo todos tu un
una uno unos y ya madrid calle calles solicitamos solicito propuesta proponemos propongo hacer
ciudad barrio zona hace hacen puede pueden creo cada así porque hasta otros otras otro otra
están está estar tienen tener mucho muchos mucha muchas poco forma parte año años día días
actualmente además ahora gran gracias solo sólo
"""
STOP_WORDS: frozenset[str] = frozenset((_RU + _EN + _ES).split())
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яё]")
_STEMMERS = {
    lang: snowballstemmer.stemmer(name)
    for lang, name in (("ru", "russian"), ("en", "english"), ("es", "spanish"))
}
_STEM_LOCK = threading.Lock()  # snowball stemmer objects keep state between calls


@dataclass(frozen=True)
class Topic:
    """One theme: row indices of its members (most central first) and its keyword labels."""

    members: tuple[int, ...]
    keywords: tuple[str, ...]
    cohesion: float  # mean cosine of the members to the theme's centre
    coherence: float = 1.0  # pairwise cohesion above the corpus' baseline (module docstring)


@dataclass(frozen=True)
class Topics:
    """The themes of a corpus, largest first, and each row's theme (``-1``: other)."""

    labels: NDArray[np.int64]
    topics: tuple[Topic, ...]
    k: int  # clusters fitted before dropping the small ones (0: too few rows to cluster)
    silhouette: float | None  # the chosen k's silhouette on the sample
    dropped: int = 0  # clusters big enough but incoherent (their rows are "other")


def _check_vectors(vectors: Any) -> NDArray[np.float64]:
    arr = np.asarray(vectors, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"vectors must be a 2-d array (n, d), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("vectors must be finite")
    if arr.shape[0]:
        norms = np.linalg.norm(arr, axis=1)
        if np.any(np.abs(norms - 1.0) > NORM_TOLERANCE):
            raise ValueError(
                f"vectors must be L2-normalised, got norms from {norms.min():.4f} to {norms.max():.4f}"
            )
    return arr


def _fit(vectors: NDArray[np.float64], k: int, random_state: int) -> NDArray[np.int64]:
    model: Any
    if vectors.shape[0] > MINIBATCH_ABOVE:
        model = MiniBatchKMeans(n_clusters=k, n_init=3, batch_size=2048, random_state=random_state)
    else:
        model = KMeans(n_clusters=k, n_init=3, random_state=random_state)
    return np.asarray(model.fit_predict(vectors), dtype=np.int64)


def choose_k(
    vectors: NDArray[np.float64],
    candidates: Sequence[int],
    sample_size: int = 2000,
    random_state: int = 0,
) -> tuple[int, float | None]:
    """The candidate ``k`` with the best mean silhouette on a random sample (smaller on ties)."""
    n = vectors.shape[0]
    rng = np.random.default_rng(random_state)
    sample = vectors if n <= sample_size else vectors[rng.choice(n, sample_size, replace=False)]
    best_k, best = candidates[0], None
    for k in candidates:
        if k >= sample.shape[0]:
            break
        labels = KMeans(n_clusters=k, n_init=1, random_state=random_state).fit_predict(sample)
        if len(np.unique(labels)) < 2:
            continue
        score = float(silhouette_score(sample, labels, metric="cosine"))
        if best is None or score > best + 1e-12:
            best_k, best = k, score
    return best_k, best


def candidate_ks(n: int, min_size: int = 3, max_topics: int = 20) -> list[int]:
    """The ``k`` values the sweep tries: up to six from ``sqrt(n/2) / 2`` to ``2 sqrt(n/2)``.

    >>> candidate_ks(120)
    [3, 4, 6, 8, 11, 16]
    >>> candidate_ks(850)
    [10, 11, 13, 15, 17, 20]
    >>> candidate_ks(8)
    [2]
    """
    upper_bound = max(2, min(max_topics, n // max(min_size, 1)))
    k0 = math.sqrt(n / 2)
    low = min(max(2, math.floor(k0 / 2)), upper_bound)
    high = min(max(2, math.ceil(2 * k0)), upper_bound)
    if high <= low:
        return [low]
    values = np.unique(np.round(np.geomspace(low, high, num=min(6, high - low + 1))))
    return [int(v) for v in values]


def cluster_vectors(
    vectors: Any,
    *,
    n_topics: int | None = None,
    min_size: int = 3,
    max_topics: int = 20,
    sample_size: int = 2000,
    random_state: int = 0,
) -> tuple[NDArray[np.int64], int, float | None]:
    """Cluster labels (n,) with small clusters as ``-1``, renumbered largest first; and k.

    Returns ``(labels, k, silhouette)``; ``k = 0`` when there are fewer than ``2 * min_size``
    rows (everything is "other"). ``n_topics`` fixes ``k`` instead of the sweep.
    """
    arr = _check_vectors(vectors)
    if min_size < 1:
        raise ValueError(f"min_size must be at least 1, got {min_size}")
    if max_topics < 2:
        raise ValueError(f"max_topics must be at least 2, got {max_topics}")
    n = arr.shape[0]
    if n < 2 * min_size:
        return np.full(n, -1, dtype=np.int64), 0, None
    if n_topics is not None:
        if not 2 <= n_topics <= n:
            raise ValueError(f"n_topics must be between 2 and {n}, got {n_topics}")
        k, score = n_topics, None
    else:
        k, score = choose_k(arr, candidate_ks(n, min_size, max_topics), sample_size, random_state)
    raw = _fit(arr, k, random_state)
    sizes = np.bincount(raw, minlength=k)
    kept = [c for c in range(k) if sizes[c] >= min_size]
    # largest first; ties by the first row of the cluster, so the numbering is deterministic
    kept.sort(key=lambda c: (-int(sizes[c]), int(np.flatnonzero(raw == c)[0])))
    mapping = np.full(k, -1, dtype=np.int64)
    mapping[kept] = np.arange(len(kept), dtype=np.int64)
    return mapping[raw], k, score


def _latin_language(given: str | None) -> str:
    """The stemmer for Latin-script words: the text's language if Spanish, else English."""
    return "es" if given == "es" else "en"


def tokens(text: str, language: str | None = None) -> list[tuple[str, str]]:
    """(stem, surface word) for each word of ``text`` that is not a stop word.

    >>> [s for s, _ in tokens("Велодорожки и велодорожка на набережной")]
    ['велодорожк', 'велодорожк', 'набережн']
    """
    latin = _STEMMERS[_latin_language(language)]
    out = []
    for word in _WORD.findall(text.lower()):
        if word in STOP_WORDS:
            continue
        stemmer = _STEMMERS["ru"] if _CYRILLIC.search(word) else latin
        with _STEM_LOCK:
            stem = stemmer.stemWord(word)
        if stem in STOP_WORDS or len(stem) < 3:
            continue
        out.append((stem, word))
    return out


def topic_keywords(
    texts: Sequence[str],
    labels: Any,
    n_keywords: int = 5,
    languages: Sequence[str | None] | None = None,
    min_share: float = MIN_SHARE,
) -> list[tuple[str, ...]]:
    """c-TF-IDF keywords of each cluster ``0..max(labels)`` (``-1`` rows only count as "other").

    A keyword is used by at least two of the cluster's texts and by ``min_share`` of them; with
    ``languages``, only the texts in the cluster's most common language propose keywords.

    >>> texts = ["Ремонт дороги у школы", "Ремонт дороги во дворе", "Дорога к поликлинике",
    ...          "Новая площадка для детей", "Площадка для детей", "Детям нужна площадка"]
    >>> topic_keywords(texts, [0, 0, 0, 1, 1, 1], n_keywords=2)
    [('дороги', 'ремонт'), ('детей', 'площадка')]
    """
    lab = np.asarray(labels, dtype=np.int64)
    if lab.shape != (len(texts),):
        raise ValueError(f"labels must have shape ({len(texts)},), got {lab.shape}")
    if languages is not None and len(languages) != len(texts):
        raise ValueError(f"languages must have {len(texts)} entries, got {len(languages)}")
    if not 0.0 <= min_share <= 1.0:
        raise ValueError(f"min_share must be between 0 and 1, got {min_share}")
    n_clusters = int(lab.max()) + 1 if lab.size else 0
    if n_clusters == 0:
        return []
    main = _main_languages(lab, n_clusters, languages)
    stems: list[list[str]] = [[] for _ in range(n_clusters + 1)]  # the last one: other
    surface: list[Counter[tuple[str, str]]] = [Counter() for _ in range(n_clusters)]
    used_by: list[Counter[str]] = [Counter() for _ in range(n_clusters)]  # texts using a stem
    eligible: list[set[str]] = [set() for _ in range(n_clusters)]  # stems of main-language texts
    sizes = np.bincount(lab[lab >= 0], minlength=n_clusters)
    for i, text in enumerate(texts):
        c = int(lab[i])
        language = languages[i] if languages is not None else None
        words = tokens(text, language)
        stems[c if c >= 0 else n_clusters].extend(s for s, _ in words)
        if c >= 0:
            surface[c].update(words)
            distinct = {s for s, _ in words}
            used_by[c].update(distinct)
            if main[c] is None or language == main[c]:
                eligible[c] |= distinct
    if not any(stems[:n_clusters]):
        return [() for _ in range(n_clusters)]
    # one document per cluster, and "other" as one more so that its words count as common
    documents = stems[:n_clusters] + ([stems[-1]] if stems[-1] else [])
    vectorizer = TfidfVectorizer(analyzer=_identity, sublinear_tf=True, norm=None)
    matrix = np.asarray(vectorizer.fit_transform(documents).toarray(), dtype=np.float64)
    vocabulary = [str(w) for w in vectorizer.get_feature_names_out()]
    out: list[tuple[str, ...]] = []
    for c in range(n_clusters):
        scores = matrix[c]
        needed = max(2, math.ceil(min_share * int(sizes[c])))
        order = sorted(
            (
                int(i)
                for i in np.flatnonzero(scores > 0)
                if used_by[c][vocabulary[i]] >= needed and vocabulary[i] in eligible[c]
            ),
            key=lambda i: (-float(scores[i]), vocabulary[i]),
        )
        labels_c: list[str] = []
        for i in order[:n_keywords]:
            stem = vocabulary[i]
            forms = [(n, w) for (s, w), n in surface[c].items() if s == stem]
            labels_c.append(min(forms, key=lambda f: (-f[0], f[1]))[1])
        out.append(tuple(labels_c))
    return out


def _main_languages(
    lab: NDArray[np.int64], n_clusters: int, languages: Sequence[str | None] | None
) -> list[str | None]:
    """Each cluster's most common language (None: unknown; ties: the alphabetically first)."""
    if languages is None:
        return [None] * n_clusters
    counts: list[Counter[str]] = [Counter() for _ in range(n_clusters)]
    for c, language in zip(lab.tolist(), languages, strict=True):
        if c >= 0 and language:
            counts[c][language] += 1
    return [min(k, key=lambda w: (-k[w], w)) if k else None for k in counts]


def pairwise_cohesion(vectors: Any) -> float:
    """Mean cosine similarity over the distinct pairs of ``m >= 2`` unit rows.

    ``(|x_1 + ... + x_m|^2 - m) / (m (m - 1))``: one pass, no m x m matrix.

    >>> pairwise_cohesion(np.eye(3))
    0.0
    >>> pairwise_cohesion(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    0.3333333333333333
    """
    arr = np.asarray(vectors, dtype=np.float64)
    m = arr.shape[0]
    if m < 2:
        raise ValueError(f"pairwise_cohesion needs at least 2 rows, got {m}")
    total = arr.sum(axis=0)
    return float((total @ total - m) / (m * (m - 1)))


def coherence_scores(
    vectors: Any, labels: Any, languages: Sequence[str | None] | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each cluster's coherence ``(cohesion - r) / (1 - r)`` and its reference ``r``.

    ``cohesion`` is the members' mean pairwise cosine (:func:`pairwise_cohesion`); ``r`` the
    mean cosine between the members and the other rows — with ``languages``, only the other
    rows in the cluster's main language (when there are at least two), because an encoder puts
    any two texts of one language closer than texts of two languages.

    Parameters
    ----------
    vectors : array of shape (n, d)
        L2-normalised rows.
    labels : array of shape (n,)
        Clusters ``0..k-1``; ``-1`` rows are only "other rows".
    languages : sequence of n str or None, optional
        Each row's language.

    Returns
    -------
    (coherence, reference)
        Both of shape (k,). ``coherence``: 0 for a cluster whose members are no more alike
        than they are to the other rows, 1 for identical rows (negative: less alike); ``nan``
        for a cluster of fewer than two rows. A cluster that is the whole corpus has ``r = 0``.

    Examples
    --------
    >>> x = np.array([[1.0, 0.0], [1.0, 0.0], [0.6, 0.8], [0.6, -0.8]])
    >>> coherence, reference = coherence_scores(x, [0, 0, 1, 1])
    >>> [round(float(c), 4) for c in coherence], [round(float(r), 4) for r in reference]
    ([1.0, -2.2], [0.6, 0.6])
    """
    arr = _check_vectors(vectors)
    lab = np.asarray(labels, dtype=np.int64)
    if lab.shape != (arr.shape[0],):
        raise ValueError(f"labels must have shape ({arr.shape[0]},), got {lab.shape}")
    if languages is not None and len(languages) != arr.shape[0]:
        raise ValueError(f"languages must have {arr.shape[0]} entries, got {len(languages)}")
    k = int(lab.max()) + 1 if lab.size else 0
    main = _main_languages(lab, k, languages)
    spoken = np.asarray(languages if languages is not None else [None] * arr.shape[0], dtype=object)
    coherence = np.full(k, np.nan, dtype=np.float64)
    reference = np.zeros(k, dtype=np.float64)
    for c in range(k):
        inside = lab == c
        rows = arr[inside]
        others = ~inside
        if main[c] is not None and int((others & (spoken == main[c])).sum()) >= 2:
            others &= spoken == main[c]
        if others.any():
            # mean cosine over every (member, other) pair, from the two sums
            reference[c] = float(rows.sum(axis=0) @ arr[others].sum(axis=0)) / (
                rows.shape[0] * int(others.sum())
            )
        if rows.shape[0] >= 2:
            span = max(1.0 - reference[c], 1e-9)
            coherence[c] = (pairwise_cohesion(rows) - reference[c]) / span
    return coherence, reference


def _identity(document: list[str]) -> list[str]:
    return document


def find_topics(
    vectors: Any,
    texts: Sequence[str],
    *,
    languages: Sequence[str | None] | None = None,
    n_topics: int | None = None,
    min_size: int = 3,
    max_topics: int = 20,
    n_keywords: int = 5,
    min_coherence: float | None = MIN_COHERENCE,
    sample_size: int = 2000,
    random_state: int = 0,
) -> Topics:
    """Themes of a corpus: clusters of ``vectors`` labelled with keywords of ``texts``.

    Parameters
    ----------
    vectors : array of shape (n, d)
        L2-normalised embeddings, one row per idea.
    texts : sequence of n str
        The ideas' texts (title and description), for the labels.
    languages : sequence of n str or None, optional
        Each text's language (``ru``, ``en``, ``es``) for stemming Latin-script words;
        Cyrillic words are always stemmed as Russian.
    n_topics : int, optional
        A fixed number of clusters instead of the silhouette sweep.
    min_size : int, default 3
        Smaller clusters go to "other".
    max_topics : int, default 20
        The largest ``k`` the sweep tries.
    n_keywords : int, default 5
        Labels per theme.
    min_coherence : float or None, default MIN_COHERENCE
        Clusters whose coherence (:func:`coherence_scores`) is below it go to "other";
        None keeps every cluster.
    sample_size, random_state : int
        The sweep's sample size and the seed of sampling and k-means (results are
        deterministic for a given seed).

    Returns
    -------
    Topics
        ``labels`` (n,) int64 with ``-1`` for "other"; ``topics`` largest first, each with its
        member rows (most central first), keywords, cohesion and coherence; ``dropped``: how
        many clusters were incoherent.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> centres = np.eye(8)[:2]
    >>> x = np.repeat(centres, 5, axis=0) + 0.05 * rng.standard_normal((10, 8))
    >>> x /= np.linalg.norm(x, axis=1, keepdims=True)
    >>> texts = ["Велодорожка у парка", "Велодорожки вдоль реки", "Велодорожка к метро",
    ...          "Велодорожку у школы", "Велодорожка в парке", "Ремонт площадки",
    ...          "Новая площадка", "Площадка для детей", "Ремонт площадки во дворе",
    ...          "Площадки у школы"]
    >>> result = find_topics(x, texts, min_size=3)
    >>> [len(t.members) for t in result.topics]
    [5, 5]
    >>> sorted(t.keywords[0] for t in result.topics)
    ['велодорожка', 'площадки']
    """
    arr = _check_vectors(vectors)
    if len(texts) != arr.shape[0]:
        raise ValueError(
            f"texts must have one entry per vector row ({arr.shape[0]}), got {len(texts)}"
        )
    if n_keywords < 1:
        raise ValueError(f"n_keywords must be at least 1, got {n_keywords}")
    if min_coherence is not None and not -1.0 <= min_coherence <= 1.0:
        raise ValueError(f"min_coherence must be between -1 and 1, got {min_coherence}")
    labels, k, score = cluster_vectors(
        arr,
        n_topics=n_topics,
        min_size=min_size,
        max_topics=max_topics,
        sample_size=sample_size,
        random_state=random_state,
    )
    coherence, _reference = coherence_scores(arr, labels, languages)
    dropped = 0
    if min_coherence is not None and coherence.size:
        keep = coherence >= min_coherence
        dropped = int((~keep).sum())
        mapping = np.full(coherence.size, -1, dtype=np.int64)
        mapping[keep] = np.arange(int(keep.sum()), dtype=np.int64)  # still largest first
        labels = np.where(labels >= 0, mapping[np.maximum(labels, 0)], -1)
        coherence = coherence[keep]
    keywords = topic_keywords(texts, labels, n_keywords, languages)
    topics = []
    for c, words in enumerate(keywords):
        rows = np.flatnonzero(labels == c)
        centre = arr[rows].mean(axis=0)
        norm = float(np.linalg.norm(centre))
        centre = centre / norm if norm > 0 else centre
        similarity = arr[rows] @ centre
        order = rows[np.argsort(-similarity, kind="stable")]
        topics.append(
            Topic(
                tuple(int(i) for i in order),
                words,
                float(similarity.mean()),
                float(coherence[c]),
            )
        )
    return Topics(labels, tuple(topics), k, score, dropped)
