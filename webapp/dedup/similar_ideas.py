"""What the finder's engine, the embedder, ``veche reindex`` and the views share about similar ideas.

* the text an idea is embedded as (:func:`idea_text`) and its hash (:func:`text_hash`), which
  tells a stale vector or a stale dismissal;
* what a lookup reads of a typed text (:func:`query_text`, QUERY_MAX_CHARS) and what it costs
  (CHARGE_TOKENS), the cost bounds of docs/security.md;
* what a lookup returns (:class:`SimilarIdea`) or raises (:class:`SimilarityUnavailable`).

Nothing here loads a model or touches the database.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from ml.text import join_idea
from webapp.kernel.dto import IdeaSummary
from webapp.kernel.errors import N_, DomainError

# Cost bounds of the lookups (docs/security.md "Cost bounds", bench/cost_bounds.py).
QUERY_MAX_CHARS = 2_000
"""Characters of a typed text a lookup reads (title, newline, description; the rest is never
encoded). The default model reads one window of 512 tokens per pass: 2,000 characters of Russian
or English text are 469-483 e5 tokens (measured), and MiniLM stops at 256 tokens. The site cuts
longer texts here; the API refuses them (422)."""
CHARGE_TOKENS = 128
"""A lookup counts one hit of the ``similar`` rate limit per started CHARGE_TOKENS model tokens
(``SimilarityService.charge``): a typed idea is one hit, a full window four."""


class SimilarityUnavailable(DomainError):
    """Suggestions cannot be computed right now (model loading, disabled, or failed)."""

    status = 503


LOADING_MESSAGE = N_("Similar ideas are warming up; try again in a minute.")
OFF_MESSAGE = N_("Similar ideas are not available on this site.")


@dataclass(frozen=True)
class SimilarIdea:
    idea: IdeaSummary
    score: float  # DuplicateFinder pair score, 0..1
    similarity: float  # script-weighted cosine
    reasons: tuple[str, ...]  # guard / copy codes: "numbers", "negation", ..., "exact_copy"
    likely_duplicate: bool  # score >= finder.threshold


def idea_text(title: str, body: str | None) -> str:
    """The text an idea is embedded as (``ml.text.join_idea``)."""
    return join_idea(title, body)


def text_hash(text_: str) -> str:
    """SHA-1 of an idea's embedded text: a changed hash means the stored vector is stale."""
    return hashlib.sha1(text_.encode("utf-8", "surrogatepass")).hexdigest()  # noqa: S324


def query_text(text_: str) -> str:
    """A typed text as lookups read it and cache it: NFC, runs of spaces collapsed, blank lines
    dropped, at most QUERY_MAX_CHARS characters."""
    raw = unicodedata.normalize("NFC", text_[: 4 * QUERY_MAX_CHARS])
    lines = (" ".join(line.split()) for line in raw.splitlines())
    return "\n".join(line for line in lines if line)[:QUERY_MAX_CHARS]
