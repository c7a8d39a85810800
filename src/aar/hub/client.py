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

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from aar.hub.schemas import (
    AccountCreated,
    AccountOperator,
    AccountPublic,
    AuditEntryOperator,
    LeaderboardRowOperator,
    ScoringOperator,
    SubmissionPublic,
    TaskCreate,
    TaskPublic,
)

M = TypeVar("M", bound=BaseModel)
RETRY_STATUS = {502, 503, 504}
SAFE_TO_RESEND = (httpx.ConnectError, httpx.ConnectTimeout)


class HubError(Exception):
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

    def close(self) -> None:
        self.http.close()

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
        self, name: str, per_hour: int | None = None, total: int | None = None
    ) -> AccountCreated:
        body = {"name": name, "per_hour": per_hour, "total": total}
        return AccountCreated.model_validate(self.request("POST", "/accounts", json=body).json())

    def accounts(self) -> list[AccountOperator]:
        return self._list(AccountOperator, "/accounts")

    def update_account(self, name: str, **changes: Any) -> AccountOperator:
        return AccountOperator.model_validate(
            self.request("PATCH", f"/accounts/{name}", json=changes).json()
        )

    # --- tasks and scoring ----------------------------------------------------------------------

    def register_task(self, task: TaskCreate) -> TaskPublic:
        return TaskPublic.model_validate(
            self.request("POST", "/tasks", json=task.model_dump()).json()
        )

    def tasks(self) -> list[TaskPublic]:
        return self._list(TaskPublic, "/tasks")

    def task(self, name: str) -> TaskPublic:
        return self._get(TaskPublic, f"/tasks/{name}")

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
        self, task: str | None = None, flagged: bool | None = None
    ) -> list[ScoringOperator]:
        params = {k: v for k, v in {"task": task, "flagged": flagged}.items() if v is not None}
        return self._list(ScoringOperator, "/scorings", params=params)

    def leaderboard(self, task: str, view: str = "public") -> list[LeaderboardRowOperator]:
        """Rows of the leaderboard; operator-only fields are absent for researchers."""
        rows = self.request("GET", f"/tasks/{task}/leaderboard", params={"view": view}).json()
        return [LeaderboardRowOperator.model_construct(**row) for row in rows]

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
