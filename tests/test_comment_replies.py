"""Comments notify the idea's author, replies the author answered; replies sit under their
comment, work without JavaScript (a plain form with CSRF), and hidden comments notify no one."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import Browser, make_user
from tests.notification_helpers import add_idea, rows
from webapp.ideas import comments
from webapp.kernel.dto import CurrentUser
from webapp.kernel.errors import InvalidInput
from webapp.kernel.storage.db import transaction
from webapp.kernel.storage.models import Comment, User
from webapp.moderation import moderation

TITLE = "Benches in Gorky Park"


@pytest.fixture
def author(session_factory: sessionmaker[Session]) -> CurrentUser:
    return make_user(session_factory, "author@example.org", name="Pavel")


@pytest.fixture
def idea(session_factory: sessionmaker[Session], author: CurrentUser) -> int:
    return add_idea(session_factory, author, TITLE)


def comment(
    factory: sessionmaker[Session],
    user: CurrentUser,
    idea_id: int,
    body: str,
    parent_id: object = None,
    email: bool = True,
) -> int:
    with transaction(factory) as s:
        return comments.add_comment(s, user, idea_id, body, parent_id=parent_id, email=email)


def test_a_comment_notifies_the_ideas_author_but_not_for_their_own(
    session_factory: sessionmaker[Session], author: CurrentUser, idea: int
) -> None:
    vera = make_user(session_factory, "vera@example.org", name="Vera")
    cid = comment(session_factory, vera, idea, "Please put them near the pond")
    (n,) = rows(session_factory, author.id)
    assert n.kind == "comment" and n.idea_id == idea and n.email_state == "pending"
    assert n.data["comment_id"] == cid and n.data["by"] == "Vera"
    assert n.data["excerpt"] == "Please put them near the pond" and n.data["title"] == TITLE
    assert rows(session_factory, vera.id) == []
    comment(session_factory, author, idea, "Thank you, I will add it")  # own comment: nothing
    assert len(rows(session_factory, author.id)) == 1
    assert rows(session_factory, vera.id) == []


def test_the_email_preference_is_respected(
    session_factory: sessionmaker[Session], author: CurrentUser, idea: int
) -> None:
    with transaction(session_factory) as s:
        s.get_one(User, author.id).email_notifications = False
    vera = make_user(session_factory, "vera@example.org", name="Vera")
    comment(session_factory, vera, idea, "A comment while e-mail is off")
    (n,) = rows(session_factory, author.id)
    assert n.email_state == "skipped"  # on the page, never e-mailed
    comment(session_factory, vera, idea, "Site without e-mail", email=False)
    assert rows(session_factory, author.id)[-1].email_state is None


def test_a_reply_notifies_the_author_answered_once_and_the_ideas_author(
    session_factory: sessionmaker[Session], author: CurrentUser, idea: int
) -> None:
    vera = make_user(session_factory, "vera@example.org", name="Vera")
    boris = make_user(session_factory, "boris@example.org", name="Boris")
    first = comment(session_factory, vera, idea, "Near the pond, please")
    reply = comment(session_factory, boris, idea, "I agree with Vera", parent_id=str(first))
    with transaction(session_factory) as s:
        assert s.scalar(select(Comment.parent_id).where(Comment.id == reply)) == first
    (to_vera,) = rows(session_factory, vera.id)
    assert to_vera.kind == "reply" and to_vera.data["comment_id"] == reply
    assert to_vera.data["by"] == "Boris"
    assert [n.kind for n in rows(session_factory, author.id)] == ["comment", "comment"]
    # the idea's author answered: one notification ("reply"), not two
    answer = comment(session_factory, vera, idea, "Thanks, Pavel", parent_id=reply)
    assert [n.kind for n in rows(session_factory, boris.id)] == ["reply"]
    pavel_reply = comment(session_factory, boris, idea, "Pavel, what do you think?")
    comment(session_factory, vera, idea, "Me too", parent_id=pavel_reply)
    # replying to oneself notifies nobody
    comment(session_factory, vera, idea, "And one more thing", parent_id=answer)
    assert [n.kind for n in rows(session_factory, vera.id)] == ["reply"]


def test_a_reply_must_answer_a_visible_comment_of_the_same_idea(
    session_factory: sessionmaker[Session], author: CurrentUser, idea: int
) -> None:
    vera = make_user(session_factory, "vera@example.org", name="Vera")
    other = add_idea(session_factory, author, "Another idea about trees")
    elsewhere = comment(session_factory, vera, other, "On another idea")
    for bad in (elsewhere, "999999", "abc", "-1", "1" * 30):
        with pytest.raises(InvalidInput) as info:
            comment(session_factory, vera, idea, "A reply", parent_id=bad)
        assert "parent_id" in info.value.errors
    with transaction(session_factory) as s:
        assert s.scalar(select(Comment.id).where(Comment.idea_id == idea)) is None


def test_hiding_a_comment_withdraws_its_notifications(
    session_factory: sessionmaker[Session], author: CurrentUser, idea: int
) -> None:
    vera = make_user(session_factory, "vera@example.org", name="Vera")
    boris = make_user(session_factory, "boris@example.org", name="Boris")
    mod = make_user(session_factory, "mod@example.org", name="Mod", role="moderator")
    first = comment(session_factory, vera, idea, "A fair point")
    rude = comment(session_factory, boris, idea, "A rude reply", parent_id=first)
    assert {n.data["comment_id"] for n in rows(session_factory, author.id)} == {first, rude}
    assert len(rows(session_factory, vera.id)) == 1
    with transaction(session_factory) as s:
        moderation.hide_comment(s, mod, rude, "Rude", email=True)
    assert [n.data["comment_id"] for n in rows(session_factory, author.id)] == [first]
    assert rows(session_factory, vera.id) == []  # the reply's notice (and e-mail) are gone
    assert [n.kind for n in rows(session_factory, boris.id)] == ["comment_hidden"]


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<article class="comment[^"]*" id="comment-(\d+)"', html)]


def test_replies_show_under_their_comment_and_the_form_works_without_js(
    browser: Browser, session_factory: sessionmaker[Session], author: CurrentUser, idea: int
) -> None:
    vera = make_user(session_factory, "vera@example.org", name="Vera")
    first = comment(session_factory, vera, idea, "First comment")
    second = comment(session_factory, author, idea, "Second comment")
    browser.login(author.email)
    page = browser.get(f"/ideas/{idea}")
    assert page.status_code == 200
    assert f'name="parent_id" value="{first}"' in page.text  # a reply form per comment
    assert "<summary>Ответить</summary>" in page.text or "<summary>Reply</summary>" in page.text
    # a plain POST (what the browser sends without JS), with the CSRF token
    missing = browser.post(
        f"/ideas/{idea}/comments", data={"body": "No token", "parent_id": str(first)}
    )
    assert missing.status_code == 403
    sent = browser.submit(
        f"/ideas/{idea}/comments", {"body": "Thank you, Vera!", "parent_id": str(first)}
    )
    assert sent.status_code == 303
    with transaction(session_factory) as s:
        reply = s.scalar(select(Comment.id).where(Comment.parent_id == first))
    assert reply is not None and sent.headers["location"].endswith(f"#comment-{reply}")
    page = browser.get(f"/ideas/{idea}")
    assert _ids(page.text) == [first, reply, second]  # under its comment, not at the end
    assert f'<article class="comment comment-reply" id="comment-{reply}">' in page.text
    assert f'href="#comment-{first}"' in page.text
    (n,) = rows(session_factory, vera.id)
    assert n.kind == "reply"
    # the notification reads as a sentence and leads to the reply itself
    browser.login(vera.email)
    inbox = browser.get("/notifications")
    assert "Pavel" in inbox.text and TITLE in inbox.text and "Thank you, Vera!" in inbox.text
    opened = browser.get(f"/notifications/{n.id}/open", follow_redirects=False)
    assert opened.headers["location"].endswith(f"/ideas/{idea}#comment-{reply}")


def test_threads_page_by_comment_and_keep_replies_with_it(
    session_factory: sessionmaker[Session], author: CurrentUser, idea: int
) -> None:
    vera = make_user(session_factory, "vera@example.org", name="Vera")
    roots = [comment(session_factory, vera, idea, f"Comment {i}") for i in range(3)]
    late = comment(session_factory, author, idea, "A late reply", parent_id=roots[0])
    deeper = comment(session_factory, vera, idea, "A reply to the reply", parent_id=late)
    with transaction(session_factory) as s:
        first = comments.list_comments(s, idea, 1, 2, threaded=True)
        second = comments.list_comments(s, idea, 2, 2, threaded=True)
    assert [c.id for c in first.items] == [roots[0], late, deeper, roots[1]]
    assert [c.id for c in second.items] == [roots[2]]
    assert first.total == 3 and first.pages == 2 and first.extra["comments"] == 5
    assert comments._threads([(1, None), (2, 1), (3, 2), (4, 7)]) == ([1, 4], {1: [2, 3], 4: []})
