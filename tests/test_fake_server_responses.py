"""The fake server's OpenAI Responses API, read by the official client (plain and streamed)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from aar.core.usage import Usage
from aar.researchers.providers.wire import FakeLLMServer, FakeReply, FakeToolCall

USAGE = Usage(input_tokens=70, output_tokens=12, cache_read_tokens=30)
REPLY = FakeReply(
    text="I will look.", thinking="first, the data",
    tool_calls=(FakeToolCall("shell", {"command": ["ls", "-la"]}, id="call_7"),),
    usage=USAGE, chunks=4,
)  # fmt: skip


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as started:
        yield started


def gpt(server: FakeLLMServer) -> openai.OpenAI:
    return openai.OpenAI(api_key="k", base_url=server.openai_base_url, max_retries=0)


def check(response: openai.types.responses.Response) -> None:
    kinds = [item.type for item in response.output]
    assert kinds == ["reasoning", "message", "function_call"]
    assert response.output_text == "I will look."
    call = response.output[2]
    assert call.type == "function_call"
    assert (call.call_id, call.name) == ("call_7", "shell")
    assert json.loads(call.arguments) == {"command": ["ls", "-la"]}
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (100, 12)
    assert response.usage.input_tokens_details.cached_tokens == 30
    assert response.status == "completed"


@pytest.mark.parametrize("stream", [False, True])
def test_the_official_client_reads_a_response(server: FakeLLMServer, stream: bool) -> None:
    server.add(REPLY)
    client = gpt(server)
    if stream:
        with client.responses.stream(model="gpt-5", input="look around") as events:
            deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
            response = events.get_final_response()
        assert "".join(deltas) == "I will look."
        assert len(deltas) == 4
    else:
        response = client.responses.create(model="gpt-5", input="look around")
    check(response)
    [request] = server.requests
    assert (request.path, request.body["input"]) == ("/v1/responses", "look around")


def test_stream_events_are_numbered_and_end_with_the_whole_response(
    server: FakeLLMServer,
) -> None:
    server.add(FakeReply(text="done", stop_reason="max_tokens"))
    events = list(gpt(server).responses.create(model="gpt-5", input="x", stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].type == "response.created"
    last = events[-1]
    assert last.type == "response.incomplete"
    assert last.response.incomplete_details is not None
    assert last.response.incomplete_details.reason == "max_output_tokens"


def test_errors_come_in_the_openai_shape(server: FakeLLMServer) -> None:
    server.add(FakeReply.error(400, "input: bad"))
    with pytest.raises(openai.BadRequestError, match="input: bad"):
        gpt(server).responses.create(model="gpt-5", input="x")
