"""What a notification is about, read from its stored ``data``: plain values, no wording.

A notification's ``data`` is what its writer stored when it happened; any key may be missing or of
another type (older rows, other writers), so :func:`facts` checks and clips each one and the
wording falls back where one is missing. The wording itself — one sentence per kind for the page
and for e-mail, an e-mail subject — is in the templates (``notifications/_notices.html``, the
e-mails in ``notifications/email/``), translated by the gettext catalogs.

Keys read from ``data``: ``title`` (the idea the notification is about), ``canonical_id`` and
``canonical_title`` (merges), ``status`` and ``previous_status`` (status changes, answers),
``merged_titles`` (a merge of several ideas), ``body`` / ``response`` (an official answer),
``reason`` (hides), ``auto`` / ``auto_hidden`` (hidden automatically after reports, pending
review), ``excerpt`` (the comment: hidden, new on the reader's idea, or a reply), ``comment_id``
and ``by`` (who wrote a new comment or reply), ``merge_id`` and ``merged_ids`` (merges and
unmerges), ``project_id`` (``results``: the project whose results were published; ``title``
is then the project's question, in the reader's language), ``poll_id`` (``poll``: a poll
that opened for the reader; ``title`` is then the poll's title, in the reader's language). ``merge_undone``, ``title_language``
and ``canonical_language`` are never stored:
the inbox and the mailer add them when they read notifications (whether a merge has been undone
since, so that it reads as history; the languages of the ideas quoted, for ``lang``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EXCERPT_CHARS = 280
TITLE_CHARS = 200
SUBJECT_TITLE_CHARS = 80
COMMENT_KINDS = ("comment_hidden", "comment_unhidden", "comment", "reply")
NAME_CHARS = 100


@dataclass(frozen=True)
class Facts:
    """One notification's data, checked: '' (or None) where the data has nothing usable."""

    kind: str
    idea_id: int | None  # the notification's idea (named "idea No. …" when its title is missing)
    title: str  # the idea's title, at most TITLE_CHARS
    canonical_id: int | None  # a merge: the idea kept
    canonical_title: str
    merged_titles: tuple[str, ...]  # a merge of several ideas at once: each title
    status: str  # a status code (published, accepted, …), as stored
    previous_status: str
    answer: str  # an official answer, at most EXCERPT_CHARS
    reason: str  # a moderator's reason or note, at most EXCERPT_CHARS
    auto: bool  # hidden automatically after reports (a moderator will review it)
    quote: str  # the comment (hidden, visible again, new, a reply), shown under the sentence
    by: str = ""  # who wrote a new comment or reply (a display name), at most NAME_CHARS
    undone: bool = False  # a merge: undone since (the sentence says so, in the past)
    title_lang: str = ""  # the language of the idea(s) quoted by ``title`` ('' unknown)
    canonical_lang: str = ""  # the language of the canonical idea
    project_id: int | None = None  # ``results``: the project whose results were published
    poll_id: int | None = None  # ``poll``: the poll that opened for the reader

    @property
    def short_title(self) -> str:
        """The title for an e-mail subject (at most SUBJECT_TITLE_CHARS)."""
        return clip(self.title, SUBJECT_TITLE_CHARS)


def clip(value: Any, limit: int) -> str:
    """One line of at most ``limit`` characters (whitespace collapsed), or ''."""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _status(value: Any) -> str:
    return value if isinstance(value, str) else ""


def facts(kind: str, idea_id: int | None, data: Any) -> Facts:
    """The facts of one notification (``data`` as stored: anything, usually a dict)."""
    data = data if isinstance(data, dict) else {}
    canonical_id = data.get("canonical_id")
    merged = data.get("merged_titles")
    return Facts(
        kind=kind,
        idea_id=idea_id if isinstance(idea_id, int) else None,
        title=clip(data.get("title"), TITLE_CHARS),
        canonical_id=canonical_id if isinstance(canonical_id, int) else None,
        canonical_title=clip(data.get("canonical_title"), TITLE_CHARS),
        merged_titles=tuple(
            clip(t, TITLE_CHARS) for t in (merged if isinstance(merged, list | tuple) else ()) if t
        ),
        status=_status(data.get("status")),
        previous_status=_status(data.get("previous_status")),
        answer=clip(data.get("body") or data.get("response"), EXCERPT_CHARS),
        reason=clip(data.get("reason"), EXCERPT_CHARS),
        auto=bool(data.get("auto") or data.get("auto_hidden")),
        quote=clip(data.get("excerpt"), EXCERPT_CHARS) if kind in COMMENT_KINDS else "",
        by=clip(data.get("by"), NAME_CHARS),
        undone=kind == "merged" and data.get("merge_undone") is True,
        title_lang=_language(data.get("title_language")),
        canonical_lang=_language(data.get("canonical_language")),
        project_id=target_project(kind, data),
        poll_id=target_poll(kind, data),
    )


def _language(value: Any) -> str:
    """A language code fit for a ``lang`` attribute (``ru``, ``en-GB``), else ''."""
    if isinstance(value, str) and 2 <= len(value) <= 12 and value.replace("-", "").isalnum():
        return value
    return ""


def target_idea(kind: str, idea_id: int | None, data: dict[str, Any]) -> int | None:
    """The idea a notification links to: the canonical idea of a merge still in force, the
    (first) merged idea of a merge undone since, else its own idea."""
    if kind == "merged" and isinstance(data, dict):
        merged = data.get("merged_ids")
        if data.get("merge_undone") is True and isinstance(merged, list) and merged:
            first = merged[0]
            return first if isinstance(first, int) else idea_id
        if isinstance(data.get("canonical_id"), int):
            return int(data["canonical_id"])
    return idea_id


def target_project(kind: str, data: dict[str, Any]) -> int | None:
    """The project whose results page a ``results`` notification links to (None otherwise)."""
    if kind == "results" and isinstance(data, dict):
        project_id = data.get("project_id")
        if isinstance(project_id, int) and not isinstance(project_id, bool):
            return project_id
    return None


def target_poll(kind: str, data: dict[str, Any]) -> int | None:
    """The poll a ``poll`` notification links to (None otherwise)."""
    if kind == "poll" and isinstance(data, dict):
        poll_id = data.get("poll_id")
        if isinstance(poll_id, int) and not isinstance(poll_id, bool):
            return poll_id
    return None


def target_anchor(kind: str, data: dict[str, Any]) -> str:
    """Where on the idea's page a notification leads: the new comment or reply, else the top."""
    if kind in ("comment", "reply") and isinstance(data, dict):
        comment_id = data.get("comment_id")
        if isinstance(comment_id, int):
            return f"comment-{comment_id}"
    return ""
