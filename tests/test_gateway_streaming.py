"""Streamed model calls through the gateway: in process with the official clients, and over a
real ``aar serve`` for what only a real server shows (incremental delivery, a client that
hangs up, an upstream that breaks off, calls in flight)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import anthropic
import httpx
import pytest

from aar.core.usage import Usage
from aar.hub.client import HubClient
from aar.hub.gateway.forward import CHARS_PER_TOKEN
from aar.researchers.providers.wire import FakeLLMServer, FakeReply, FakeToolCall
from tests.gatewaykit import KEY_ENV, UPSTREAM_KEY, gateway_world, upstreams
from tests.servekit import served_hub

HI = [{"role": "user", "content": "hi"}]
OPUS = "claude-opus-4-6"
USAGE = Usage(input_tokens=300, output_tokens=40, cache_read_tokens=1000)


def test_an_anthropic_stream_is_relayed_whole_and_metered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    call = FakeToolCall("shell", {"command": "ls /data"})
    reply = FakeReply(text="let me look", tool_calls=(call,), thinking="hmm", usage=USAGE)
    with gateway_world(tmp_path, monkeypatch) as world:
        token = world.hub.operator.create_researcher("r1").token
        world.vendor.add(reply)
        client = world.anthropic(token)
        with client.messages.stream(model=OPUS, max_tokens=64, messages=HI) as stream:
            final = stream.get_final_message()
        [metered] = world.hub.operator.model_calls()
        stored = world.hub.operator.model_call(metered.id)
    kinds = [block.type for block in final.content]
    assert kinds == ["thinking", "text", "tool_use"]
    assert final.content[2].input == {"command": "ls /data"}  # type: ignore[union-attr]
    assert (final.usage.input_tokens, final.usage.output_tokens) == (300, 40)
    assert (metered.stream, metered.metered) == (True, "reported")
    assert (metered.input_tokens, metered.output_tokens, metered.cache_read_tokens) == (
        300, 40, 1000
    )  # fmt: skip
    assert stored.request["stream"] is True
    assert "event: message_stop" in stored.response


def test_an_openai_stream_is_metered_even_when_the_client_did_not_ask_for_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gateway_world(tmp_path, monkeypatch) as world:
        token = world.hub.operator.create_researcher("r1").token
        world.vendor.add(FakeReply(text="a streamed answer", usage=USAGE))
        chunks = list(
            world.openai(token).chat.completions.create(
                model="qwen",
                messages=HI,
                stream=True,  # type: ignore[arg-type]
            )
        )
        [sent] = world.vendor.requests
        [metered] = world.hub.operator.model_calls()
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "a streamed answer"
    assert sent.body["stream_options"] == {"include_usage": True}  # the gateway asked for it
    assert (metered.input_tokens, metered.output_tokens, metered.cache_read_tokens) == (
        300, 40, 1000
    )  # fmt: skip


@dataclass
class Served:
    url: str
    operator: HubClient
    vendor: FakeLLMServer

    def researcher(self, name: str, **limits: float) -> str:
        return self.operator.create_researcher(name, **limits).token  # type: ignore[arg-type]

    def anthropic(self, token: str) -> anthropic.Anthropic:
        return anthropic.Anthropic(api_key=token, base_url=f"{self.url}/llm/claude", max_retries=0)


@contextmanager
def served_gateway(folder: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> Iterator[Served]:
    """``aar serve --gateway`` (a real uvicorn) in front of a fake vendor server."""
    monkeypatch.setenv(KEY_ENV, UPSTREAM_KEY)
    with FakeLLMServer() as vendor:
        lines = ["concurrency = 2", *extra]
        for u in upstreams(vendor):
            lines += ["", "[[upstreams]]", f'name = "{u.name}"', f'api = "{u.api}"',
                      f'base_url = "{u.base_url}"', f'api_key_env = "{KEY_ENV}"']  # fmt: skip
        (folder / "gateway.toml").write_text("\n".join(lines) + "\n")
        gateway = str(folder / "gateway.toml")
        with (
            served_hub(folder / "hub", "--gateway", gateway) as hub,
            HubClient(hub.url, hub.operator_token) as operator,
        ):
            yield Served(hub.url, operator, vendor)


def _slow(events_apart: float = 0.25) -> FakeReply:
    return FakeReply(text="one two three four five six", usage=USAGE, chunks=6,
                     chunk_delay_s=events_apart)  # fmt: skip


def test_streams_arrive_piece_by_piece_and_a_client_that_hangs_up_is_still_charged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with served_gateway(tmp_path, monkeypatch) as world:
        token = world.researcher("r1")
        world.vendor.add(_slow(), _slow())
        started = time.monotonic()
        arrivals = []
        with world.anthropic(token).messages.stream(
            model=OPUS, max_tokens=64, messages=HI
        ) as stream:
            for _ in stream.text_stream:
                arrivals.append(time.monotonic() - started)
        # the second client reads one event and hangs up
        with httpx.stream(
            "POST",
            f"{world.url}/llm/claude/v1/messages",
            headers={"x-api-key": token, "anthropic-version": "2023-06-01"},
            json={"model": OPUS, "max_tokens": 64, "messages": HI, "stream": True},
            timeout=30,
        ) as response:
            next(response.iter_bytes())
        _wait(lambda: len(world.operator.model_calls()) == 2)
        calls = world.operator.model_calls()
    assert arrivals[0] < arrivals[-1] / 2  # the first words came before the last were written
    # the gateway read the abandoned stream to its end: the upstream bills all of it
    assert [(c.status, c.metered, c.output_tokens) for c in calls] == [(200, "reported", 40)] * 2


def test_a_broken_upstream_stream_is_charged_an_estimate_and_in_flight_calls_are_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with served_gateway(tmp_path, monkeypatch) as world:
        token = world.researcher("r1")
        world.vendor.add(FakeReply(text="x" * 300, usage=USAGE, chunks=10, cut_after_events=8))
        stream = world.anthropic(token).messages.stream(model=OPUS, max_tokens=64, messages=HI)
        with pytest.raises(anthropic.APIError, match="upstream stream broke off"), stream as s:
            s.get_final_message()
        _wait(lambda: len(world.operator.model_calls()) == 1)
        [broken] = world.operator.model_calls()
        # two slow streams fill the researcher's two places; a third call waits its turn
        world.vendor.add(_slow(0.5), _slow(0.5))
        threads = [threading.Thread(target=_read_stream, args=(world, token)) for _ in range(2)]
        for thread in threads:
            thread.start()
        _wait(lambda: len(world.vendor.requests) == 3)
        third = httpx.post(
            f"{world.url}/llm/claude/v1/messages", headers={"x-api-key": token},
            json={"model": OPUS, "max_tokens": 8, "messages": HI}, timeout=30,
        )  # fmt: skip
        for thread in threads:
            thread.join()
    assert (broken.metered, broken.input_tokens) == ("estimated", 300)
    assert broken.output_tokens >= 50  # the text that did arrive, never nothing
    assert broken.error is not None
    assert third.status_code == 429
    assert "2 model calls in flight" in third.json()["error"]["message"]
    assert third.headers["retry-after"] == "5"


def _read_stream(world: Served, token: str) -> None:
    with world.anthropic(token).messages.stream(model=OPUS, max_tokens=64, messages=HI) as s:
        s.get_final_message()


def _wait(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


# --- the OpenAI Responses API (Codex CLI's) --------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_a_responses_call_is_forwarded_and_metered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    call = FakeToolCall("shell", {"command": ["ls", "/data"]})
    with gateway_world(tmp_path, monkeypatch) as world:
        token = world.hub.operator.create_researcher("r1").token
        world.vendor.add(FakeReply(text="let me look", tool_calls=(call,), usage=USAGE))
        client = world.openai(token)
        if stream:
            with client.responses.stream(model="gpt-5", input="look") as events:
                response = events.get_final_response()
        else:
            response = client.responses.create(model="gpt-5", input="look")
        [sent] = world.vendor.requests
        [metered] = world.hub.operator.model_calls()
        stored = world.hub.operator.model_call(metered.id)
    assert response.output_text == "let me look"
    assert [item.type for item in response.output] == ["message", "function_call"]
    assert sent.path == "/v1/responses"
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert "stream_options" not in sent.body  # a Responses stream reports usage unasked
    assert (metered.path, metered.stream, metered.metered) == (
        "v1/responses", stream, "reported"
    )  # fmt: skip
    assert (metered.input_tokens, metered.output_tokens, metered.cache_read_tokens) == (
        300, 40, 1000
    )  # fmt: skip
    assert stored.request["input"] == "look"


def test_a_responses_request_without_input_is_refused_in_the_openai_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gateway_world(tmp_path, monkeypatch) as world:
        token = world.hub.operator.create_researcher("r1").token
        answer = world.raw().post(
            "/llm/local/v1/responses", headers={"authorization": f"Bearer {token}"},
            json={"model": "gpt-5", "messages": HI},
        )  # fmt: skip
        forwarded = len(world.vendor.requests)
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        "aar gateway: input: a string or a list of items is required"
    )
    assert forwarded == 0


def test_a_broken_responses_stream_ends_in_response_failed_and_is_charged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with served_gateway(tmp_path, monkeypatch) as world:
        token = world.researcher("r1")
        world.vendor.add(FakeReply(text="x" * 300, usage=USAGE, chunks=10, cut_after_events=8))
        with httpx.stream(
            "POST", f"{world.url}/llm/local/v1/responses", timeout=30,
            headers={"authorization": f"Bearer {token}"},
            json={"model": "gpt-5", "input": "go", "stream": True},
        ) as answer:  # fmt: skip
            text = "".join(answer.iter_text())
        _wait(lambda: len(world.operator.model_calls()) == 1)
        [broken] = world.operator.model_calls()
    assert "event: response.output_text.delta" in text
    failed = text.rsplit("event: ", 1)[1]
    assert failed.startswith("response.failed\ndata: ")
    assert "upstream stream broke off" in failed
    assert broken.metered == "estimated"
    assert broken.output_tokens == round(4 * 30 / CHARS_PER_TOKEN)  # the four deltas it sent
