"""The duplicate queue's texts compared word by word: the words that differ from the suggested
idea are marked (presentation of ``webapp.dedup.duplicate_queue``, which returns the texts).

Each member's title and body become tokens, the runs of words that differ from the suggested
idea's marked ``changed``. The template escapes the tokens like any text; nothing here produces
HTML. The work is bounded (issue #12, finding 10): a bounded Myers diff after the common head and
tail are cut off, a step budget per diff and one shared by all the diffs of a page
(``DIFF_BUDGET``, ``PAGE_DIFF_BUDGET``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ml.text import normalise
from webapp.dedup.duplicate_queue import Link, QueueGroup, QueueMember, Suggestion
from webapp.kernel.dto import IdeaSummary

_TOKEN = re.compile(r"\w+|[^\w\s]+|\s+")


@dataclass(frozen=True)
class Token:
    """A run of text; ``changed`` when its words are not in the suggested idea's text there."""

    text: str
    changed: bool


@dataclass(frozen=True)
class ComparedMember:
    """A member of a group as the queue shows it: its texts as tokens, the changes counted."""

    idea: IdeaSummary
    title: tuple[Token, ...]
    body: tuple[Token, ...]
    suggested: bool
    link: Link | None  # to the suggested idea; None for the suggested one itself
    direct: bool  # the link is a pair with the suggested idea (not through another member)
    changed_words: int  # words marked as different

    @property
    def body_parts(self) -> tuple[tuple[Token, ...], tuple[Token, ...]]:
        """The body cut for the queue: the first ~``TEASER_CHARS`` characters and the rest."""
        return split_tokens(self.body, TEASER_CHARS)


@dataclass(frozen=True)
class ComparedGroup:
    id: int
    score: float
    updated_at: datetime
    members: tuple[ComparedMember, ...]  # the suggested idea first, then by link strength
    suggested_id: int
    suggested_because: Suggestion


def _words(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _is_word(token: str) -> bool:
    return bool(re.match(r"\w", token))


DIFF_BUDGET = 100_000
"""Steps one word diff may take (about 0.05 s): the diff is Myers' O((N+M)·D) algorithm after
the common head and tail are cut off, so two near copies cost about their length; texts that
differ too much for the budget fall back to marking the words the reference does not contain
(linear). Before, ``difflib`` without a budget took 30 s on two 1,000-word texts."""
PAGE_DIFF_BUDGET = 500_000
"""Steps all the diffs of one queue page may take together; the rest use the fallback."""


class DiffBudget:
    """Steps left for the word diffs of one page (shared by its diffs)."""

    def __init__(self, steps: int = PAGE_DIFF_BUDGET) -> None:
        self.left = steps


def _matches(
    a: Sequence[str], b: Sequence[str], limit: int
) -> tuple[list[tuple[int, int]] | None, int]:
    """The matched positions ``(i, j)`` of a shortest edit script of ``a`` into ``b`` (Myers'
    greedy algorithm), or None when it needs more than ``limit`` steps; and the steps used."""
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return [], 0
    offset = n + m + 1
    v = [0] * (2 * offset + 1)
    trace: list[list[int]] = []  # trace[d][k + d + 1]: furthest x on diagonal k before round d
    steps = 0
    found = -1
    for d in range(n + m + 1):
        trace.append(v[offset - d - 1 : offset + d + 2])
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[offset + k - 1] < v[offset + k + 1]):
                x = v[offset + k + 1]
            else:
                x = v[offset + k - 1] + 1
            y = x - k
            start = x
            while x < n and y < m and a[x] == b[y]:
                x += 1
                y += 1
            steps += 1 + x - start
            v[offset + k] = x
            if x >= n and y >= m:
                found = d
                break
            if steps > limit:
                return None, steps
        if found >= 0:
            break
    pairs: list[tuple[int, int]] = []
    x, y = n, m
    for d in range(found, -1, -1):
        prev = trace[d]
        k = x - y
        if k == -d or (k != d and prev[k + d] < prev[k + d + 2]):
            pk = k + 1
        else:
            pk = k - 1
        px = prev[pk + d + 1]
        py = px - pk
        while x > px and y > py:  # the snake that followed the edit
            x -= 1
            y -= 1
            pairs.append((x, y))
        x, y = px, py
    pairs.reverse()
    return pairs, steps


def diff_tokens(reference: str, text: str, budget: DiffBudget | None = None) -> tuple[Token, ...]:
    """``text`` as tokens, its words that differ from ``reference`` marked ``changed``.

    Words are compared in ``ml.text.normalise`` form (case, ``ё``/``е`` and accents do not
    count), spaces and punctuation are never marked on their own; a run of changed words with
    the spaces between them comes back as one token. The work is bounded (DIFF_BUDGET, and
    ``budget`` shared by a page): beyond it the words of ``text`` that ``reference`` does not
    contain are marked instead.

    >>> [(t.text, t.changed) for t in diff_tokens("Plant trees", "Plant more trees")]
    [('Plant ', False), ('more', True), (' trees', False)]
    """
    tokens = _words(text)
    forms: dict[str, str] = {}  # normalise each distinct word once

    def norm(word: str) -> str:
        form = forms.get(word)
        if form is None:
            form = forms[word] = normalise(word)
        return form

    ref = [norm(t) for t in _words(reference) if _is_word(t)]
    where = [i for i, t in enumerate(tokens) if _is_word(t)]
    keys = [norm(tokens[i]) for i in where]
    # the common head and tail cost one comparison a word; only the middle is diffed
    head = 0
    while head < len(ref) and head < len(keys) and ref[head] == keys[head]:
        head += 1
    tail = 0
    while (
        tail < len(ref) - head
        and tail < len(keys) - head
        and ref[len(ref) - 1 - tail] == keys[len(keys) - 1 - tail]
    ):
        tail += 1
    ref_mid = ref[head : len(ref) - tail]
    mid = keys[head : len(keys) - tail]
    limit = DIFF_BUDGET if budget is None else min(DIFF_BUDGET, max(0, budget.left))
    pairs, steps = _matches(ref_mid, mid, limit)
    if budget is not None:
        budget.left -= steps
    changed = [False] * len(tokens)
    if pairs is None:  # too different for the budget: words the reference lacks
        known = set(ref_mid)
        for j, key in enumerate(mid):
            if key not in known:
                changed[where[head + j]] = True
    else:
        kept = {j for _, j in pairs}
        for j in range(len(mid)):
            if j not in kept:
                changed[where[head + j]] = True
    # glue: a space or punctuation between two changed words belongs to the marked run
    for k in range(1, len(where)):
        i, j = where[k - 1], where[k]
        if changed[i] and changed[j]:
            for g in range(i + 1, j):
                changed[g] = True
    out: list[Token] = []
    for token, flag in zip(tokens, changed, strict=True):
        if out and out[-1].changed == flag:
            out[-1] = Token(out[-1].text + token, flag)
        else:
            out.append(Token(token, flag))
    return tuple(out)


TEASER_CHARS = 300
"""Characters of a long body shown before «Show in full» (the rest sits in a <details>)."""


def split_tokens(
    tokens: Sequence[Token], limit: int
) -> tuple[tuple[Token, ...], tuple[Token, ...]]:
    """Cut ``tokens`` after about ``limit`` characters, at a space (nothing lost or reordered).

    A text at most a fifth longer than ``limit`` is not cut: hiding a few words helps nobody.
    """
    if sum(len(t.text) for t in tokens) <= limit * 6 // 5:
        return tuple(tokens), ()
    head: list[Token] = []
    used = 0
    for i, token in enumerate(tokens):
        room = limit - used
        if len(token.text) <= room:
            head.append(token)
            used += len(token.text)
            continue
        cut = token.text.rfind(" ", 0, room + 1)
        if cut <= 0:  # no space in reach: cut at the next one (or keep the token whole)
            cut = token.text.find(" ", room)
            cut = len(token.text) if cut < 0 else cut
        first, rest = token.text[:cut], token.text[cut:]
        if first:
            head.append(Token(first, token.changed))
        tail = ([Token(rest, token.changed)] if rest else []) + list(tokens[i + 1 :])
        return tuple(head), tuple(tail)
    return tuple(head), ()


def plain_tokens(text: str) -> tuple[Token, ...]:
    return (Token(text, False),) if text else ()


def changed_words(tokens: Sequence[Token]) -> int:
    """Words in the tokens marked ``changed``."""
    return sum(len([w for w in _words(t.text) if _is_word(w)]) for t in tokens if t.changed)


def _member(
    m: QueueMember, reference: QueueMember | None, budget: DiffBudget | None
) -> ComparedMember:
    if m.suggested or reference is None:
        title, body = plain_tokens(m.title), plain_tokens(m.body)
        return ComparedMember(m.idea, title, body, m.suggested, m.link, m.direct, 0)
    title = diff_tokens(reference.title, m.title, budget)
    body = diff_tokens(reference.body, m.body, budget)
    changed = changed_words((*title, *body))
    return ComparedMember(m.idea, title, body, False, m.link, m.direct, changed)


def compare_group(group: QueueGroup, budget: DiffBudget | None = None) -> ComparedGroup:
    """Each member's texts compared with the suggested idea's (that one's shown as they are)."""
    reference = next((m for m in group.members if m.suggested), None)
    return ComparedGroup(
        id=group.id,
        score=group.score,
        updated_at=group.updated_at,
        members=tuple(_member(m, reference, budget) for m in group.members),
        suggested_id=group.suggested_id,
        suggested_because=group.suggested_because,
    )


def compare_page(groups: Sequence[QueueGroup]) -> list[ComparedGroup]:
    """A queue page compared: the word diffs of the whole page share one budget."""
    budget = DiffBudget()
    return [compare_group(g, budget) for g in groups]
