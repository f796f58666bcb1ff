"""The runner's failure classification, tested in process against real and look-alike errors."""

from __future__ import annotations

import socket

import httpx
import pytest

from runner import _run_template as template


def _openai_like(name: str, *bases: type) -> type:
    """A class that looks like ``openai.<name>`` by module and MRO, without openai."""
    return type(name, bases or (Exception,), {"__module__": "openai._exceptions"})


def _chained(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as exc:
        return exc


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_syntax_error_description() -> None:
    try:
        compile("def f():\n    return (1 +\n", "/mnt/data/workflow.py", "exec")
    except SyntaxError as exc:
        error = template.classify(exc, "import")
    assert error["type"] == "SyntaxError"
    assert "/mnt/data/workflow.py, line 2, column 12" in error["message"]
    assert error["message"].splitlines()[1:] == ["    return (1 +", "           ^"]


def test_module_not_found_maps_import_names_to_pip_names() -> None:
    error = template.classify(
        ModuleNotFoundError("No module named 'agents.x'", name="agents.x"), "import"
    )
    assert error["type"] == "ModuleNotFoundError"
    assert "pip name openai-agents" in error["hint"]
    unknown = template.classify(ModuleNotFoundError("x", name="somepkg"), "run")
    assert "pip name somepkg" in unknown["hint"]


def test_import_error_of_a_name_hints_at_the_version() -> None:
    error = template.classify(ImportError("cannot import name 'Foo'", name="agents"), "import")
    assert error["type"] == "ImportError"
    assert "openai-agents" in error["hint"]


def test_missing_api_key_from_the_real_openai_client(monkeypatch: pytest.MonkeyPatch) -> None:
    openai = pytest.importorskip("openai")
    for name in ("OPENAI_API_KEY", "OPENAI_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(openai.OpenAIError) as caught:
        openai.OpenAI()
    error = template.classify(caught.value, "import")
    assert error["type"] == "MissingApiKey"
    assert "secretEnvironmentVariables" in error["hint"]


def test_older_openai_missing_key_message() -> None:
    old = _openai_like("OpenAIError")(
        "The api_key client option must be set either by passing api_key to the client"
    )
    assert template.classify(old, "run")["type"] == "MissingApiKey"
    other = _openai_like("OpenAIError")("something else")
    assert template.classify(other, "run")["type"] == "OpenAIError"


async def test_unreachable_endpoint_from_the_real_openai_client() -> None:
    openai = pytest.importorskip("openai")
    port = _free_loopback_port()
    client = openai.AsyncOpenAI(
        api_key="sk-test", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0
    )
    with pytest.raises(openai.APIConnectionError) as caught:
        await client.responses.create(model="gpt-test", input="hi")
    await client.close()
    error = template.classify(_chained(RuntimeError("agent failed"), caught.value), "run")
    assert error["type"] == "ModelEndpointUnreachable"
    assert f"http://127.0.0.1:{port}" in error["message"]
    assert "egress" in error["message"]


def test_httpx_connect_error_in_the_chain_is_unreachable() -> None:
    request = httpx.Request("POST", "https://api.example.invalid/v1/responses")
    exc = _chained(ValueError("tool failed"), httpx.ConnectError("refused", request=request))
    error = template.classify(exc, "run")
    assert error["type"] == "ModelEndpointUnreachable"
    assert "https://api.example.invalid" in error["message"]


def test_timeouts_are_unreachable_and_say_so() -> None:
    connection = _openai_like("APIConnectionError")
    timeout = _openai_like("APITimeoutError", connection)
    error = template.classify(timeout("Request timed out."), "run")
    assert error["type"] == "ModelEndpointUnreachable"
    assert "timed out" in error["message"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("AuthenticationError", "ModelAuthenticationError"),
        ("PermissionDeniedError", "ModelAuthenticationError"),
        ("RateLimitError", "ModelRateLimited"),
    ],
)
def test_model_status_errors(name: str, expected: str) -> None:
    status_error = _openai_like(
        "APIStatusError", _openai_like("APIError", _openai_like("OpenAIError"))
    )
    exc = _openai_like(name, status_error)("Error code: 4xx - {'error': 'nope'}")
    error = template.classify(exc, "run")
    assert error["type"] == expected
    assert "nope" in error["message"]


def test_real_openai_error_classes_are_recognised() -> None:
    openai = pytest.importorskip("openai")
    request = httpx.Request("POST", "http://127.0.0.1/v1/responses")
    response = httpx.Response(429, request=request, json={"error": {"message": "slow down"}})
    exc = openai.RateLimitError("slow down", response=response, body=None)
    assert template.classify(exc, "run")["type"] == "ModelRateLimited"
    response = httpx.Response(401, request=request)
    exc = openai.AuthenticationError("bad key", response=response, body=None)
    assert template.classify(exc, "run")["type"] == "ModelAuthenticationError"


def test_other_errors_keep_their_class_name_and_message() -> None:
    error = template.classify(KeyError("missing"), "run")
    assert error == {"type": "KeyError", "message": "'missing'"}
    assert template.classify(NameError("name 'x' is not defined"), "import")["hint"]
    assert template.classify(RuntimeError(), "run")["message"] == "RuntimeError()"


def test_exception_chain_handles_cycles() -> None:
    first, second = ValueError("a"), ValueError("b")
    first.__context__, second.__context__ = second, first
    assert list(template.exception_chain(first)) == [first, second]


def test_redact_secrets_only_touches_secret_looking_names() -> None:
    environ = {"OPENAI_API_KEY": "sk-123456", "HOME": "/root/home", "DB_PASSWORD": "pw"}
    text = "key sk-123456 home /root/home pw"
    assert template.redact_secrets(text, environ) == "key *** home /root/home pw"


def test_httpx2_connect_errors_count_too() -> None:
    connect_error = type("ConnectError", (Exception,), {"__module__": "httpx2._exceptions"})
    error = template.classify(_chained(RuntimeError("x"), connect_error("refused")), "run")
    assert error["type"] == "ModelEndpointUnreachable"
