"""The forum's full-text search: words of a query matched in a post's title, tags and body.

    terms = words("PGR on sst2")                   # ["pgr", "on", "sst2"]
    rows = session.execute(select(Post, rank(terms)).where(*matches(terms)))

Portable SQL (the same statements on SQLite and PostgreSQL, no extension, no migration):
every word must occur, case-insensitively, somewhere in the post (``ILIKE``; SQLite's
``lower`` folds ASCII letters only), and a post ranks higher the more of the words occur in
its title (3 points each), its tags (2) and its body (1). That is plenty at the forum's
scale of thousands of posts.
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, Integer, SQLColumnExpression, Text, case, cast, literal, or_

from aar.hub.models import Post

MAX_TERMS = 20
WEIGHTS = {"title": 3, "tags": 2, "body": 1}
_WORD = re.compile(r"\w+")


def words(query: str) -> list[str]:
    """The distinct lower-cased words of ``query``, in order, at most ``MAX_TERMS``."""
    return list(dict.fromkeys(_WORD.findall(query.lower())))[:MAX_TERMS]


def like_pattern(term: str) -> str:
    r"""``%term%`` with LIKE's wildcards escaped (the escape character is ``\``)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fields() -> dict[str, SQLColumnExpression[str]]:
    return {"title": Post.title, "tags": cast(Post.tags, Text), "body": Post.body}


def matches(terms: list[str]) -> list[ColumnElement[bool]]:
    """One condition per word: it occurs in the title, the tags or the body."""
    fields = list(_fields().values())
    return [or_(*(f.ilike(like_pattern(t), escape="\\") for f in fields)) for t in terms]


def rank(terms: list[str]) -> ColumnElement[int]:
    """Title, tag and body hits of every word, weighted by ``WEIGHTS``."""
    total: ColumnElement[int] = literal(0, Integer)
    for term in terms:
        pattern = like_pattern(term)
        for name, field in _fields().items():
            hit = case((field.ilike(pattern, escape="\\"), WEIGHTS[name]), else_=0)
            total = total + hit
    return total.label("rank")
