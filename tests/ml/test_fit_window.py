"""A lookup text is cut to one pass of the model (ml.embeddings.fit_window): cost by tokens."""

from __future__ import annotations

import os

import pytest

from ml.embeddings import (
    WINDOW_TOKENS,
    ConcatEncoder,
    E5Q4Encoder,
    HashingEncoder,
    default_threads,
    fit_window,
)


class WordCounter:
    """A stand-in that counts one token per word (the real engine is tested below)."""

    def token_count(self, text: str) -> int:
        return len(text.split())


def test_a_text_that_fits_is_returned_whole() -> None:
    text = "велодорожка вдоль набережной"
    assert fit_window(WordCounter(), text, max_tokens=3) == text
    # an encoder that cannot count tokens truncates on its own: nothing to cut here
    assert fit_window(HashingEncoder(), "слово " * 5000) == "слово " * 5000


def test_a_long_text_is_cut_to_the_window_at_a_word_boundary() -> None:
    words = [f"слово{i}" for i in range(100)]
    cut = fit_window(WordCounter(), " ".join(words), max_tokens=10)
    assert cut.split() == words[:10]
    assert not cut.endswith(" ")


def test_the_real_engine_reads_one_window_whatever_the_script() -> None:
    e5 = E5Q4Encoder(threads=1)
    encoder = ConcatEncoder("test", [("hash", HashingEncoder()), ("e5", e5)])
    chinese = "汉字测试" * 500  # 2,000 characters: about three windows of e5 tokens
    assert e5.token_count(chinese) > 2 * WINDOW_TOKENS
    cut = fit_window(encoder, chinese)
    assert e5.token_count(cut) <= WINDOW_TOKENS
    assert encoder.token_count(cut) == e5.token_count(cut)
    assert len(cut) > 0.8 * len(fit_window(e5, chinese))
    assert chinese.startswith(cut)
    russian = "Предлагаю сделать велодорожку вдоль набережной и поставить скамейки. " * 3
    assert fit_window(encoder, russian) == russian


def test_lookups_are_charged_by_the_model_tokens_they_read() -> None:
    """The ``similar`` rate limit counts one hit per started 128 tokens of what a lookup reads
    (webapp.dedup.engine.SimilarityService.charge): a script of one token per character
    costs as much as it makes the model work, not one hit per 500 characters."""
    from sqlalchemy.orm import sessionmaker

    from ml.finder import DuplicateFinder, FinderConfig
    from webapp.dedup.engine import SimilarityService
    from webapp.dedup.similar_ideas import CHARGE_TOKENS
    from webapp.kernel.settings import Settings

    svc = SimilarityService(Settings(), sessionmaker())  # an unbound factory: never opened
    assert svc.charge("парк") is None  # nothing loaded: the views charge by characters
    e5 = E5Q4Encoder(threads=1)
    svc.finder = DuplicateFinder(e5, FinderConfig.fallback("test", e5))
    typed = "Велодорожка вдоль набережной\nПостроить безопасную велодорожку вдоль набережной."
    assert svc.charge(typed) == 1
    chinese = "汉字测试" * 125  # 500 characters, one hit per 500 characters would be 1
    assert svc.charge(chinese) == -(-e5.token_count(chinese) // CHARGE_TOKENS) >= 3
    assert svc.charge("汉字测试" * 500) == WINDOW_TOKENS // CHARGE_TOKENS  # cut to one window
    hashing = HashingEncoder()
    svc.finder = DuplicateFinder(hashing, FinderConfig.fallback("test", hashing))
    assert svc.charge(typed) is None


def test_embed_threads_zero_means_the_cpu_count_capped_at_two(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """VECHE_EMBED_THREADS=0 is documented as "the CPU count, at most 2", like unset."""
    auto = max(1, min(2, os.cpu_count() or 1))
    monkeypatch.setenv("VECHE_EMBED_THREADS", "0")
    assert default_threads() == auto
    monkeypatch.delenv("VECHE_EMBED_THREADS")
    assert default_threads() == auto
    monkeypatch.setenv("VECHE_EMBED_THREADS", "3")
    assert default_threads() == 3
