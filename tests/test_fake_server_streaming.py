"""SSE streaming of the fake wire server, through the official ``anthropic`` and ``openai``
clients: a streamed reply rebuilds to the same message as the non-streamed one, events come in
the vendors' order and really one by one, a cut stream breaks the client, and error replies
keep their error classes and retries."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import anthropic
import httpx2
import openai
import pytest
from anthropic.lib.streaming import MessageStreamManager
from anthropic.types import Message, MessageParam, RawMessageStreamEvent
from openai import Omit, omit
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChatCompletionMessageParam,
    ChatCompletionStreamOptionsParam,
)
from openai.types.chat.chat_completion_chunk import ChoiceDelta, ChoiceDeltaToolCallFunction

from aar.researchers.providers.base import Usage
from aar.researchers.providers.wire import FakeLLMServer, FakeReply, FakeToolCall

T = TypeVar("T")
USAGE = Usage(input_tokens=11, output_tokens=7, cache_read_tokens=5, cache_write_tokens=3)
REPLIES = {
    "text": FakeReply(text="The answer is forty-two, as computed.", usage=USAGE),
    "cut short": FakeReply(text="It was a dark and", stop_reason="max_tokens", chunks=5),
    "thinking": FakeReply(thinking="Let me look at the numbers first.", text="Yes.", usage=USAGE),
    "tools": FakeReply(
        text="Reading both.",
        tool_calls=(
            FakeToolCall("read_file", {"path": "a.txt", "lines": [1, 2]}, id="toolu_a"),
            FakeToolCall("grep", {"pattern": 'déjà "vu"', "flags": {"i": True}}),
        ),
        usage=USAGE,
    ),
    "string arguments": FakeReply(tool_calls=(FakeToolCall("shell", '{"cmd": "ls -l"}'),)),
}
CLAUDE_PROMPT: list[MessageParam] = [{"role": "user", "content": "Hello?"}]
GPT_PROMPT: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello?"}]


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


def claude(server: FakeLLMServer, retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="k", base_url=server.anthropic_base_url, max_retries=retries)


def gpt(server: FakeLLMServer, retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url=server.openai_base_url, max_retries=retries)


def claude_message(client: anthropic.Anthropic) -> Message:
    return client.messages.create(model="claude-x", max_tokens=100, messages=CLAUDE_PROMPT)


def claude_events(client: anthropic.Anthropic) -> anthropic.Stream[RawMessageStreamEvent]:
    """The raw events of a ``stream=True`` call."""
    return client.messages.create(
        model="claude-x", max_tokens=100, messages=CLAUDE_PROMPT, stream=True
    )


def claude_stream(client: anthropic.Anthropic) -> MessageStreamManager[None]:
    """The client's streaming helper, which rebuilds the message from the events."""
    return client.messages.stream(model="claude-x", max_tokens=100, messages=CLAUDE_PROMPT)


def gpt_completion(client: openai.OpenAI) -> ChatCompletion:
    return client.chat.completions.create(model="gpt-x", messages=GPT_PROMPT)


def gpt_chunks(client: openai.OpenAI, *, usage: bool = True) -> openai.Stream[ChatCompletionChunk]:
    """A streamed chat completion; ``usage`` asks for the extra usage chunk at the end."""
    options: ChatCompletionStreamOptionsParam | Omit = {"include_usage": True} if usage else omit
    return client.chat.completions.create(
        model="gpt-x", messages=GPT_PROMPT, stream=True, stream_options=options
    )


def collect(items: Iterable[T], into: list[T]) -> None:
    """Append ``items`` one by one, so ``into`` keeps what came before a failure."""
    for item in items:
        into.append(item)


# --- Anthropic -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_anthropic_stream_rebuilds_the_plain_message(name: str, server: FakeLLMServer) -> None:
    server.add(REPLIES[name], REPLIES[name])
    client = claude(server)
    with claude_stream(client) as stream:
        streamed = stream.get_final_message()
    plain = claude_message(client)
    assert without_id(streamed.to_dict()) == without_id(plain.to_dict())
    assert server.requests[0].body["stream"] is True
    assert "stream" not in server.requests[1].body


def without_id(message: dict[str, Any]) -> dict[str, Any]:
    # The accumulator sets stop_details from message_delta; the plain message leaves it unset.
    return {k: v for k, v in message.items() if k != "id" and (k, v) != ("stop_details", None)}


def test_anthropic_raw_events_come_in_order(server: FakeLLMServer) -> None:
    server.add(REPLIES["thinking"])
    events = list(claude_events(claude(server)))
    kinds = [(event.type, getattr(getattr(event, "delta", None), "type", None)) for event in events]
    block = ("content_block_start", None)
    assert kinds == [
        ("message_start", None),
        block,
        *[("content_block_delta", "thinking_delta")] * 3,
        ("content_block_delta", "signature_delta"),
        ("content_block_stop", None),
        block,
        *[("content_block_delta", "text_delta")] * 2,  # "Yes." makes two pieces, not three
        ("content_block_stop", None),
        ("message_delta", None),
        ("message_stop", None),
    ]
    start, end = events[0], events[-2]
    assert start.type == "message_start"
    assert end.type == "message_delta"
    assert (start.message.content, start.message.stop_reason) == ([], None)
    usage = start.message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (11, 5, 1)
    assert (end.delta.stop_reason, end.usage.output_tokens) == ("end_turn", 7)


def test_anthropic_wire_is_chunked_sse_with_a_ping(server: FakeLLMServer) -> None:
    server.add(FakeReply(text="hi", chunks=1))
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("POST", "/v1/messages", json.dumps({"model": "m", "stream": True}))
    response = connection.getresponse()
    assert response.getheader("content-type", "").startswith("text/event-stream")
    assert response.getheader("transfer-encoding") == "chunked"
    events = [event.split("\n") for event in response.read().decode().split("\n\n") if event]
    assert [name for name, _ in events] == [
        f"event: {name}"
        for name in (
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        )
    ]
    assert all(data.startswith("data: {") for _, data in events)


# --- OpenAI --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_openai_stream_adds_up_to_the_plain_completion(name: str, server: FakeLLMServer) -> None:
    server.add(REPLIES[name], REPLIES[name])
    client = gpt(server)
    *body, last = gpt_chunks(client)
    plain = gpt_completion(client)
    deltas = [chunk.choices[0].delta for chunk in body]
    assert deltas[0].role == "assistant"
    assert "".join(d.content or "" for d in deltas) == (plain.choices[0].message.content or "")
    assert joined_tool_calls(deltas) == tool_calls(plain.choices[0].message)
    assert body[-1].choices[0].finish_reason == plain.choices[0].finish_reason
    assert all(chunk.usage is None for chunk in body)
    assert last.choices == []
    assert last.usage == plain.usage
    assert last.usage is not None
    assert last.usage.prompt_tokens_details is not None


def joined_tool_calls(deltas: list[ChoiceDelta]) -> list[tuple[str, str, str]]:
    """(id, name, arguments) per tool call, joined the way a client must join the deltas."""
    calls: dict[int, tuple[str, str, str]] = {}
    for delta in deltas:
        for call in delta.tool_calls or []:
            function = call.function or ChoiceDeltaToolCallFunction()
            id_, name, arguments = calls.get(call.index, ("", "", ""))
            calls[call.index] = (
                id_ + (call.id or ""),
                name + (function.name or ""),
                arguments + (function.arguments or ""),
            )
    return [calls[index] for index in sorted(calls)]


def tool_calls(message: ChatCompletionMessage) -> list[tuple[str, str, str]]:
    """(id, name, arguments) of a whole message's function calls."""
    return [
        (call.id, call.function.name, call.function.arguments)
        for call in message.tool_calls or []
        if call.type == "function"
    ]


def test_openai_stream_helper_final_completion(server: FakeLLMServer) -> None:
    server.add(REPLIES["tools"], REPLIES["tools"])
    client = gpt(server)
    with client.chat.completions.stream(
        model="gpt-x", messages=GPT_PROMPT, stream_options={"include_usage": True}
    ) as stream:
        final = stream.get_final_completion()
    plain = gpt_completion(client)
    assert final.choices[0].message.content == plain.choices[0].message.content
    assert tool_calls(final.choices[0].message) == tool_calls(plain.choices[0].message)
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage == plain.usage


def test_openai_reasoning_streams_as_reasoning_content(server: FakeLLMServer) -> None:
    server.add(REPLIES["thinking"])
    deltas = [chunk.choices[0].delta for chunk in gpt_chunks(gpt(server)) if chunk.choices]
    reasoning = "".join((d.model_extra or {}).get("reasoning_content", "") for d in deltas)
    assert reasoning == "Let me look at the numbers first."


def test_openai_usage_chunk_only_when_asked(server: FakeLLMServer) -> None:
    server.add(REPLIES["text"])
    chunks = list(gpt_chunks(gpt(server), usage=False))
    assert all(chunk.choices and chunk.usage is None for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert "stream_options" not in server.requests[0].body


# --- Both: timing, broken streams, errors --------------------------------------------------


def first_and_total(events: Iterable[object]) -> tuple[float, float]:
    """Seconds from now to the first event and to the end of the stream."""
    began, first = time.monotonic(), None
    for _ in events:
        first = first if first is not None else time.monotonic() - began
    assert first is not None
    return first, time.monotonic() - began


@pytest.mark.parametrize("vendor", ["anthropic", "openai"])
def test_events_arrive_one_by_one(vendor: str, server: FakeLLMServer) -> None:
    delay = 0.2
    server.add(FakeReply(text="one two three four", chunks=4, chunk_delay_s=delay))
    if vendor == "anthropic":
        first, total = first_and_total(claude_events(claude(server)))
        gaps = 9  # message_start, block start, ping, 4 deltas, block stop, message delta, stop
    else:
        first, total = first_and_total(gpt_chunks(gpt(server), usage=False))
        gaps = 6  # role, 4 contents, finish, [DONE]
    assert total >= gaps * delay * 0.9
    assert first < total / 2
    assert first < delay


def test_anthropic_cut_stream_raises_the_transport_error(server: FakeLLMServer) -> None:
    server.add(FakeReply(text="abcdefgh", cut_after_events=4))
    server.add(FakeReply(text="abcdefgh", cut_after_events=4))
    client = claude(server, retries=2)
    seen: list[RawMessageStreamEvent] = []
    # anthropic < 2.17 lets httpx2's own error through; later versions wrap it in
    # APIConnectionError. Either way the broken body is the cause, and nothing is retried.
    with pytest.raises(BROKEN_BODY) as raised:
        collect(claude_events(client), seen)
    assert_broken_body(raised.value)
    kinds = [event.type for event in seen]
    assert kinds == ["message_start", "content_block_start", "content_block_delta"]  # no ping
    with pytest.raises(BROKEN_BODY) as raised, claude_stream(client) as stream:
        stream.get_final_message()
    assert_broken_body(raised.value)
    assert len(server.requests) == 2  # a broken stream is not retried


BROKEN_BODY = (httpx2.RemoteProtocolError, anthropic.APIConnectionError)


def assert_broken_body(error: BaseException) -> None:
    chain = [error]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    assert any(
        isinstance(link, httpx2.RemoteProtocolError) and "incomplete chunked read" in str(link)
        for link in chain
    ), chain


def test_openai_cut_stream_raises_a_connection_error(server: FakeLLMServer) -> None:
    server.add(FakeReply(text="abcdefgh", cut_after_events=3))
    seen: list[ChatCompletionChunk] = []
    with pytest.raises(openai.APIConnectionError) as raised:
        collect(gpt_chunks(gpt(server, retries=2)), seen)
    assert [chunk.choices[0].delta.content for chunk in seen] == ["", "abc", "def"]
    assert isinstance(raised.value.__cause__, httpx2.RemoteProtocolError)
    assert len(server.requests) == 1  # a broken stream is not retried


@pytest.mark.parametrize("vendor", ["anthropic", "openai"])
def test_stream_errors_keep_retries_and_classes(vendor: str, server: FakeLLMServer) -> None:
    server.add(FakeReply.overloaded(), FakeReply.rate_limited(), FakeReply(text="third time"))
    server.add(FakeReply.error(400, "bad request"))
    if vendor == "anthropic":
        client = claude(server, retries=3)
        with claude_stream(client) as stream:
            assert stream.get_final_text() == "third time"
        with pytest.raises(anthropic.BadRequestError, match="bad request"):
            claude_events(client)
    else:
        chunks = gpt_chunks(gpt(server, retries=3))
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        assert text == "third time"
        with pytest.raises(openai.BadRequestError, match="bad request"):
            gpt_chunks(gpt(server))
    assert len(server.requests) == 4
    assert all(request.body["stream"] is True for request in server.requests)
