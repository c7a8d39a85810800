"""Tokens: random bearer strings handed out once; the hub stores only their sha256."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "aar_"
OPERATOR_COOKIE = "aar_operator"  # the dashboard's login cookie: the operator's token


def bearer(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value; None for another scheme.

    The one parser of the header: authentication and the rate limits must agree on what the
    token is, or variants of one token (other trailing whitespace) would be different callers."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
