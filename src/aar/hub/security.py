"""Tokens: random bearer strings handed out once; the hub stores only their sha256."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "aar_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
