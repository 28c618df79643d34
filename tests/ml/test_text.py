"""ml.text: joining, validation, normalisation and copy checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml.text import (
    cyrillic_share,
    fingerprint,
    join_idea,
    near_copy_similarity,
    normalise,
    validate_texts,
)


def test_join_idea_strips_and_joins() -> None:
    assert join_idea("  Новый сквер ", "\n На месте пустыря.  ") == "Новый сквер\nНа месте пустыря."
    assert join_idea("Bench", None) == "Bench"
    assert join_idea("Bench", "   ") == "Bench"


def test_join_idea_rejects_non_strings() -> None:
    with pytest.raises(TypeError, match="title"):
        join_idea(None, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="description"):
        join_idea("x", 5)  # type: ignore[arg-type]


def test_validate_texts() -> None:
    assert validate_texts(("a", "b")) == ["a", "b"]
    with pytest.raises(TypeError, match="single string"):
        validate_texts("abc")
    with pytest.raises(TypeError, match="text 1"):
        validate_texts(["a", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="text 2"):
        validate_texts(["a", "b", " \n\t"])
    with pytest.raises(ValueError, match="text 0"):
        validate_texts([""])


def test_normalise_folds_case_punctuation_yo_and_stress() -> None:
    assert normalise("  Ёлки-палки!!  ЕЩЁ  ") == "елки палки еще"
    # stress marks (combining acute) vanish, й survives
    assert normalise("Благоустро\u0301йство за\u0301мка") == "благоустройство замка"
    assert normalise("Мой район") == "мой район"
    assert normalise("Café  déjà-vu, STRASSE / Straße") == "cafe deja vu strasse strasse"
    assert normalise("ﬁve　ｆｕｌｌ-width №15") == "five full width no15"
    assert normalise("...!!!") == ""
    assert normalise("snake_case") == "snake case"


def test_normalise_rejects_non_string() -> None:
    with pytest.raises(TypeError):
        normalise(b"bytes")  # type: ignore[arg-type]


def test_fingerprint_equal_for_copies_only() -> None:
    a = "Постройте детскую площадку во дворе!"
    assert fingerprint(a) == fingerprint("постройте  детскую площадку, во дворе")
    assert fingerprint(a) != fingerprint("Постройте детскую площадку в парке")
    assert len(fingerprint(a)) == 40
    int(fingerprint(a), 16)


def test_cyrillic_share() -> None:
    assert cyrillic_share("Парк") == 1.0
    assert cyrillic_share("Park") == 0.0
    assert cyrillic_share("12345 !!") == 0.0
    assert cyrillic_share("Парк Park") == 0.5


def test_near_copy_similarity() -> None:
    a = "Установить скамейки вдоль набережной реки"
    assert near_copy_similarity(a, a.upper() + "!!!") == 1.0
    close = near_copy_similarity(a, "Установите скамейки вдоль набережной реки")
    far = near_copy_similarity(a, "Отремонтировать дорогу к школе номер три")
    assert 0.6 < close < 1.0
    assert far < 0.1
    assert near_copy_similarity("bus", "BUS!") == 1.0
    assert near_copy_similarity("bus", "car") == 0.0
    assert near_copy_similarity("bus", "bus stop") == 0.0


text_st = st.text(max_size=60)


@settings(max_examples=300, deadline=None)
@given(text_st)
def test_normalise_idempotent(t: str) -> None:
    n = normalise(t)
    assert normalise(n) == n
    assert n == n.strip()
    assert "  " not in n


@settings(max_examples=200, deadline=None)
@given(text_st, text_st)
def test_near_copy_symmetric_and_bounded(a: str, b: str) -> None:
    s = near_copy_similarity(a, b)
    assert s == near_copy_similarity(b, a)
    assert 0.0 <= s <= 1.0
    assert near_copy_similarity(a, a) == 1.0
