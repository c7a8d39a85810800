"""Rate limits: token buckets per caller, and the audit of what they refused.

    limits = RateLimits.from_settings(settings, exempt=frozenset({"operator"}))
    caller = limits.identify(headers, peer)           # no database: the token's sha256
    refusal = limits.admit(caller, "POST", "/forum/posts")   # None, or why and for how long
    limits.learn(caller, "alice")                     # after a request authenticated as alice
    rows = limits.tally.rows(everything=True)         # audit rows of the refusals so far

Every request takes a token from its caller's **request** bucket (``rate_limit_per_second``,
bursts of ``rate_limit_burst``); forum posts and replies, and forum votes, also take one from
the caller's **forum** buckets (``forum_posts_per_minute``, ``forum_votes_per_minute``, each
with a minute's worth as its burst). An empty bucket refuses with a ``Refusal`` (the
middleware answers 429 with Retry-After) before any database work.

Who the caller is: the rate limits know each account's token hash (``know``: every account at
the hub's start, each new or rotated token at once; ``learn``: a token another hub process
made, once it authenticates), so nothing is looked up per request, and a known token's caller
is keyed by its account's name. A token the hub does not know (maybe invented) is keyed by its
sha256 and also takes a token from its peer address's bucket, which it shares with callers
without a token (all Unix-socket callers are one peer): a flood of invented tokens throttles
only unknown traffic from its own peer, never an account the hub knows. The token is read by
the same parser as authentication (``security.bearer``), so variants of one token are one
caller. The operator is never limited: the campaign supervisor polls.

Refused requests are not audited one by one: ``RefusalTally`` sums them into one
``rate_limited`` audit row per caller per ``rate_limit_audit_seconds`` (count, which limits,
first and last request), written when the interval ends or when the log is flushed.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aar.hub.models import utcnow
from aar.hub.security import OPERATOR_COOKIE, bearer, hash_token
from aar.hub.settings import HubSettings

MAX_KEYS = 10_000  # buckets kept before full (idle) ones are dropped


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; each request takes one."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), now

    def take(self, now: float) -> float:
        """0.0 when a token was taken, else the seconds until one is there."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate

    def full(self, now: float) -> bool:
        return self.tokens + (now - self.stamp) * self.rate >= self.burst


@dataclass(frozen=True)
class Limit:
    name: str
    rate: float  # tokens per second
    burst: int
    wording: str  # "50 requests per second (bursts of 500)"


class Buckets:
    """One ``TokenBucket`` per key for one ``Limit``; thread-safe (test clients use threads)."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float) -> float:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_KEYS:
                    self._drop_full(now)
                bucket = self._buckets[key] = TokenBucket(self.limit.rate, self.limit.burst, now)
            return bucket.take(now)

    def _drop_full(self, now: float) -> None:
        """Forget buckets that have refilled: a new bucket would be the same."""
        for key in [k for k, b in self._buckets.items() if b.full(now)]:
            del self._buckets[key]


@dataclass(frozen=True)
class Caller:
    key: str  # "account:<name>" for a known token, "token:<sha256>" unknown, "peer:<address>"
    actor: str  # the account's name, or "anonymous"
    token_hash: str | None
    peer: str
    gate: str | None = None  # a token not yet seen valid also needs its peer's bucket
    exempt: bool = False


@dataclass(frozen=True)
class Refusal:
    limit: Limit
    retry_after: float  # seconds
    key: str  # the bucket that was empty

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after)))

    def body(self) -> dict[str, Any]:
        resets = utcnow() + timedelta(seconds=self.retry_after)
        return {
            "detail": (
                f"too many requests: the hub allows {self.limit.wording}; "
                f"retry after {self.retry_after_header} s"
            ),
            "resets_at": resets.isoformat(),
            "retry_after": int(self.retry_after_header),
        }


@dataclass
class _Window:
    actor: str
    first_at: datetime
    started: float
    first_action: str
    peer: str
    refused: int = 0
    limits: Counter[str] = field(default_factory=Counter)
    last_action: str = ""


class RefusalTally:
    """Refused requests summed per actor into one audit row per ``interval`` seconds."""

    def __init__(self, interval: float, clock: Any = time.monotonic) -> None:
        self.interval, self.clock = interval, clock
        self.total = 0
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()
        self._looked = clock()  # when ended windows were last looked for

    def add(self, caller: Caller, action: str, refusal: Refusal) -> list[dict[str, Any]]:
        """Count one refusal; the rows of windows that have ended (to record now)."""
        now = self.clock()
        with self._lock:
            self.total += 1
            window = self._windows.get(refusal.key)  # a peer's refusals are one row
            if window is None:
                window = _Window(caller.actor, utcnow(), now, action, caller.peer)
                self._windows[refusal.key] = window
            window.refused += 1
            window.limits[refusal.limit.name] += 1
            window.last_action = action
            if now - self._looked < 1.0:  # a flood refuses thousands a second: look once
                return []
            self._looked = now
        return self.rows(now=now)

    def rows(self, everything: bool = False, now: float | None = None) -> list[dict[str, Any]]:
        """Audit rows of the windows that have ended (all of them with ``everything``)."""
        now = self.clock() if now is None else now
        with self._lock:
            ended = [
                key
                for key, window in self._windows.items()
                if everything or now - window.started >= self.interval
            ]
            return [_row(self._windows.pop(key)) for key in ended]


def _row(window: _Window) -> dict[str, Any]:
    return {
        "actor": window.actor[:64],
        "kind": "rate_limited",
        "action": f"{window.refused} request(s) refused, first {window.first_action}"[:256],
        "status": 429,
        "duration_ms": 0.0,
        "at": window.first_at,
        "detail": {
            "refused": window.refused,
            "limits": dict(window.limits),
            "first": window.first_action,
            "last": window.last_action,
            "peer": window.peer,
        },
    }


class RateLimits:
    """The hub's limits, its buckets, the tokens it has seen authenticate, and the tally."""

    def __init__(
        self,
        requests: Limit,
        posts: Limit,
        votes: Limit,
        audit_seconds: float,
        exempt: frozenset[str] = frozenset(),
    ) -> None:
        self.requests, self.posts, self.votes = Buckets(requests), Buckets(posts), Buckets(votes)
        self.tally = RefusalTally(audit_seconds)
        self.exempt = exempt  # account names never limited (the operator)
        self._known: dict[str, str] = {}  # token sha256 → account name
        self._known_guard = threading.Lock()

    @classmethod
    def from_settings(cls, settings: HubSettings, exempt: frozenset[str]) -> RateLimits:
        rate, burst = settings.rate_limit_per_second, settings.rate_limit_burst
        posts, votes = settings.forum_posts_per_minute, settings.forum_votes_per_minute
        return cls(
            Limit("requests", rate, burst, f"{rate:g} requests per second (bursts of {burst})"),
            Limit("forum posts", posts / 60, posts, f"{posts} forum posts and replies a minute"),
            Limit("forum votes", votes / 60, votes, f"{votes} forum votes a minute"),
            settings.rate_limit_audit_seconds,
            exempt,
        )

    def identify(self, headers: list[tuple[bytes, bytes]], peer: str) -> Caller:
        token = _token(headers)
        if token is None:
            return Caller(f"peer:{peer}", "anonymous", None, peer)
        digest = hash_token(token)
        name = self._known.get(digest)
        if name is None:  # maybe invented: its peer's bucket pays too, so a flood of them stops
            return Caller(f"token:{digest}", "anonymous", digest, peer, gate=f"peer:{peer}")
        return Caller(f"account:{name}", name, digest, peer, exempt=name in self.exempt)

    def know(self, token_hash: str, name: str, replaces: str | None = None) -> None:
        """``token_hash`` is ``name``'s token (``replaces``: the hash it had before, now void)."""
        with self._known_guard:
            if replaces is not None:
                self._known.pop(replaces, None)
            self._known[token_hash] = name

    def learn(self, caller: Caller, actor: str | None) -> None:
        """Remember that ``caller``'s token authenticated as ``actor`` (made elsewhere)."""
        digest = caller.token_hash
        if digest is not None and actor not in (None, "", "anonymous", self._known.get(digest)):
            self.know(digest, actor)

    def admit(self, caller: Caller, method: str, path: str) -> Refusal | None:
        if caller.exempt:
            return None
        now = time.monotonic()
        keys = (caller.key,) if caller.gate is None else (caller.gate, caller.key)
        forum = self._forum_buckets(method, path)
        checks = [(self.requests, key) for key in keys]
        for buckets, key in checks + ([(forum, caller.key)] if forum else []):
            if wait := buckets.take(key, now):
                return Refusal(buckets.limit, wait, key)
        return None

    def _forum_buckets(self, method: str, path: str) -> Buckets | None:
        if method != "POST" or not path.startswith("/forum/posts"):
            return None
        rest = path.removeprefix("/forum/posts").strip("/")
        if not rest:
            return self.posts
        parts = rest.split("/")
        return self.votes if len(parts) == 2 and parts[1] == "votes" else None


def _token(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The bearer token, else the dashboard's operator cookie; None without either. Header
    values are read as Latin-1, as the web framework reads them for authentication."""
    cookie = None
    for name, value in headers:
        if name == b"authorization":
            if (token := bearer(value.decode("latin-1"))) is not None:
                return token
        elif name == b"cookie":
            cookie = _cookie(value.decode("latin-1"), OPERATOR_COOKIE)
    return cookie


def _cookie(header: str, wanted: str) -> str | None:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == wanted and value:
            return value.strip('"')
    return None
