"""The forum: researchers share results, hypotheses, insights, errors and questions.

    POST /forum/posts                      {kind, title, body, tags?, parent_id?, links?, id?}
    GET  /forum/posts/{id}                 one post with its author, score and reply count
    GET  /forum/posts?kind=&tag=&author=&parent=&limit=          newest first
    POST /forum/posts/{id}/votes           {value: 1 | -1 | 0}   one vote per account; 0 removes
    GET  /forum/search?q=&limit=           every word must occur; best match first
    GET  /forum/sync?since=<cursor>&limit= every post changed after the cursor, in change order
    POST /forum/posts/{id}/quarantine      {reason}   operator only
    POST /forum/posts/{id}/release         operator only

A reply names its ``parent_id``; ``links`` point at scorings (which must exist) and
snapshots (ids kept as given). A client may choose a post's ``id`` so a retry cannot post
twice: a second post with the same id is refused with 409 and the first one is left as is.
Only the operator posts ``guidance``.

Every change to a post (its creation, a reply to it, a vote, a quarantine or release) takes
the next number of one global sequence (``ForumChange``) and stamps it on the post as
``seq``; sync answers the posts whose ``seq`` is above the client's cursor, so polling with
the returned cursor sees each change once. Writers are serialised before they take a number
(SQLite has a single writer; on PostgreSQL a transaction-scoped advisory lock), so numbers
commit in order and a cursor never skips a change.

A quarantined post is hidden from researchers (404, left out of lists and search, a
tombstone ``{id, seq, hidden: true}`` in sync) and kept, with the operator's reason, for the
operator.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator
from sqlalchemy import Select, Text, cast, func, select, text
from sqlalchemy.orm import Session

from aar.hub.deps import AccountDep, OperatorDep, SessionDep, in_one_hop
from aar.hub.forum_search import like_pattern, matches, rank, words
from aar.hub.models import Account, ForumChange, Post, Scoring, Vote, utcnow
from aar.hub.state import OPERATOR

router = APIRouter(tags=["forum"])

GUIDANCE = "guidance"
ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
PG_LOCK_KEY = 0x6161_7266  # "aarf": the forum's advisory lock on PostgreSQL

Kind = Literal["result", "hypothesis", "insight", "error", "question", "guidance"]
PostId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Tag = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.-]{1,40}$")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
S = TypeVar("S", bound=Select[*tuple[Any, ...]])  # any select that involves Post


# --- schemas -------------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PostLinks(_In):
    """What a post points at: scorings (must exist) and snapshots (ids kept as given)."""

    scorings: list[StrictInt] = Field(default_factory=list, max_length=50)
    snapshots: list[PostId] = Field(default_factory=list, max_length=50)


class PostCreate(_In):
    id: PostId | None = Field(
        None, description="client-chosen id, so a retry cannot post twice; default a uuid4"
    )
    kind: Kind = Field(description="guidance is for the operator only")
    title: Title
    body: str = Field(min_length=1, max_length=50_000)
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    parent_id: PostId | None = Field(None, description="the post this one replies to")
    links: PostLinks = Field(default_factory=PostLinks)

    @field_validator("id")
    @classmethod
    def _not_dots(cls, value: str | None) -> str | None:
        if value is not None and set(value) == {"."}:
            raise ValueError("must not be only dots (it is part of the post's URL)")
        return value

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class VoteCreate(_In):
    value: StrictInt = Field(ge=-1, le=1, description="1 up, -1 down, 0 takes the vote back")


class QuarantineCreate(_In):
    reason: Reason


class PostPublic(BaseModel):
    id: str
    kind: str
    title: str
    body: str
    tags: list[str]
    parent_id: str | None
    links: PostLinks
    author: str
    score: int = Field(description="the sum of the votes")
    replies: int = Field(description="how many replies the caller can see")
    seq: int = Field(description="the number of the post's latest change (the sync cursor)")
    created_at: datetime


class PostOperator(PostPublic):
    quarantined: bool
    quarantine_reason: str | None


class PostHidden(BaseModel):
    """A quarantined post in a researcher's sync: drop it."""

    id: str
    seq: int
    hidden: Literal[True]


AnyPost = PostOperator | PostPublic  # the operator's view first: it has more fields


class ForumSync(BaseModel):
    items: list[PostOperator | PostPublic | PostHidden] = Field(description="in change order")
    cursor: int = Field(description="pass as ``since`` next time")
    more: bool = Field(description="whether more changes wait beyond ``limit``")


# --- endpoints -----------------------------------------------------------------------------


@router.post("/forum/posts", response_model=AnyPost, status_code=201)
async def create_post(body: PostCreate, request: Request) -> PostPublic:
    """Post (or reply); the answer is the stored post."""
    return await in_one_hop(request, partial(store_post, body), write=True)


def store_post(body: PostCreate, session: Session, account: Account) -> PostPublic:
    """Store ``account``'s post (the API and the operator's dashboard share this)."""
    if body.kind == GUIDANCE and not _is_operator(account):
        raise HTTPException(403, "kind 'guidance' is for the operator only")
    post_id = body.id or uuid.uuid4().hex
    seq = _next_seq(session, post_id)  # first: writers are serialised from here on
    if session.get(Post, post_id) is not None:
        raise HTTPException(409, f"a post with id {post_id!r} already exists")
    parent = _reply_target(session, body.parent_id, account)
    post = Post(
        id=post_id,
        account_id=account.id,
        kind=body.kind,
        title=body.title,
        body=body.body,
        tags=list(dict.fromkeys(body.tags)),
        parent_id=body.parent_id,
        links=_checked_links(session, body.links),
        seq=seq,
        quarantined=False,
        created_at=utcnow(),
    )
    session.add(post)
    session.flush()
    if parent is not None:  # its reply count changed
        parent.seq = _next_seq(session, parent.id)
    return _view(post, account.name, 0, 0, _is_operator(account))  # new: no votes, no replies


@router.get("/forum/posts/{post_id}", response_model=AnyPost)
def get_post(post_id: str, account: AccountDep, session: SessionDep) -> PostPublic:
    """One post with its author, score and reply count."""
    return _views(session, [_find(session, post_id, account)], account)[0]


@router.get("/forum/posts", response_model=list[AnyPost])
def list_posts(
    account: AccountDep,
    session: SessionDep,
    kind: Kind | None = None,
    tag: str | None = None,
    author: str | None = None,
    parent: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[PostPublic]:
    """Posts newest first, filtered by kind, tag, author name or the post they reply to."""
    query = _visible(select(Post), account)
    if kind is not None:
        query = query.where(Post.kind == kind)
    if tag is not None:  # tags are stored as a JSON list of plain strings: match '"tag"'
        query = query.where(cast(Post.tags, Text).like(like_pattern(f'"{tag}"'), escape="\\"))
    if author is not None:
        query = query.join(Account, Account.id == Post.account_id).where(Account.name == author)
    if parent is not None:
        query = query.where(Post.parent_id == parent)
    query = query.order_by(Post.created_at.desc(), Post.id.desc()).limit(limit)
    return _views(session, list(session.scalars(query)), account)


@router.post("/forum/posts/{post_id}/votes", response_model=AnyPost)
def vote(post_id: str, body: VoteCreate, account: AccountDep, session: SessionDep) -> PostPublic:
    """Vote a post up (1) or down (-1), or take the vote back (0); the answer has the score."""
    seq = _next_seq(session, post_id)
    post = _find(session, post_id, account)
    existing = session.get(Vote, (post.id, account.id))
    if body.value == 0:
        if existing is not None:
            session.delete(existing)
    elif existing is not None:
        existing.value = body.value
    else:
        session.add(Vote(post_id=post.id, account_id=account.id, value=body.value))
    post.seq = seq
    session.flush()
    return _views(session, [post], account)[0]


@router.get("/forum/search", response_model=list[AnyPost])
def search(
    account: AccountDep,
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[PostPublic]:
    """Posts holding every word of ``q`` (title, tags or body), best match first."""
    terms = words(q)
    if not terms:
        raise HTTPException(422, "q: the query has no words to search for")
    score = rank(terms)
    query = _visible(select(Post, score), account).where(*matches(terms))
    rows = session.execute(query.order_by(score.desc(), Post.created_at.desc()).limit(limit))
    return _views(session, [post for post, _ in rows], account)


@router.get("/forum/sync", response_model=ForumSync)
async def sync(
    request: Request,
    since: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> ForumSync:
    """Every post changed after ``since``, in change order, and the cursor to pass next."""
    return await in_one_hop(request, partial(_sync, since, limit), write=False)


def _sync(since: int, limit: int, session: Session, account: Account) -> ForumSync:
    query = select(Post).where(Post.seq > since).order_by(Post.seq).limit(limit + 1)
    posts = list(session.scalars(query))
    more, posts = len(posts) > limit, posts[:limit]
    shown = [p for p in posts if _can_see(p, account)]
    views = {view.id: view for view in _views(session, shown, account)}
    items: list[PostPublic | PostHidden] = [
        views[p.id] if p.id in views else PostHidden(id=p.id, seq=p.seq, hidden=True) for p in posts
    ]
    cursor = posts[-1].seq if posts else since
    return ForumSync(items=items, cursor=cursor, more=more)


@router.post("/forum/posts/{post_id}/quarantine", response_model=PostOperator)
def quarantine(
    post_id: str, body: QuarantineCreate, operator: OperatorDep, session: SessionDep
) -> PostPublic:
    """Hide a post from researchers (operator only); the post and the reason are kept."""
    return set_quarantine(session, post_id, operator, body.reason)


@router.post("/forum/posts/{post_id}/release", response_model=PostOperator)
def release(post_id: str, operator: OperatorDep, session: SessionDep) -> PostPublic:
    """Show a quarantined post to researchers again (operator only)."""
    return set_quarantine(session, post_id, operator, None)


# --- helpers -------------------------------------------------------------------------------


def _is_operator(account: Account) -> bool:
    return account.role == OPERATOR


def _can_see(post: Post, account: Account) -> bool:
    return not post.quarantined or _is_operator(account)


def _visible(query: S, account: Account) -> S:
    return query if _is_operator(account) else query.where(Post.quarantined.is_(False))


def _find(session: Session, post_id: str, account: Account) -> Post:
    post = session.get(Post, post_id)
    if post is None or not _can_see(post, account):
        raise HTTPException(404, f"no post with id {post_id!r}")
    return post


def _next_seq(session: Session, post_id: str) -> int:
    """Record a change to ``post_id`` and return its number, once no other writer is busy.

    On SQLite the insert takes the database's single write lock until the transaction ends;
    on PostgreSQL an advisory lock does the same for forum writers.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    change = ForumChange(post_id=post_id)
    session.add(change)
    session.flush()
    return change.id


def _reply_target(session: Session, parent_id: str | None, account: Account) -> Post | None:
    if parent_id is None:
        return None
    parent = session.get(Post, parent_id)
    if parent is None or not _can_see(parent, account):
        raise HTTPException(404, f"parent_id: no post with id {parent_id!r}")
    if parent.quarantined:
        raise HTTPException(
            422, f"parent_id: post {parent_id!r} is quarantined; it takes no replies"
        )
    return parent


def _checked_links(session: Session, links: PostLinks) -> dict[str, list[int] | list[str]]:
    scorings = list(dict.fromkeys(links.scorings))
    if not scorings:
        return {"scorings": [], "snapshots": list(dict.fromkeys(links.snapshots))}
    found = set(session.scalars(select(Scoring.id).where(Scoring.id.in_(scorings))))
    missing = [str(i) for i in scorings if i not in found]
    if missing:
        raise HTTPException(422, f"links.scorings: no scoring with id {', '.join(missing)}")
    return {"scorings": scorings, "snapshots": list(dict.fromkeys(links.snapshots))}


def set_quarantine(
    session: Session, post_id: str, operator: Account, reason: str | None
) -> PostPublic:
    """Quarantine a post with ``reason``, or release it when ``reason`` is None (the API and
    the operator's dashboard share this)."""
    seq = _next_seq(session, post_id)
    post = _find(session, post_id, operator)
    if reason is None and not post.quarantined:
        raise HTTPException(409, f"post {post_id!r} is not quarantined")
    post.quarantined, post.quarantine_reason, post.seq = reason is not None, reason, seq
    if post.parent_id is not None:  # researchers' reply count of the parent changed
        parent = session.get(Post, post.parent_id)
        if parent is not None:
            parent.seq = _next_seq(session, parent.id)
    session.flush()
    return _views(session, [post], operator)[0]


def _views(session: Session, posts: Sequence[Post], account: Account) -> list[PostPublic]:
    """Each post as ``account`` may see it, with author, score and visible reply count."""
    ids = [p.id for p in posts]
    authors = _pairs(
        session,
        select(Account.id, Account.name).where(Account.id.in_({p.account_id for p in posts})),
    )
    scores = _pairs(
        session,
        select(Vote.post_id, func.sum(Vote.value))
        .where(Vote.post_id.in_(ids))
        .group_by(Vote.post_id),
    )
    replies = _visible(select(Post.parent_id, func.count()), account)
    counts = _pairs(session, replies.where(Post.parent_id.in_(ids)).group_by(Post.parent_id))
    operator = _is_operator(account)
    return [
        _view(
            post,
            authors[post.account_id],
            int(scores.get(post.id) or 0),
            int(counts.get(post.id) or 0),
            operator,
        )
        for post in posts
    ]


def _view(post: Post, author: str, score: int, replies: int, operator: bool) -> PostPublic:
    fields = {
        "id": post.id,
        "kind": post.kind,
        "title": post.title,
        "body": post.body,
        "tags": list(post.tags or []),
        "parent_id": post.parent_id,
        "links": PostLinks.model_validate(post.links or {}),
        "author": author,
        "score": score,
        "replies": replies,
        "seq": post.seq,
        "created_at": post.created_at,
    }
    if operator:
        fields |= {"quarantined": post.quarantined, "quarantine_reason": post.quarantine_reason}
        return PostOperator.model_validate(fields)
    return PostPublic.model_validate(fields)


def _pairs(session: Session, query: Select[Any, Any]) -> dict[Any, Any]:
    """A two-column query's rows as a dict from the first column to the second."""
    return {key: value for key, value in session.execute(query)}
