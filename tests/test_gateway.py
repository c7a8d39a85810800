"""The hub's LLM gateway with the official clients: forwarding, metering, budgets, refusals."""

from __future__ import annotations

from pathlib import Path

import anthropic
import openai
import pytest

from aar.core.errors import ConfigError
from aar.core.prices import PriceTable
from aar.core.usage import Usage
from aar.hub.client import HubError
from aar.hub.gateway.config import FleetLimits, load_gateway
from aar.researchers.providers.wire import FakeReply, FakeToolCall
from tests.gatewaykit import KEY_ENV, UPSTREAM_KEY, gateway_world

HI = [{"role": "user", "content": "hi"}]
OPUS = "claude-opus-4-6"


def test_a_call_is_forwarded_with_the_upstream_key_and_metered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    usage = Usage(input_tokens=1000, output_tokens=200, cache_read_tokens=5000)
    with gateway_world(tmp_path, monkeypatch) as world:
        token = world.hub.operator.create_researcher("r1").token
        world.vendor.add(FakeReply(text="hello", usage=usage))
        reply = world.anthropic(token).messages.create(model=OPUS, max_tokens=64, messages=HI)
        [sent] = world.vendor.requests
        [call] = world.hub.operator.model_calls()
        detail = world.hub.operator.model_call(call.id)
        spend = world.hub.as_token(token).model_usage()
        account = {a.name: a for a in world.hub.operator.accounts()}["r1"]
    assert reply.content[0].text == "hello"  # type: ignore[union-attr]
    # the upstream sees the hub's key, never the researcher's token
    assert sent.headers["x-api-key"] == UPSTREAM_KEY
    assert token not in str(sent.headers)
    assert sent.headers["anthropic-version"]  # the client's headers pass through
    expected = PriceTable.default().cost(OPUS, usage)
    assert (call.researcher, call.model, call.status, call.metered) == ("r1", OPUS, 200, "reported")
    assert (call.input_tokens, call.output_tokens, call.cache_read_tokens) == (1000, 200, 5000)
    assert call.cost_usd == pytest.approx(expected)
    assert (spend.dollars, spend.tokens, spend.calls) == (pytest.approx(expected), 6200, 1)
    assert account.model is not None
    assert account.model.dollars == pytest.approx(expected)
    # the bodies are stored: the request as sent, the reply as received
    assert detail.request["messages"] == HI
    assert detail.response["content"][0]["text"] == "hello"


def test_a_bearer_key_and_the_openai_api_work_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gateway_world(tmp_path, monkeypatch) as world:
        token = world.hub.operator.create_researcher("r1").token
        world.vendor.add(
            FakeReply(text="ok"), FakeReply(tool_calls=(FakeToolCall("shell", {"command": "ls"}),))
        )
        raw = world.raw().post(
            "/llm/claude/v1/messages",
            headers={"authorization": f"Bearer {token}", "anthropic-version": "2023-06-01"},
            json={"model": OPUS, "max_tokens": 10, "messages": HI},
        )
        completion = world.openai(token).chat.completions.create(
            model="qwen",
            messages=HI,  # type: ignore[list-item]
        )
        sent = world.vendor.requests
        calls = world.hub.operator.model_calls(researcher="r1")
    assert raw.status_code == 200
    assert raw.json()["content"][0]["text"] == "ok"
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "shell"  # type: ignore[union-attr]
    assert sent[1].headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert [(c.upstream, c.status) for c in calls] == [("claude", 200), ("local", 200)]


def test_a_spent_budget_refuses_before_forwarding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = Usage(input_tokens=100_000, output_tokens=10_000)  # $0.75 on Opus 4.6
    with gateway_world(tmp_path, monkeypatch) as world:
        op = world.hub.operator
        poor = op.create_researcher("poor", model_dollars=0.5).token
        other = op.create_researcher("other", model_tokens=1_000_000).token
        world.vendor.add(FakeReply(usage=big), FakeReply(usage=big))
        world.anthropic(poor).messages.create(model=OPUS, max_tokens=64, messages=HI)
        with pytest.raises(anthropic.APIStatusError) as refused:
            world.anthropic(poor).messages.create(model=OPUS, max_tokens=64, messages=HI)
        # another researcher's budget is its own: poor's token never spends it
        world.anthropic(other).messages.create(model=OPUS, max_tokens=64, messages=HI)
        forwarded = len(world.vendor.requests)
        spends = {a.name: a.model for a in op.accounts() if a.model is not None}
        refusals = [c for c in op.model_calls() if c.status >= 400]
    error = refused.value
    assert error.status_code == 402
    assert error.response.headers["x-should-retry"] == "false"
    body = error.response.json()
    assert body["error"]["type"] == "billing_error"
    assert "poor's model budget of $0.50 is spent ($0.75 used)" in body["error"]["message"]
    assert forwarded == 2  # the refused call never reached the upstream
    assert spends["poor"].dollars == pytest.approx(0.75)
    assert spends["other"].tokens == 110_000
    assert [(c.researcher, c.status, c.cost_usd) for c in refusals] == [("poor", 402, 0.0)]


def test_fleet_limits_and_the_openai_refusal_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = FleetLimits(tokens=1000)
    with gateway_world(tmp_path, monkeypatch, fleet=fleet) as world:
        a = world.hub.operator.create_researcher("a").token
        b = world.hub.operator.create_researcher("b").token
        world.vendor.add(FakeReply(usage=Usage(input_tokens=900, output_tokens=200)))
        world.openai(a).chat.completions.create(model="qwen", messages=HI)  # type: ignore[list-item]
        with pytest.raises(openai.RateLimitError) as refused:
            world.openai(b).chat.completions.create(model="qwen", messages=HI)  # type: ignore[list-item]
    body = refused.value.response.json()["error"]
    assert body["code"] == "insufficient_quota"
    assert "fleet's model budget of 1000 tokens is spent (1100 used)" in body["message"]


@pytest.mark.parametrize(
    ("send", "status", "kind", "says"),
    [
        ({"content": b"{not json"}, 400, "invalid_request_error", "not valid JSON"),
        ({"json": ["a", "list"]}, 400, "invalid_request_error", "must be a JSON object"),
        ({"json": {"messages": HI}}, 400, "invalid_request_error", "model: a model name"),
        ({"json": {"model": OPUS}}, 400, "invalid_request_error", "messages: a list"),
        (
            {"json": {"model": "claude-3-opus", "messages": HI}},
            403,
            "permission_error",
            "not offered through upstream 'claude'",
        ),
        (
            {"json": {"model": OPUS, "messages": HI}, "key": "wrong"},
            401,
            "authentication_error",
            "invalid key",
        ),
        (
            {"json": {"model": OPUS, "messages": HI}, "key": ""},
            401,
            "authentication_error",
            "no key",
        ),
        ({"content": b"x" * 5000}, 413, "request_too_large", "larger than the limit"),
        (
            {"json": {"model": OPUS, "messages": HI}, "path": "/llm/nope/v1/messages"},
            404,
            "not_found_error",
            "no upstream 'nope'",
        ),
        (
            {"json": {"model": OPUS, "messages": HI}, "path": "/llm/claude/v1/files"},
            404,
            "not_found_error",
            "does not forward /v1/files",
        ),
    ],
)
def test_bad_requests_get_a_vendor_shaped_4xx_and_lose_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    send: dict[str, object],
    status: int,
    kind: str,
    says: str,
) -> None:
    with gateway_world(tmp_path, monkeypatch, max_body_bytes=4096) as world:
        token = world.hub.operator.create_researcher("r1").token
        world.vendor.add(FakeReply(usage=Usage(input_tokens=10, output_tokens=5)))
        world.anthropic(token).messages.create(model=OPUS, max_tokens=8, messages=HI)
        before = world.hub.as_token(token).model_usage()
        key = send.pop("key", token)
        path = str(send.pop("path", "/llm/claude/v1/messages"))
        answer = world.raw().post(path, headers={"x-api-key": str(key)}, **send)  # type: ignore[arg-type]
        after = world.hub.as_token(token).model_usage()
        forwarded = len(world.vendor.requests)
        stored = world.hub.operator.model_call(1)
    assert answer.status_code == status
    assert answer.json()["error"]["type"] == kind
    assert says in answer.json()["error"]["message"]
    assert forwarded == 1  # only the good call reached the upstream
    assert (after.dollars, after.tokens, after.calls) == (before.dollars, before.tokens, 1)
    assert stored.status == 200
    assert stored.response is not None


def test_paused_stopped_and_operator_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gateway_world(tmp_path, monkeypatch) as world:
        op = world.hub.operator
        paused = op.create_researcher("paused").token
        stopped = op.create_researcher("stopped").token
        op.update_account("paused", status="paused")
        op.update_account("stopped", status="stopped")
        answers = {
            who: world.raw().post(
                "/llm/claude/v1/messages", headers={"x-api-key": key},
                json={"model": OPUS, "max_tokens": 8, "messages": HI},
            )
            for who, key in (("paused", paused), ("stopped", stopped),
                             ("operator", world.hub.operator_token))
        }  # fmt: skip
    assert world.vendor.requests == []
    assert answers["paused"].status_code == 429  # may be retried: the operator may resume it
    assert "x-should-retry" not in answers["paused"].headers
    assert answers["stopped"].status_code == 403
    assert "no model budget" in answers["operator"].json()["error"]["message"]


def test_upstream_errors_pass_through_uncharged_and_the_key_is_never_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gateway_world(tmp_path, monkeypatch) as world:
        token = world.hub.operator.create_researcher("r1").token
        world.vendor.add(FakeReply.overloaded())
        with pytest.raises(anthropic.APIStatusError) as failed:
            world.anthropic(token).messages.create(model=OPUS, max_tokens=8, messages=HI)
        [call] = world.hub.operator.model_calls()
        detail = world.hub.operator.model_call(call.id)
        audit = world.hub.operator.request("GET", "/audit", params={"limit": 500}).text
    assert failed.value.status_code == 529
    assert (call.status, call.cost_usd, call.metered) == (529, 0.0, "none")
    assert "Overloaded" in (call.error or "")
    assert UPSTREAM_KEY not in detail.model_dump_json() + audit


def test_the_dashboard_shows_each_researchers_model_spend_and_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    usage = Usage(input_tokens=8000, output_tokens=400)  # $0.05 on Opus 4.6
    with gateway_world(tmp_path, monkeypatch) as world:
        token = world.hub.operator.create_researcher("alice", model_dollars=0.5).token
        world.hub.operator.create_researcher("bob")
        world.vendor.add(FakeReply(text="ok", usage=usage))
        world.anthropic(token).messages.create(model=OPUS, max_tokens=8, messages=HI)
        browser = world.hub.anonymous()
        browser.post("/dashboard/login", data={"token": world.hub.operator_token})
        overview = browser.get("/dashboard").text
        page = browser.get("/dashboard/researchers/alice").text
        idle = browser.get("/dashboard/researchers/bob").text
    row = overview[overview.index('id="researcher-alice"') :]
    assert "0.05 / 0.50" in row[: row.index("</tr>")]
    assert "8,400" in row[: row.index("</tr>")]
    assert "$0.0500 of $0.50, 8,400 tokens in 1 calls" in " ".join(page.split())
    assert "claude-opus-4-6" in page[page.index('id="model-calls"') :]
    assert "no model calls through the gateway" in idle


TWICE = '[[upstreams]]\nname = "a"\napi = "openai"\n' * 2


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (None, "gateway file {path} does not exist"),
        ("[[upstreams]\n", "is not valid TOML"),
        ("", "upstreams: Field required"),
        ('[[upstreams]]\nname = "a"\napi = "gemini"\n', "upstreams.0.api: Input should be"),
        (
            TWICE,
            "upstream names must be unique; repeated: a",
        ),
        (
            'concurency = 2\n[[upstreams]]\nname = "a"\napi = "openai"\n',
            "concurency: Extra inputs are not permitted",
        ),
        (
            'prices = "nope.toml"\n[[upstreams]]\nname = "a"\napi = "openai"\n',
            "price table {dir}/nope.toml does not exist",
        ),
    ],
)
def test_a_bad_gateway_file_is_named_with_its_problem(
    tmp_path: Path, text: str | None, says: str
) -> None:
    path = tmp_path / "gateway.toml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_gateway(path)
    assert says.format(path=path, dir=tmp_path) in str(refused.value)


def test_a_missing_key_is_named_at_the_first_call_and_the_hub_still_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gateway_world(tmp_path, monkeypatch) as world:
        token = world.hub.operator.create_researcher("r1").token
        monkeypatch.delenv(KEY_ENV)
        world.hub.app.state.hub.gateway.keys["claude"] = None  # as if started without it
        answer = world.raw().post(
            "/llm/claude/v1/messages", headers={"x-api-key": token},
            json={"model": OPUS, "max_tokens": 8, "messages": HI},
        )  # fmt: skip
        alive = world.raw().get("/healthz").status_code
    assert answer.status_code == 503
    assert f"the hub holds no key for upstream 'claude': set {KEY_ENV}" in answer.text
    assert world.vendor.requests == []
    assert alive == 200


def test_the_operator_reads_the_upstreams_and_a_researcher_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gateway_world(tmp_path, monkeypatch) as world:
        offered = world.hub.operator.model_upstreams()
        token = world.hub.operator.create_researcher("r1").token
        with pytest.raises(HubError) as refused:
            world.hub.as_token(token).model_upstreams()
    assert [(u.name, u.api, u.models, u.holds_key) for u in offered] == [
        ("claude", "anthropic", ["claude-opus-4-6*", "claude-haiku-4-5*"], True),
        ("local", "openai", ["*"], True),
    ]
    assert refused.value.status == 403
    assert UPSTREAM_KEY not in str(offered)


HOSTED = [
    ("claude", {"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "web_search"),
    ("claude", {"tools": [{"type": "web_fetch_20250910", "name": "web_fetch"}]}, "web_fetch"),
    ("claude", {"mcp_servers": [{"type": "url", "url": "https://x", "name": "x"}]}, "mcp_servers"),
    ("local", {"tools": [{"type": "web_search_preview"}]}, "web_search_preview"),
    ("local", {"web_search_options": {}}, "web_search_options"),
    ("local", {"tools": [{"type": "mcp", "server_url": "https://x"}]}, "'mcp'"),
    ("local", {"tools": [{"type": "code_interpreter"}]}, "code_interpreter"),
    ("local", {"background": True}, "background"),
    ("local", {"tools": [{"type": "namespace", "name": "n",
                          "tools": [{"type": "file_search"}]}]}, "file_search"),
]  # fmt: skip


@pytest.mark.parametrize(("upstream", "extra", "named"), HOSTED)
def test_tools_the_vendor_would_run_are_refused_before_forwarding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upstream: str, extra: dict, named: str
) -> None:
    """A researcher without network must not reach the web through the vendor's own tools."""
    path = "v1/messages" if upstream == "claude" else "v1/responses"
    body = {"model": OPUS if upstream == "claude" else "gpt-5", "max_tokens": 8}
    body |= {"messages": HI} if upstream == "claude" else {"input": "the capital of Peru?"}
    if "web_search_options" in extra:
        path, body = "v1/chat/completions", {"model": "gpt-5", "messages": HI}
    with gateway_world(tmp_path, monkeypatch) as world:
        token = world.hub.operator.create_researcher("r1").token
        keys = {"x-api-key": token, "authorization": f"Bearer {token}"}
        answer = world.raw().post(f"/llm/{upstream}/{path}", json=body | extra, headers=keys)
        forwarded, calls = len(world.vendor.requests), world.hub.operator.model_calls()
    assert answer.status_code == 403
    assert answer.headers["x-should-retry"] == "false"
    assert named in answer.json()["error"]["message"]
    assert (forwarded, calls) == (0, [])


def test_tools_the_client_runs_are_forwarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bash = {"type": "bash_20250124", "name": "bash"}
    function = {"name": "ls", "description": "list", "input_schema": {"type": "object"}}
    shell = {"type": "function", "name": "exec_command", "parameters": {"type": "object"}}
    with gateway_world(tmp_path, monkeypatch) as world:
        token = world.hub.operator.create_researcher("r1").token
        world.vendor.add(FakeReply(text="ok"), FakeReply(text="ok"))
        world.anthropic(token).messages.create(
            model=OPUS,
            max_tokens=8,
            messages=HI,
            tools=[bash, function],  # type: ignore[list-item]
        )
        world.openai(token).responses.create(
            model="gpt-5",
            input="hi",
            tools=[shell, {"type": "local_shell"}],  # type: ignore[list-item]
        )
        forwarded = len(world.vendor.requests)
    assert forwarded == 2
