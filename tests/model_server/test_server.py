"""The server's wire format, checked with the real openai client and the SDK's own types."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import openai
import pytest
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool
from openai.types import ModerationCreateResponse
from openai.types.chat import ChatCompletion
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from model_server import (
    ModelServer,
    ModelServerError,
    ReplyQueue,
    error,
    json_output,
    moderation,
    run_model_server,
    text,
    tool_call,
    tool_calls,
)
from model_server.__main__ import _load_script, main

STREAM_EVENTS = TypeAdapter(ResponseStreamEvent)


@pytest.fixture
async def client(model_server: ModelServer) -> AsyncIterator[openai.AsyncOpenAI]:
    """A plain client (retries on, as the SDK default) against the server."""
    async with openai.AsyncOpenAI(base_url=model_server.base_url, api_key="test-key") as client:
        yield client


@pytest.fixture
async def raw(model_server: ModelServer) -> AsyncIterator[httpx.AsyncClient]:
    """A bare HTTP client, to validate the exact JSON the server sends."""
    async with httpx.AsyncClient(base_url=model_server.url, timeout=10) as raw:
        yield raw


# --- Responses API -------------------------------------------------------------
async def test_text_response_validates_against_the_sdk_model(
    model_server: ModelServer, raw: httpx.AsyncClient
) -> None:
    model_server.set_script([text("Bonjour")])

    answer = await raw.post(
        "/v1/responses", json={"model": "gpt-5", "input": "hi", "instructions": "Be brief"}
    )

    assert answer.status_code == 200
    response = Response.model_validate(answer.json())
    assert response.status == "completed" and response.object == "response"
    assert response.id.startswith("resp_")
    assert response.output_text == "Bonjour"
    assert response.instructions == "Be brief"
    assert response.usage is not None
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens


async def test_tool_calls_and_json_outputs(
    model_server: ModelServer, client: openai.AsyncOpenAI
) -> None:
    model_server.set_script(
        [
            tool_calls(("get_weather", {"city": "Paris"}), ("get_time", "{}")),
            json_output({"subject": "Hi", "body": "Text"}),
        ]
    )

    calls = await client.responses.create(model="gpt-5", input="x")
    structured = await client.responses.create(model="gpt-5", input="y")

    assert [item.type for item in calls.output] == ["function_call", "function_call"]
    assert calls.output[0].name == "get_weather"
    assert json.loads(calls.output[0].arguments) == {"city": "Paris"}
    assert calls.output[0].call_id != calls.output[1].call_id
    assert json.loads(structured.output_text) == {"subject": "Hi", "body": "Text"}


async def test_streamed_response_events_parse(
    model_server: ModelServer, client: openai.AsyncOpenAI, raw: httpx.AsyncClient
) -> None:
    model_server.set_script(
        [text("streamed text"), text("raw"), tool_call("lookup", {"q": 1}, call_id="call_1")]
    )

    stream = await client.responses.create(model="gpt-5", input="x", stream=True)
    events = [event async for event in stream]
    raw_events = []
    for _ in range(2):
        answer = await raw.post(
            "/v1/responses", json={"model": "gpt-5", "input": "y", "stream": True}
        )
        assert answer.headers["content-type"].startswith("text/event-stream")
        payloads = [line[6:] for line in answer.text.splitlines() if line.startswith("data: ")]
        raw_events.append([STREAM_EVENTS.validate_json(payload) for payload in payloads])

    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "streamed text"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text_events, call_events = raw_events
    assert "response.output_text.delta" in [e.type for e in text_events]
    assert text_events[-1].response.output_text == "raw"
    assert "response.function_call_arguments.done" in [e.type for e in call_events]
    assert call_events[-1].response.output[0].call_id == "call_1"


async def test_agents_sdk_streaming_run_with_a_tool(model_server: ModelServer) -> None:
    @function_tool
    def lookup(q: int) -> str:
        """Find q."""
        return f"found {q}"

    def script(request):
        if request.tool_outputs:
            return text(f"answer: {request.tool_outputs[0]['output']}")
        return tool_call("lookup", {"q": 7})

    model_server.set_script(script)
    agent = Agent(name="A", instructions="Use lookup.", model="gpt-5", tools=[lookup])

    result = Runner.run_streamed(agent, input="go")
    async for _event in result.stream_events():
        pass

    assert result.final_output == "answer: found 7"
    assert [r.stream for r in model_server.requests_to("responses")] == [True, True]


# --- Chat Completions ----------------------------------------------------------
async def test_chat_completion_bodies_validate(
    model_server: ModelServer, raw: httpx.AsyncClient
) -> None:
    model_server.set_script([text("hello"), tool_call("f", {"a": 1})])
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}

    plain = ChatCompletion.model_validate(
        (await raw.post("/v1/chat/completions", json=body)).json()
    )
    calls = ChatCompletion.model_validate(
        (await raw.post("/v1/chat/completions", json=body)).json()
    )

    assert plain.choices[0].message.content == "hello"
    assert plain.choices[0].finish_reason == "stop"
    assert calls.choices[0].finish_reason == "tool_calls"
    assert calls.choices[0].message.tool_calls[0].function.name == "f"


async def test_streamed_chat_completion(
    model_server: ModelServer, client: openai.AsyncOpenAI
) -> None:
    model_server.set_script([text("chunked")])

    stream = await client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "chunked"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


async def test_agents_sdk_on_chat_completions_with_a_tool(
    model_server: ModelServer, client: openai.AsyncOpenAI
) -> None:
    @function_tool
    def double(n: int) -> int:
        """Double n."""
        return n * 2

    def script(request):
        if request.tool_outputs:
            return text(f"result {request.tool_outputs[0]['output']}")
        return tool_call("double", {"n": 21})

    model_server.set_script(script)
    model = OpenAIChatCompletionsModel(model="gpt-4o", openai_client=client)
    agent = Agent(name="C", instructions="Double it.", model=model, tools=[double])

    result = await Runner.run(agent, input="21")

    assert result.final_output == "result 42"
    first, second = model_server.requests_to("chat/completions")
    assert first.instructions == "Double it."
    assert first.tool_names == ["double"]
    assert second.tool_outputs[0]["output"] == "42"


# --- Moderations and models ----------------------------------------------------
async def test_moderation_results(model_server: ModelServer, raw: httpx.AsyncClient) -> None:
    model_server.set_script(lambda request: moderation("hate", "violence/graphic"))

    answer = await raw.post("/v1/moderations", json={"input": ["a", "b"]})

    parsed = ModerationCreateResponse.model_validate(answer.json())
    assert len(parsed.results) == 2
    assert parsed.results[0].flagged is True
    assert parsed.results[0].categories.hate is True
    assert parsed.results[0].categories.violence_graphic is True
    assert parsed.results[0].categories.harassment is False
    assert parsed.model == "omni-moderation-latest"


async def test_moderation_default_is_clean_and_does_not_consume_the_queue(
    model_server: ModelServer, client: openai.AsyncOpenAI
) -> None:
    queue = ReplyQueue([text("still here")])
    model_server.set_script(queue)

    result = await client.moderations.create(input="hello")

    assert result.results[0].flagged is False
    assert queue.remaining == 1


async def test_models_endpoints(model_server: ModelServer, client: openai.AsyncOpenAI) -> None:
    listed = [model.id async for model in client.models.list()]
    one = await client.models.retrieve("gpt-5")

    assert "gpt-5" in listed and one.id == "gpt-5"
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("no-such-model")


# --- errors --------------------------------------------------------------------
async def test_scripted_401_is_an_authentication_error(
    model_server: ModelServer, client: openai.AsyncOpenAI
) -> None:
    model_server.set_script([error(401, "Incorrect API key provided: test-key.")])

    with pytest.raises(openai.AuthenticationError) as caught:
        await client.responses.create(model="gpt-5", input="x")

    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert "Incorrect API key" in caught.value.message
    assert len(model_server.requests) == 1


async def test_scripted_429_without_retry_fails_at_once(
    model_server: ModelServer, client: openai.AsyncOpenAI
) -> None:
    model_server.set_script([error(429, "Rate limit reached"), text("never sent")])

    with pytest.raises(openai.RateLimitError):
        await client.responses.create(model="gpt-5", input="x")

    assert len(model_server.requests) == 1


async def test_scripted_429_with_retry_is_retried_by_the_sdk(
    model_server: ModelServer, client: openai.AsyncOpenAI
) -> None:
    model_server.set_script(
        [error(429, "Rate limit reached", retry=True, retry_after_ms=10), text("after retry")]
    )

    response = await client.responses.create(model="gpt-5", input="x")

    assert response.output_text == "after retry"
    assert len(model_server.requests) == 2


async def test_missing_reply_is_a_clear_500_not_retried(
    model_server: ModelServer, client: openai.AsyncOpenAI
) -> None:
    model_server.set_script([])

    with pytest.raises(
        openai.InternalServerError, match="no scripted reply for POST /v1/responses"
    ):
        await client.responses.create(model="gpt-5", input="x")

    assert len(model_server.requests) == 1


async def test_script_exception_and_wrong_reply_kind_are_500s(
    model_server: ModelServer, client: openai.AsyncOpenAI
) -> None:
    def broken(request):
        raise KeyError("oops")

    model_server.set_script(broken)
    with pytest.raises(openai.InternalServerError, match="the script raised KeyError"):
        await client.responses.create(model="gpt-5", input="x")

    model_server.set_script(lambda request: moderation())
    with pytest.raises(openai.InternalServerError, match="cannot answer a model call"):
        await client.responses.create(model="gpt-5", input="x")


@pytest.mark.parametrize("tool_type", ["file_search", "mcp", "code_interpreter"])
async def test_hosted_tools_are_refused_with_400(
    model_server: ModelServer, raw: httpx.AsyncClient, tool_type: str
) -> None:
    model_server.set_script([text("unused")])

    answer = await raw.post(
        "/v1/responses", json={"model": "gpt-5", "input": "x", "tools": [{"type": tool_type}]}
    )

    assert answer.status_code == 400
    assert answer.headers["x-should-retry"] == "false"
    message = answer.json()["error"]["message"]
    assert message.startswith(f"hosted tool {tool_type} is not available in the local model server")


async def test_bad_json_unknown_paths_and_recording(
    model_server: ModelServer, raw: httpx.AsyncClient
) -> None:
    bad = await raw.post(
        "/v1/responses",
        content=b"{not json",
        headers={"Authorization": "Bearer sk-secret", "X-Trace": "t1"},
    )
    unknown = await raw.post("/v1/files", json={"a": 1})

    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    assert unknown.status_code == 404
    first, second = model_server.requests
    assert first.headers["authorization"] == "Bearer <redacted>"
    assert first.headers["x-trace"] == "t1"
    assert "sk-secret" not in json.dumps(first.model_dump())
    assert second.path == "/v1/files" and second.body == {"a": 1}


async def test_default_script_echoes(openai_env: None) -> None:
    with run_model_server() as server:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="k") as client:
            response = await client.responses.create(model="gpt-5", input="ping")

    assert response.output_text == "echo: ping"


# --- startup and CLI -----------------------------------------------------------
def test_refuses_non_loopback_addresses() -> None:
    with pytest.raises(ModelServerError, match="loopback only"), run_model_server(host="0.0.0.0"):
        pass
    assert main(["--host", "0.0.0.0"]) == 2


@pytest.mark.parametrize("host", ["example.com", "0.0.0.0.nip.io", "", "::"])
def test_refuses_host_names_and_wildcards_with_a_message(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ModelServerError, match="loopback only"), run_model_server(host=host):
        pass
    assert main(["--host", host]) == 2
    assert "loopback only" in capsys.readouterr().err


def test_localhost_means_127_0_0_1() -> None:
    with run_model_server(host="localhost") as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{server.base_url}/models").status_code == 200


def test_cli_script_file(tmp_path) -> None:
    path = tmp_path / "replies.json"
    path.write_text(
        json.dumps(
            [
                {"kind": "tool_calls", "calls": [{"name": "f", "arguments": "{}"}]},
                {"kind": "text", "text": "done"},
            ]
        )
    )

    script = _load_script(path)

    assert isinstance(script, ReplyQueue) and script.remaining == 2
