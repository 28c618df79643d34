"""The moderators' duplicate queue: candidate groups with their texts compared word by word.

Built on ``dedup_groups.list_groups`` (open groups, strongest first, public members only). Each
group gets a suggested idea to keep — the one with the most supporters, the oldest among equals:
it is the one most citizens already know and link to, and its author was first — and every other
member's title and body as tokens, the words that differ from the suggested idea marked. The
template escapes the tokens like any text; nothing here produces HTML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ml.text import normalise
from webapp.dedup import merges
from webapp.dedup.dedup_groups import DuplicateGroupView, GroupMember, list_groups
from webapp.dedup.dismissals import public_members
from webapp.dedup.merges import MergeView
from webapp.kernel.dto import CurrentUser, IdeaSummary
from webapp.kernel.errors import Conflict, NotFound, invalid
from webapp.kernel.security import require_permission
from webapp.kernel.storage.models import DuplicateGroup, DuplicatePair, Idea

_TOKEN = re.compile(r"\w+|[^\w\s]+|\s+")

Suggestion = Literal["supporters", "oldest"]


@dataclass(frozen=True)
class Token:
    """A run of text; ``changed`` when its words are not in the suggested idea's text there."""

    text: str
    changed: bool


@dataclass(frozen=True)
class Link:
    """The stored pair between a member and the suggested idea (or its strongest link)."""

    other_id: int
    score: float
    similarity: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class QueueMember:
    idea: IdeaSummary
    title: tuple[Token, ...]
    body: tuple[Token, ...]
    suggested: bool
    link: Link | None  # to the suggested idea; None for the suggested one itself
    direct: bool  # the link is a pair with the suggested idea (not through another member)
    changed_words: int  # words marked as different


@dataclass(frozen=True)
class QueueGroup:
    id: int
    score: float
    updated_at: datetime
    members: tuple[QueueMember, ...]  # the suggested idea first, then by link strength
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


def plain_tokens(text: str) -> tuple[Token, ...]:
    return (Token(text, False),) if text else ()


def suggest(members: tuple[GroupMember, ...]) -> tuple[int, Suggestion]:
    """The idea to keep: most supporters, then oldest; and why it was chosen."""
    best = min(members, key=lambda m: (-m.idea.support_count, m.idea.created_at, m.idea.id))
    tied = sum(1 for m in members if m.idea.support_count == best.idea.support_count)
    return best.idea.id, "supporters" if tied == 1 else "oldest"


def _pairs(session: Session, ids: list[int]) -> dict[tuple[int, int], Link]:
    rows = session.execute(
        select(
            DuplicatePair.idea_a,
            DuplicatePair.idea_b,
            DuplicatePair.score,
            DuplicatePair.similarity,
            DuplicatePair.reasons,
        ).where(DuplicatePair.idea_a.in_(ids), DuplicatePair.idea_b.in_(ids))
    ).all()
    out: dict[tuple[int, int], Link] = {}
    for a, b, score, sim, reasons in rows:
        codes = tuple(r for r in (reasons or "").split(",") if r)
        out[(a, b)] = Link(b, float(score), float(sim), codes)
        out[(b, a)] = Link(a, float(score), float(sim), codes)
    return out


def _texts(session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
    rows = session.execute(select(Idea.id, Idea.title, Idea.body).where(Idea.id.in_(ids)))
    return {i: (t, b or "") for i, t, b in rows}


def _build(
    group: DuplicateGroupView,
    texts: dict[int, tuple[str, str]],
    pairs: dict[tuple[int, int], Link],
    budget: DiffBudget | None = None,
) -> QueueGroup:
    keep, because = suggest(group.members)
    ref_title, ref_body = texts[keep]
    members: list[QueueMember] = []
    for m in group.members:
        mid = m.idea.id
        title, body = texts[mid]
        if mid == keep:
            members.append(
                QueueMember(m.idea, plain_tokens(title), plain_tokens(body), True, None, False, 0)
            )
            continue
        link = pairs.get((mid, keep))
        direct = link is not None
        if link is None:  # joined the group through another member: show its strongest pair
            links = [v for (a, _), v in pairs.items() if a == mid]
            link = max(links, key=lambda v: v.score, default=None)
        t_tokens = diff_tokens(ref_title, title, budget)
        b_tokens = diff_tokens(ref_body, body, budget)
        changed = sum(
            len([w for w in _words(t.text) if _is_word(w)])
            for t in (*t_tokens, *b_tokens)
            if t.changed
        )
        members.append(QueueMember(m.idea, t_tokens, b_tokens, False, link, direct, changed))
    first = [m for m in members if m.suggested]
    rest = sorted(
        (m for m in members if not m.suggested),
        key=lambda m: (not m.direct, -(m.link.score if m.link else 0.0), m.idea.id),
    )
    return QueueGroup(
        id=group.id,
        score=group.score,
        updated_at=group.updated_at,
        members=tuple(first + rest),
        suggested_id=keep,
        suggested_because=because,
    )


def queue_page(
    session: Session, *, limit: int = 20, offset: int = 0
) -> tuple[list[QueueGroup], int]:
    """One page of the duplicate queue (open groups, strongest first) and the total."""
    groups, total = list_groups(session, limit=limit, offset=offset)
    ids = sorted({m.idea.id for g in groups for m in g.members})
    if not ids:
        return [], total
    texts = _texts(session, ids)
    pairs = _pairs(session, ids)
    out = []
    budget = DiffBudget()  # the word diffs of the whole page are bounded together
    for g in groups:
        inside = {m.idea.id for m in g.members}
        own = {k: v for k, v in pairs.items() if k[0] in inside and k[1] in inside}
        out.append(_build(g, texts, own, budget))
    return out, total


def merge_group(
    session: Session,
    actor: CurrentUser,
    group_id: int,
    canonical_id: int,
    member_ids: Sequence[int],
    *,
    reason: str,
    email: bool = False,
) -> MergeView:
    """Merge some members of an open group into the chosen one (``merges.merge`` does the
    merge, its audit entry and the notifications). Only ideas the queue shows for this group
    can be chosen."""
    require_permission(actor.role, "moderate")
    # Locked before the check (merges.merge locks it too, first of all): a moderator dismissing
    # the group at the same time waits, then finds it merged; or this merge finds it dismissed.
    group = session.get(DuplicateGroup, group_id, with_for_update=True)
    if group is None:
        raise NotFound("This group of possible duplicates does not exist (any more).")
    if group.status != "open":
        raise Conflict("Another moderator has already dealt with this group.")
    members = set(public_members(session, group_id))
    chosen = {int(m) for m in member_ids} - {canonical_id}
    if canonical_id not in members or chosen - members:
        raise invalid("canonical", "Choose ideas of this group only.")
    if not chosen:
        raise invalid("members", "Tick at least one idea to merge into the one you keep.")
    return merges.merge(
        session,
        actor,
        canonical_id,
        sorted(chosen),
        reason=reason,
        group_id=group_id,
        email=email,
    )
