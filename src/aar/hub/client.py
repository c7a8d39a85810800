"""A typed Python client for the hub, used by researchers, the CLI and the campaign.

    hub = HubClient("http://127.0.0.1:8765", token)          # or HubClient.unix(path, token)
    task = hub.task("geofacts")
    result = hub.submit("geofacts", predictions, method="confident", seed=0)
    print(result.public_pgr, result.budget.used_this_hour)

Transient failures (connection errors, 502/503/504) are retried with exponential backoff;
a POST is retried only when the request cannot have reached the server. Every other 4xx or
5xx answer raises ``HubError`` carrying the status and the hub's ``detail``; HTTP 429 raises
``BudgetExceededError`` with the time the budget resets.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from aar.core.errors import AarError, ConfigError
from aar.hub.archives import pack, safe_extract
from aar.hub.schemas import (
    AccountCreated,
    AccountOperator,
    AccountPublic,
    AuditEntryOperator,
    EvaluationOperator,
    FinalPublic,
    GatewayUpstream,
    LeaderboardRowOperator,
    LeaderboardRowPublic,
    ModelCallDetail,
    ModelCallPublic,
    ModelSpend,
    RankingRowOperator,
    ScoringDetailOperator,
    ScoringOperator,
    SnapshotOperator,
    SnapshotPublic,
    SubmissionPublic,
    TaskCreate,
    TaskPublic,
)

M = TypeVar("M", bound=BaseModel)
RETRY_STATUS = {502, 503, 504}
SAFE_TO_RESEND = (httpx.ConnectError, httpx.ConnectTimeout)


class HubError(AarError):
    """The hub refused a request; ``status`` and ``detail`` say why."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"hub answered {status}: {detail}")
        self.status, self.detail = status, detail


class BudgetExceededError(HubError):
    def __init__(self, detail: str, resets_at: datetime | None) -> None:
        super().__init__(429, detail)
        self.resets_at = resets_at


class HubClient:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        retries: int = 3,
        backoff: float = 0.2,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = http or httpx.Client(base_url=base_url, timeout=timeout)
        self.http.headers.update(headers)
        self.retries, self.backoff = retries, backoff

    @classmethod
    def unix(cls, socket_path: str, token: str | None = None, **kwargs: Any) -> HubClient:
        """A client that reaches the hub through its Unix socket."""
        transport = httpx.HTTPTransport(uds=socket_path)
        http = httpx.Client(
            base_url="http://hub", transport=transport, timeout=kwargs.pop("timeout", 30.0)
        )
        return cls("http://hub", token, http=http, **kwargs)

    @classmethod
    def from_url(cls, url: str, token: str | None = None, **kwargs: Any) -> HubClient:
        """A client for ``unix:/path/to/hub.sock`` or an ``http(s)://`` URL."""
        if url.startswith("unix:"):
            return cls.unix(url.removeprefix("unix:"), token, **kwargs)
        if url.startswith(("http://", "https://")):
            return cls(url, token, **kwargs)
        raise ConfigError(f"hub URL {url!r} is neither unix:/path/to/hub.sock nor an http URL")

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.TransportError as error:
                if last or (method != "GET" and not isinstance(error, SAFE_TO_RESEND)):
                    raise
            else:
                if response.status_code not in RETRY_STATUS or last:
                    return _checked(response)
            time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def _get(self, model: type[M], path: str, **kwargs: Any) -> M:
        return model.model_validate(self.request("GET", path, **kwargs).json())

    def _list(self, model: type[M], path: str, **kwargs: Any) -> list[M]:
        return TypeAdapter(list[model]).validate_python(self.request("GET", path, **kwargs).json())  # type: ignore[valid-type]

    # --- accounts ------------------------------------------------------------------------------

    def me(self) -> AccountPublic:
        return self._get(AccountPublic, "/me")

    def create_researcher(
        self,
        name: str,
        per_hour: int | None = None,
        total: int | None = None,
        model_dollars: float | None = None,
        model_tokens: int | None = None,
    ) -> AccountCreated:
        body = {"name": name, "per_hour": per_hour, "total": total,
                "model_dollars": model_dollars, "model_tokens": model_tokens}  # fmt: skip
        return AccountCreated.model_validate(self.request("POST", "/accounts", json=body).json())

    def rotate_token(self, name: str) -> AccountCreated:
        """A new token for researcher ``name``; its old token stops working."""
        return AccountCreated.model_validate(self.request("POST", f"/accounts/{name}/token").json())

    def accounts(self) -> list[AccountOperator]:
        return self._list(AccountOperator, "/accounts")

    def update_account(self, name: str, **changes: Any) -> AccountOperator:
        return AccountOperator.model_validate(
            self.request("PATCH", f"/accounts/{name}", json=changes).json()
        )

    # --- the LLM gateway -------------------------------------------------------------------------

    def model_usage(self) -> ModelSpend:
        """The caller's own model spend through the gateway, and its limits."""
        return self._get(ModelSpend, "/llm/usage")

    def model_upstreams(self) -> list[GatewayUpstream]:
        """Operator: the gateway's upstreams and their models (empty: the hub has none)."""
        return self._list(GatewayUpstream, "/llm/upstreams")

    def model_calls(
        self, researcher: str | None = None, after: int = 0, limit: int = 100
    ) -> list[ModelCallPublic]:
        """Operator: model calls with an id above ``after``, oldest first."""
        params: dict[str, Any] = {"after": after, "limit": limit}
        if researcher is not None:
            params["researcher"] = researcher
        return self._list(ModelCallPublic, "/llm/calls", params=params)

    def model_call(self, call_id: int) -> ModelCallDetail:
        """Operator: one model call with its request and response bodies."""
        return self._get(ModelCallDetail, f"/llm/calls/{call_id}")

    # --- tasks and scoring ----------------------------------------------------------------------

    def register_task(self, task: TaskCreate) -> TaskPublic:
        return TaskPublic.model_validate(
            self.request("POST", "/tasks", json=task.model_dump()).json()
        )

    def tasks(self) -> list[TaskPublic]:
        return self._list(TaskPublic, "/tasks")

    def task(self, name: str) -> TaskPublic:
        return self._get(TaskPublic, f"/tasks/{name}")

    def evaluate(
        self, task: str, predictions: Sequence[int], seed: int | None = None
    ) -> EvaluationOperator:
        """Exact public, private and whole-set scores of ``predictions`` (operator only; not
        stored), against ``seed``'s weak and ceiling when given, else their means."""
        body: dict[str, Any] = {"predictions": [int(p) for p in predictions], "seed": seed}
        return EvaluationOperator.model_validate(
            self.request("POST", f"/tasks/{task}/evaluate", json=body).json()
        )

    def submit(
        self,
        task: str,
        predictions: Sequence[int],
        method: str,
        *,
        description: str = "",
        seed: int = 0,
        snapshot_id: str | None = None,
    ) -> SubmissionPublic:
        body = {
            "predictions": [p.item() if hasattr(p, "item") else p for p in predictions],
            "method": method,
            "description": description,
            "seed": seed,
            "snapshot_id": snapshot_id,
        }
        return SubmissionPublic.model_validate(
            self.request("POST", f"/tasks/{task}/submissions", json=body).json()
        )

    def scorings(
        self,
        task: str | None = None,
        flagged: bool | None = None,
        quarantined: bool | None = None,
        page: int = 5000,
    ) -> list[ScoringOperator]:
        """Every scoring, newest first (operator only), optionally only (un)flagged or
        quarantined; fetched ``page`` at a time (the hub answers at most 5,000 a request)."""
        filters = {"task": task, "flagged": flagged, "quarantined": quarantined, "limit": page}
        params = {k: v for k, v in filters.items() if v is not None}
        found: list[ScoringOperator] = []
        while True:
            more = self._list(ScoringOperator, "/scorings", params=params)
            found += more
            if len(more) < page:
                return found
            params["before"] = more[-1].id

    def scoring(self, scoring_id: int) -> ScoringDetailOperator:
        """One scoring with its prediction vector (operator only)."""
        return self._get(ScoringDetailOperator, f"/scorings/{scoring_id}")

    def clear_scoring(self, scoring_id: int, reason: str) -> ScoringOperator:
        """Lift a scoring's quarantine (operator only); its flag stays visible."""
        response = self.request("POST", f"/scorings/{scoring_id}/clear", json={"reason": reason})
        return ScoringOperator.model_validate(response.json())

    def declare_final(self, task: str, scoring_id: int) -> FinalPublic:
        """Declare one of your scorings final: the ranking takes its group."""
        body = {"scoring_id": int(scoring_id)}
        response = self.request("POST", f"/tasks/{task}/final", json=body)
        return FinalPublic.model_validate(response.json())

    def ranking(self, task: str) -> list[RankingRowOperator]:
        """The final ranking (operator only): each researcher's chosen group, by private PGR."""
        return self._list(RankingRowOperator, f"/tasks/{task}/ranking")

    def leaderboard(self, task: str, view: str = "public") -> list[LeaderboardRowPublic]:
        """Rows of the leaderboard; ``view="private"`` (operator) gives LeaderboardRowOperator."""
        rows = self.request("GET", f"/tasks/{task}/leaderboard", params={"view": view}).json()
        kind = LeaderboardRowOperator if view == "private" else LeaderboardRowPublic
        return [kind.model_validate(row) for row in rows]

    def private_leaderboard(self, task: str) -> list[LeaderboardRowOperator]:
        """The operator's leaderboard: public and private PGR and flags per row."""
        rows = self.request("GET", f"/tasks/{task}/leaderboard", params={"view": "private"}).json()
        return [LeaderboardRowOperator.model_validate(row) for row in rows]

    # --- audit ---------------------------------------------------------------------------------

    def record_tool_call(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        result_summary: str = "",
        tokens: int = 0,
        wall_ms: float = 0.0,
    ) -> int:
        body = {
            "tool": tool,
            "arguments": dict(arguments),
            "result_summary": result_summary,
            "tokens": tokens,
            "wall_ms": wall_ms,
        }
        return int(self.request("POST", "/audit/tool-calls", json=body).json()["id"])

    def audit(
        self, after: int = 0, actor: str | None = None, kind: str | None = None
    ) -> list[AuditEntryOperator]:
        params = {
            k: v for k, v in {"after": after, "actor": actor, "kind": kind}.items() if v is not None
        }
        return self._list(AuditEntryOperator, "/audit", params=params)

    def export_audit(self) -> Iterator[str]:
        yield from self.request("GET", "/audit/export").text.splitlines()

    # --- snapshots -----------------------------------------------------------------------------
    def upload_snapshot(
        self,
        folder: Path | bytes,
        parent_id: str | None = None,
        note: str = "",
        exclude: Sequence[str] = (),
    ) -> SnapshotPublic:
        """Share a workspace: ``folder`` is packed (``archives.pack``), or bytes of a tar.gz
        are sent as they are; ``parent_id`` is the snapshot this one continues."""
        data = folder if isinstance(folder, bytes) else pack(folder, exclude)
        params = {k: v for k, v in {"parent_id": parent_id, "note": note}.items() if v}
        response = self.request(
            "POST",
            "/snapshots",
            content=data,
            params=params,
            headers={"Content-Type": "application/gzip"},
        )
        return SnapshotPublic.model_validate(response.json())

    def snapshot(self, snapshot_id: str) -> SnapshotPublic:
        return self._get(SnapshotPublic, f"/snapshots/{snapshot_id}")

    def snapshots(self, author: str | None = None, limit: int = 100) -> list[SnapshotPublic]:
        """Snapshots, newest first, optionally only one author's."""
        params = {k: v for k, v in {"author": author, "limit": limit}.items() if v is not None}
        return self._list(SnapshotPublic, "/snapshots", params=params)

    def flagged_snapshots(self, limit: int = 1000) -> list[SnapshotOperator]:
        """Snapshots the upload scan flagged, newest first, with the reason (operator only)."""
        params = {"flagged": True, "limit": limit}
        return self._list(SnapshotOperator, "/snapshots", params=params)

    def lineage(self, snapshot_id: str) -> list[SnapshotPublic]:
        """The snapshot, then its parent, its parent's parent, and so on."""
        return self._list(SnapshotPublic, f"/snapshots/{snapshot_id}/lineage")

    def snapshot_archive(self, snapshot_id: str) -> bytes:
        """The snapshot's tar.gz bytes, checked against the sha256 the hub recorded."""
        expected = self.snapshot(snapshot_id).sha256
        data = self.request("GET", f"/snapshots/{snapshot_id}/archive").content
        if hashlib.sha256(data).hexdigest() != expected:
            raise HubError(502, f"snapshot {snapshot_id} arrived corrupted (sha256 mismatch)")
        return data

    def download_snapshot(self, snapshot_id: str, dest: Path) -> Path:
        """Extract the snapshot into ``dest`` (made if missing) with ``archives.safe_extract``."""
        safe_extract(self.snapshot_archive(snapshot_id), dest)
        return dest

    # --- forum ---------------------------------------------------------------------------------
    # Posts come back as the hub's JSON (dicts): PostPublic for researchers, PostOperator
    # (with ``quarantined`` and ``quarantine_reason``) for the operator.

    def post(
        self,
        kind: str,
        title: str,
        body: str,
        *,
        tags: Sequence[str] = (),
        parent_id: str | None = None,
        scorings: Sequence[int] = (),
        snapshots: Sequence[str] = (),
        post_id: str | None = None,
    ) -> dict[str, Any]:
        """Post (a reply when ``parent_id`` is given); pass ``post_id`` to make retries safe."""
        payload: dict[str, Any] = {
            "kind": kind,
            "title": title,
            "body": body,
            "tags": list(tags),
            "parent_id": parent_id,
            "links": {"scorings": [int(s) for s in scorings], "snapshots": list(snapshots)},
        }
        if post_id is not None:
            payload["id"] = post_id
        result: dict[str, Any] = self.request("POST", "/forum/posts", json=payload).json()
        return result

    def get_post(self, post_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/forum/posts/{post_id}").json()
        return result

    def list_posts(
        self,
        *,
        kind: str | None = None,
        tag: str | None = None,
        author: str | None = None,
        parent: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Posts newest first, filtered by kind, tag, author or the post they reply to."""
        filters = {"kind": kind, "tag": tag, "author": author, "parent": parent, "limit": limit}
        params = {k: v for k, v in filters.items() if v is not None}
        result: list[dict[str, Any]] = self.request("GET", "/forum/posts", params=params).json()
        return result

    def vote(self, post_id: str, value: int) -> dict[str, Any]:
        """1 up, -1 down, 0 takes the vote back; returns the post with its new score."""
        result: dict[str, Any] = self.request(
            "POST", f"/forum/posts/{post_id}/votes", json={"value": value}
        ).json()
        return result

    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Posts holding every word of ``query``, best match first."""
        params: dict[str, Any] = {"q": query, "limit": limit}
        result: list[dict[str, Any]] = self.request("GET", "/forum/search", params=params).json()
        return result

    def sync(self, since: int = 0, limit: int = 500) -> dict[str, Any]:
        """``{"items": [...], "cursor": n, "more": bool}``: posts changed after ``since``.

        Pass ``cursor`` as ``since`` next time; an item ``{"id", "seq", "hidden": True}`` is a
        post the operator quarantined: drop it.
        """
        params = {"since": since, "limit": limit}
        result: dict[str, Any] = self.request("GET", "/forum/sync", params=params).json()
        return result

    def quarantine(self, post_id: str, reason: str) -> dict[str, Any]:
        """Hide a post from researchers, keeping it and the reason (operator only)."""
        result: dict[str, Any] = self.request(
            "POST", f"/forum/posts/{post_id}/quarantine", json={"reason": reason}
        ).json()
        return result

    def release(self, post_id: str) -> dict[str, Any]:
        """Show a quarantined post to researchers again (operator only)."""
        result: dict[str, Any] = self.request("POST", f"/forum/posts/{post_id}/release").json()
        return result


def _checked(response: httpx.Response) -> httpx.Response:
    if response.status_code < 400:
        return response
    try:
        body = response.json()
        detail = str(body.get("detail", body)) if isinstance(body, dict) else str(body)
    except ValueError:
        body, detail = {}, response.text or response.reason_phrase
    if response.status_code == 429:
        resets = body.get("resets_at") if isinstance(body, dict) else None
        raise BudgetExceededError(detail, datetime.fromisoformat(resets) if resets else None)
    raise HubError(response.status_code, detail)
