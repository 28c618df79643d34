"""What a notification says: one localised sentence per kind, for the page and for e-mail.

A notification's ``data`` is what its writer stored when it happened; any key may be missing
(older rows, other writers), so every sentence has a fallback. :func:`sentence` returns the
message id and its parameters, untranslated and unescaped: the page escapes them and turns the
titles into links, the e-mail uses them as plain text.

Keys read from ``data``: ``title`` (the idea the notification is about), ``canonical_id`` and
``canonical_title`` (merges), ``status`` and ``previous_status`` (status changes, answers),
``merged_titles`` (a merge of several ideas), ``body`` / ``response`` (an official answer),
``reason`` (hides), ``auto`` (hidden automatically after reports, pending review), ``excerpt``
(the hidden comment).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.i18n import Translator
from webapp.kernel.errors import N_

EXCERPT_CHARS = 280
TITLE_CHARS = 200
# Parameters that name an idea: the page links them, e-mail quotes them.
LINKED = ("title", "canonical")

STATUS_NAMES = {
    "published": N_("Published"),
    "under_review": N_("Under review"),
    "accepted": N_("Accepted"),
    "in_progress": N_("In progress"),
    "implemented": N_("Implemented"),
    "rejected": N_("Rejected"),
    "hidden": N_("Hidden"),
    "merged": N_("Merged"),
}

SUBJECTS = {
    "merged": N_("“%(title)s” was merged with a similar idea"),
    "status": N_("New status of “%(title)s”"),
    "response": N_("Officials answered “%(title)s”"),
    "hidden": N_("Your idea “%(title)s” was hidden"),
    "unhidden": N_("Your idea “%(title)s” is visible again"),
    "comment_hidden": N_("Your comment on “%(title)s” was hidden"),
    "comment_unhidden": N_("Your comment on “%(title)s” is visible again"),
}


@dataclass(frozen=True)
class Sentence:
    """A message id and its (raw, already localised where needed) parameters."""

    msgid: str
    params: dict[str, str]
    quote: str = ""  # e.g. the hidden comment: shown under the sentence

    def text(self, tr: Translator) -> str:
        return tr.gettext(self.msgid, **self.params)


def clip(value: Any, limit: int) -> str:
    """One line of at most ``limit`` characters (whitespace collapsed), or ''."""
    if value is None:
        return ""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _title(tr: Translator, data: dict[str, Any], key: str, idea_id: Any) -> str:
    title = clip(data.get(key), TITLE_CHARS)
    if title:
        return title
    if isinstance(idea_id, int):
        return tr.gettext("idea No. %(id)s", id=idea_id)
    return tr.gettext("untitled idea")


def status_name(tr: Translator, status: Any) -> str:
    if not isinstance(status, str) or not status:
        return ""
    name = STATUS_NAMES.get(status)
    return tr.gettext(name) if name else status


def sentence(tr: Translator, kind: str, idea_id: int | None, data: dict[str, Any]) -> Sentence:
    """The sentence for one notification, in ``tr``'s language."""
    data = data if isinstance(data, dict) else {}
    title = _title(tr, data, "title", idea_id)
    reason = clip(data.get("reason"), EXCERPT_CHARS)
    auto = bool(data.get("auto") or data.get("auto_hidden"))
    if kind == "merged":
        canonical = clip(data.get("canonical_title"), TITLE_CHARS)
        if not canonical and isinstance(data.get("canonical_id"), int):
            canonical = tr.gettext("idea No. %(id)s", id=data["canonical_id"])
        several = [clip(t, TITLE_CHARS) for t in data.get("merged_titles") or () if t]
        if len(several) > 1:
            # one quoted list: “A”, “B” (the separator closes and opens the quotes)
            joined = tr.gettext("”, “").join(several)
            if canonical:
                return Sentence(
                    N_(
                        "The ideas “%(title)s” were merged into “%(canonical)s”. If you supported "
                        "any of them, your support now counts there once — you can withdraw it on "
                        "that page."
                    ),
                    {"title": joined, "canonical": canonical},
                )
            return Sentence(
                N_(
                    "The ideas “%(title)s” were merged into a similar idea. If you supported any "
                    "of them, your support now counts there once."
                ),
                {"title": joined},
            )
        if canonical:
            return Sentence(
                N_(
                    "“%(title)s” was merged into “%(canonical)s”. If you supported it, your "
                    "support now counts there once — you can withdraw it on that page."
                ),
                {"title": title, "canonical": canonical},
            )
        return Sentence(
            N_(
                "“%(title)s” was merged into a similar idea. If you supported it, your support now counts there once."
            ),
            {"title": title},
        )
    if kind == "status":
        new = status_name(tr, data.get("status"))
        old = status_name(tr, data.get("previous_status"))
        if new and old:
            return Sentence(
                N_("The status of “%(title)s” changed from %(old)s to %(new)s."),
                {"title": title, "old": old, "new": new},
            )
        if new:
            return Sentence(
                N_("The status of “%(title)s” changed to %(new)s."), {"title": title, "new": new}
            )
        return Sentence(N_("The status of “%(title)s” changed."), {"title": title})
    if kind == "response":
        answer = clip(data.get("body") or data.get("response"), EXCERPT_CHARS)
        new = status_name(tr, data.get("status"))
        if answer and new:
            return Sentence(
                N_("Officials answered “%(title)s” (status: %(new)s): %(answer)s"),
                {"title": title, "new": new, "answer": answer},
            )
        if answer:
            return Sentence(
                N_("Officials answered “%(title)s”: %(answer)s"),
                {"title": title, "answer": answer},
            )
        return Sentence(N_("Officials answered “%(title)s”."), {"title": title})
    if kind == "hidden":
        if auto:
            return Sentence(
                N_(
                    "Your idea “%(title)s” was hidden automatically after several reports; "
                    "a moderator will review it."
                ),
                {"title": title},
            )
        if reason:
            return Sentence(
                N_("Your idea “%(title)s” was hidden by a moderator. Reason: %(reason)s"),
                {"title": title, "reason": reason},
            )
        return Sentence(N_("Your idea “%(title)s” was hidden by a moderator."), {"title": title})
    if kind == "unhidden":
        if reason:
            return Sentence(
                N_("Your idea “%(title)s” is visible again. Moderator's note: %(reason)s"),
                {"title": title, "reason": reason},
            )
        return Sentence(N_("Your idea “%(title)s” is visible again."), {"title": title})
    comment = clip(data.get("excerpt"), EXCERPT_CHARS)
    if kind == "comment_hidden":
        if auto:
            return Sentence(
                N_(
                    "Your comment on “%(title)s” was hidden automatically after several "
                    "reports; a moderator will review it."
                ),
                {"title": title},
                comment,
            )
        if reason:
            return Sentence(
                N_("Your comment on “%(title)s” was hidden by a moderator. Reason: %(reason)s"),
                {"title": title, "reason": reason},
                comment,
            )
        return Sentence(
            N_("Your comment on “%(title)s” was hidden by a moderator."), {"title": title}, comment
        )
    if kind == "comment_unhidden":
        if reason:
            return Sentence(
                N_("Your comment on “%(title)s” is visible again. Moderator's note: %(reason)s"),
                {"title": title, "reason": reason},
                comment,
            )
        return Sentence(
            N_("Your comment on “%(title)s” is visible again."), {"title": title}, comment
        )
    return Sentence(N_("There is news about “%(title)s”."), {"title": title})


def subject(tr: Translator, kind: str, idea_id: int | None, data: dict[str, Any]) -> str:
    """A short e-mail subject for one notification."""
    data = data if isinstance(data, dict) else {}
    title = clip(_title(tr, data, "title", idea_id), 80)
    msgid = SUBJECTS.get(kind, N_("There is news about “%(title)s”."))
    return tr.gettext(msgid, title=title)


def target_idea(kind: str, idea_id: int | None, data: dict[str, Any]) -> int | None:
    """The idea a notification links to: the canonical idea of a merge, else its own idea."""
    if kind == "merged" and isinstance(data, dict) and isinstance(data.get("canonical_id"), int):
        return int(data["canonical_id"])
    return idea_id
