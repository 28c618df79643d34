"""ml.finder: the public DuplicateFinder API.

Most tests use the lexical ``hashing-char-ngrams`` encoder (instant, no weights); the tests
marked ``slow`` load the real embedded default and its shipped calibration.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from ml import Candidate, DuplicateFinder, Verdict
from ml.embeddings import load_encoder
from ml.finder import FALLBACK_THRESHOLD, FinderConfig, config_slug, shipped_config_dir
from ml.scorer import ScorerConfig

BUS_15 = "Автобус 15 ходит чаще"
BUS_51 = "Автобус 51 ходит чаще"

CORPUS = [
    "Открыть парк Горького ночью\nПусть парк работает до двух часов ночи летом.",
    "Отремонтировать дорогу на Ленинском проспекте\nЯмы на проезжей части у дома 12.",
    "Поставить больше урн в сквере\nМусор лежит на газонах после выходных.",
    "Build a cycle lane on the embankment\nCyclists have to ride among cars.",
    "Plant trees along the school street\nThe pavement is hot and bare in summer.",
]


@pytest.fixture(scope="module")
def hashing() -> DuplicateFinder:
    return DuplicateFinder.load(encoder=load_encoder("hashing-char-ngrams"))


# ----------------------------------------------------------------------------- loading


def test_uncalibrated_fallback_is_flagged_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ml.finder"):
        finder = DuplicateFinder.load(encoder=load_encoder("hashing-char-ngrams"))
    assert finder.calibrated is False
    assert finder.config.calibrated is False
    assert finder.threshold == FALLBACK_THRESHOLD
    assert finder.config.scorer.similarity_only
    assert finder.identity == "hashing-char-ngrams@1"
    assert finder.dim == 256
    assert any("python -m ml.calibrate" in r.getMessage() for r in caplog.records)


def _calibrated_copy(finder: DuplicateFinder, threshold: float) -> FinderConfig:
    return finder.config.with_changes(
        calibrated=True,
        threshold=threshold,
        guard_cap=threshold / 2,
        near_copy_floor=0.97,
        scorer=ScorerConfig(("similarity", "near_copy"), (6.0, 2.0), -4.0),
        provenance={"data": ["test"]},
    )


def test_config_from_the_environment_directory(
    hashing: DuplicateFinder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _calibrated_copy(hashing, 0.61)
    cfg.save(tmp_path / f"{config_slug(hashing.identity)}.json")
    monkeypatch.setenv("VECHE_MODEL_CONFIG_DIR", str(tmp_path))
    finder = DuplicateFinder.load(encoder=hashing.encoder)
    assert finder.calibrated is True
    assert finder.threshold == pytest.approx(0.61)
    assert finder.config == cfg
    # The logistic scorer is what scores now: a different number than plain similarity.
    a, b = ["Больше урн в сквере"], ["Поставить урны в парке"]
    assert finder.pair_scores(a, b)[0] != pytest.approx(hashing.pair_scores(a, b)[0])


def test_explicit_config_path_and_identity_check(hashing: DuplicateFinder, tmp_path: Path) -> None:
    cfg = _calibrated_copy(hashing, 0.7)
    path = tmp_path / "mine.json"
    cfg.save(path)
    assert DuplicateFinder.load(encoder=hashing.encoder, config=path).threshold == 0.7
    cfg.with_changes(identity="another-model@2").save(path)
    with pytest.raises(ValueError, match="another-model@2"):
        DuplicateFinder.load(encoder=hashing.encoder, config=path)
    with pytest.raises(FileNotFoundError):
        DuplicateFinder.load(encoder=hashing.encoder, config=tmp_path / "absent.json")


def test_config_for_another_encoder_in_env_dir_is_ignored(
    hashing: DuplicateFinder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _calibrated_copy(hashing, 0.7).with_changes(identity="other@1").save(
        tmp_path / f"{config_slug(hashing.identity)}.json"
    )
    monkeypatch.setenv("VECHE_MODEL_CONFIG_DIR", str(tmp_path))
    assert DuplicateFinder.load(encoder=hashing.encoder).calibrated is False


def test_config_json_round_trip(hashing: DuplicateFinder) -> None:
    cfg = _calibrated_copy(hashing, 0.66)
    again = FinderConfig.from_json(cfg.to_json())
    assert again == cfg
    assert json.loads(again.to_json()) == json.loads(cfg.to_json())
    assert FinderConfig.from_json(hashing.config.to_json()) == hashing.config


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"guard_cap": 0.9}, "guard_cap"),
        ({"near_copy_floor": 0.5}, "near_copy_floor"),
        ({"version": 99}, "version"),
        ({"threshold": 1.5}, "threshold"),
        ({"part_weights": {"cyrillic": {"main": 1.0}}}, "part_weights"),
        ({"part_weights": {"cyrillic": {"main": -1.0}, "latin": {"main": 1.0}}}, "main"),
    ],
)
def test_invalid_configs_are_refused(
    hashing: DuplicateFinder, change: dict[str, object], message: str
) -> None:
    data = hashing.config.to_dict() | change
    with pytest.raises((ValueError, TypeError), match=message):
        FinderConfig.from_dict(data)


def test_unknown_scorer_feature_is_refused(hashing: DuplicateFinder) -> None:
    cfg = hashing.config.with_changes(scorer=ScorerConfig(("cos_e5",), (1.0,), 0.0))
    with pytest.raises(ValueError, match="cos_e5"):
        DuplicateFinder(hashing.encoder, cfg)


# ----------------------------------------------------------------------------- pair scores


def test_pair_scores_shape_and_range(hashing: DuplicateFinder) -> None:
    a = [CORPUS[0], CORPUS[1], CORPUS[3]]
    b = [CORPUS[0].upper(), CORPUS[2], "Build a cycle lane along the embankment"]
    s = hashing.pair_scores(a, b)
    assert s.shape == (3,) and s.dtype == np.float64
    assert ((s >= 0) & (s <= 1)).all()
    assert s[0] == 1.0  # exact copy up to case
    assert s[2] > s[1]
    assert hashing.pair_scores([], []).shape == (0,)


def test_pair_scores_validation(hashing: DuplicateFinder) -> None:
    with pytest.raises(ValueError, match="same length"):
        hashing.pair_scores(["a b c"], ["a b c", "d e f"])
    with pytest.raises(ValueError, match="empty"):
        hashing.pair_scores(["ok text"], ["   \n"])
    with pytest.raises(TypeError):
        hashing.pair_scores(["ok text"], [None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="single string"):
        hashing.pair_scores("ok text", "ok text")


def test_exact_copy_scores_one_with_reason(hashing: DuplicateFinder) -> None:
    v = hashing.explain("Открыть парк Горького ночью!", "  открыть ПАРК горького, ночью ")
    assert v == Verdict(1.0, v.similarity, ("exact_copy",))


def test_guard_caps_a_near_copy_below_the_threshold(hashing: DuplicateFinder) -> None:
    v = hashing.explain(BUS_15, BUS_51)
    assert "numbers" in v.reasons
    assert v.similarity >= hashing.threshold  # the words alone would call it a duplicate...
    assert v.score < hashing.config.guard_cap < hashing.threshold  # ...the guard does not
    assert hashing.pair_scores([BUS_15], [BUS_51])[0] == pytest.approx(v.score)


def test_near_copy_is_lifted_to_the_floor(hashing: DuplicateFinder) -> None:
    a = (
        "Установить скамейки вдоль набережной реки, чтобы пожилые люди могли отдыхать "
        "во время прогулки"
    )
    b = a + " летом"
    v = hashing.explain(a, b)
    assert v.reasons == ("near_copy",)
    assert v.score >= hashing.config.near_copy_floor >= hashing.threshold


def test_overlong_texts_do_not_crash(hashing: DuplicateFinder) -> None:
    long = "Открыть парк ночью. " * 20_000
    s = hashing.pair_scores([long], [long + " и днём"])
    assert np.isfinite(s).all()


def test_score_vectors_equals_pair_scores(hashing: DuplicateFinder) -> None:
    a = [CORPUS[0], BUS_15, CORPUS[3]]
    b = [CORPUS[1], BUS_51, CORPUS[4]]
    verdicts = hashing.score_vectors(a, b, hashing.embed(a), hashing.embed(b))
    assert all(isinstance(v, Verdict) for v in verdicts)
    np.testing.assert_allclose([v.score for v in verdicts], hashing.pair_scores(a, b))
    with pytest.raises(ValueError, match="shape"):
        hashing.score_vectors(a, b, hashing.embed(a)[:2], hashing.embed(b))


def test_embed_repeats_and_shapes(hashing: DuplicateFinder) -> None:
    v = hashing.embed([CORPUS[0], CORPUS[1], CORPUS[0]])
    assert v.shape == (3, hashing.dim) and v.dtype == np.float32
    np.testing.assert_array_equal(v[0], v[2])
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-5)


# ----------------------------------------------------------------------------- fit / query


def test_query_before_fit_is_an_error() -> None:
    finder = DuplicateFinder.load(encoder=load_encoder("hashing-char-ngrams"))
    with pytest.raises(RuntimeError, match="fit"):
        finder.query(["x y z"], 3)


def test_fit_query_self_match_first_and_ordering(hashing: DuplicateFinder) -> None:
    finder = DuplicateFinder(hashing.encoder, hashing.config)
    assert finder.fit(CORPUS) is finder
    ids, scores = finder.query(CORPUS, 3)
    assert ids.shape == scores.shape == (len(CORPUS), 3)
    assert ids.dtype == np.int64 and scores.dtype == np.float64
    np.testing.assert_array_equal(ids[:, 0], np.arange(len(CORPUS)))
    np.testing.assert_array_equal(scores[:, 0], 1.0)
    assert (np.diff(scores, axis=1) <= 0).all()
    # The scores are the pair scores of the returned pairs.
    for row, text in enumerate(CORPUS):
        expect = finder.pair_scores([text] * 3, [CORPUS[i] for i in ids[row]])
        np.testing.assert_allclose(scores[row], expect)


def test_query_pads_when_the_corpus_is_small(hashing: DuplicateFinder) -> None:
    finder = DuplicateFinder(hashing.encoder, hashing.config).fit(CORPUS[:2])
    ids, scores = finder.query(["Дорога на Ленинском проспекте в ямах"], 4)
    assert ids[0, 0] == 1
    np.testing.assert_array_equal(ids[0, 2:], [-1, -1])
    assert np.isneginf(scores[0, 2:]).all() and np.isfinite(scores[0, :2]).all()
    empty = DuplicateFinder(hashing.encoder, hashing.config).fit([])
    ids, scores = empty.query(["что-нибудь"], 2)
    assert (ids == -1).all() and np.isneginf(scores).all()


def test_query_validation(hashing: DuplicateFinder) -> None:
    finder = DuplicateFinder(hashing.encoder, hashing.config).fit(CORPUS)
    with pytest.raises(ValueError, match="k must be"):
        finder.query(["x y"], 0)
    with pytest.raises(TypeError):
        finder.query(["x y"], 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        finder.query([""], 2)
    ids, scores = finder.query([], 2)
    assert ids.shape == scores.shape == (0, 2)


def test_rerank_puts_the_guarded_pair_below_a_paraphrase(hashing: DuplicateFinder) -> None:
    corpus = [BUS_51, "Автобус 15 пусть ходит чаще по утрам", "Построить каток"]
    finder = DuplicateFinder(hashing.encoder, hashing.config).fit(corpus)
    ids, _ = finder.query([BUS_15], 3)
    # By raw similarity BUS_51 is the nearest; the numbers guard pushes it below route 15.
    sims = hashing.embed(corpus) @ hashing.embed([BUS_15])[0]
    assert int(np.argmax(sims)) == 0
    assert ids[0, 0] == 1


# ----------------------------------------------------------------------------- platform level


def test_index_vectors_search_and_remove(hashing: DuplicateFinder) -> None:
    finder = DuplicateFinder(hashing.encoder, hashing.config)
    assert finder.search("что угодно", hashing.embed(["что угодно"])[0], 3) == []
    ids = np.array([10, 20, 30, 40, 50], dtype=np.int64)
    finder.index_vectors(ids, finder.embed(CORPUS))
    assert len(finder) == 5
    q = "Отремонтировать дорогу на Ленинском проспекте"
    hits = finder.search(q, finder.embed([q])[0], 2)
    assert [type(h) for h in hits] == [Candidate, Candidate]
    assert hits[0].id == 20 and hits[0].similarity >= hits[1].similarity
    finder.remove_ids(np.array([20, 999], dtype=np.int64))
    assert all(h.id != 20 for h in finder.search(q, finder.embed([q])[0], 5))
    # Replacing a vector under the same id moves it.
    finder.index_vectors(np.array([10], dtype=np.int64), finder.embed([q]))
    assert finder.search(q, finder.embed([q])[0], 1)[0].id == 10
    assert len(finder) == 4
    with pytest.raises(ValueError, match="shape"):
        finder.index_vectors(np.array([1, 2], dtype=np.int64), finder.embed([q]))


# ----------------------------------------------------------------------------- real model


@pytest.fixture(scope="module")
def default() -> DuplicateFinder:
    return DuplicateFinder.load()


@pytest.mark.slow
def test_default_model_ships_a_calibrated_config(default: DuplicateFinder) -> None:
    assert (shipped_config_dir() / "veche-embedded-v1.json").is_file()
    assert default.calibrated is True
    assert default.identity == "veche-embedded-v1"
    assert default.dim == 768
    assert 0.0 < default.config.guard_cap < default.threshold < 1.0
    assert "train" in json.dumps(default.config.to_dict()["provenance"])


@pytest.mark.slow
def test_default_model_cross_lingual_and_guards(default: DuplicateFinder) -> None:
    ru = "Открыть парк Горького ночью"
    s = default.pair_scores(
        [ru, ru, "open the park", BUS_15],
        [
            "Open Gorky Park at night",
            "Отремонтировать дорогу на Ленинском проспекте",
            "close the park",
            BUS_51,
        ],
    )
    assert s[0] > s[1]
    assert s[0] >= default.threshold
    assert s[1] < default.threshold
    assert s[2] < default.threshold
    assert s[3] < default.threshold


@pytest.mark.slow
def test_default_model_russian_query_finds_english_duplicate(default: DuplicateFinder) -> None:
    corpus = [
        "Repair the road on Leninsky Avenue\nThere are potholes near house 12.",
        "Open Gorky Park at night\nLet the park stay open until 2 a.m. in summer.",
        "More bins in the square\nLitter is left on the lawns after weekends.",
        "Построить новую школу в Южном районе\nДетям приходится ездить далеко.",
        "Сделать бесплатный Wi-Fi в библиотеках",
    ]
    finder = DuplicateFinder(default.encoder, default.config).fit(corpus)
    ids, scores = finder.query(
        ["Открыть парк Горького ночью\nПусть парк работает до двух ночи."], 3
    )
    assert ids[0, 0] == 1
    assert scores[0, 0] > scores[0, 1]


def test_platform_index_grows_from_exact_to_ann_and_round_trips(tmp_path: Path) -> None:
    """Past AUTO_EXACT_MAX vectors the platform index becomes approximate; save/load keep it."""
    from ml.index import AUTO_EXACT_MAX, ANNIndex, ExactIndex

    finder = DuplicateFinder.load("hashing-char-ngrams")
    rng = np.random.default_rng(3)
    n = AUTO_EXACT_MAX + 500
    vecs = rng.standard_normal((n, finder.dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(1, n + 1, dtype=np.int64) * 10
    finder.index_vectors(ids[:1000], vecs[:1000])
    assert isinstance(finder._index, ExactIndex)
    for start in range(1000, n, 1000):
        finder.index_vectors(ids[start : start + 1000], vecs[start : start + 1000])
    assert isinstance(finder._index, ANNIndex)
    assert len(finder) == n
    probe = [7, n // 2, n - 1]
    for i in probe:  # each stored vector finds itself first
        assert finder.search("latin text", vecs[i], 1)[0].id == ids[i]
    path = tmp_path / "idx" / "platform.index"
    finder.save_index(path)
    again = DuplicateFinder.load("hashing-char-ngrams")
    assert again.load_saved_index(path) == n
    assert again.search("latin text", vecs[probe[1]], 1)[0].id == ids[probe[1]]


@pytest.mark.slow
def test_default_model_english_query_reaches_a_russian_idea(default: DuplicateFinder) -> None:
    """Latin-script queries also search by the cross-lingual (e5) weighting: MiniLM alone
    cannot read Russian, so 200 English near-topic ideas would crowd the Russian one out."""
    finder = DuplicateFinder.load()
    ru = "Велодорожка на Тверской улице\nНужна выделенная велодорожка вдоль всей Тверской улицы."
    english = [
        f"Bike parking at school {i}\nPut up {i % 7 + 2} bike racks by the school gate."
        for i in range(200)
    ]
    corpus = [*english, ru]
    finder.index_vectors(np.arange(len(corpus), dtype=np.int64), finder.embed(corpus))
    query = "A protected cycle lane along Tverskaya Street"
    qvec = finder.embed([query])[0]
    assert finder._index is not None
    by_minilm, _ = finder._index.search(finder.query_vectors([query], qvec[None, :]), 20)
    assert len(corpus) - 1 not in by_minilm[0].tolist()  # the script-weighted search misses it
    found = [c.id for c in finder.search(query, qvec, 20)]
    assert len(corpus) - 1 in found
