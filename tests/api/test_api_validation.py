"""Request validation: every bad field is named in one 400 problem answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.problems import ApiProblem
from api.validation import has_entrypoint, parse_workflow_request
from orchestrator.rules import DENIED_ENV_NAMES

GOOD_CODE = "def run(payload):\n    return payload\n"


def request(**fields: Any) -> dict[str, Any]:
    body = {"workflowCode": GOOD_CODE}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not ...}


def problem_for(body: Any, settings, *, content_type: str = "application/json") -> ApiProblem:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(ApiProblem) as info:
        parse_workflow_request(raw, content_type=content_type, settings=settings)
    return info.value


def nested(levels: int) -> Any:
    """``levels`` arrays inside each other."""
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


BAD_REQUESTS = [
    ("missing workflowCode", request(workflowCode=...), "workflowCode", "required"),
    ("empty code", request(workflowCode="   \n"), "workflowCode", "empty"),
    ("code too large", request(workflowCode=GOOD_CODE + "#" * 2000), "workflowCode", "2000"),
    ("code not a string", request(workflowCode=5), "workflowCode", "string"),
    ("syntax error", request(workflowCode="def run(:\n  pass"), "workflowCode", "line 1"),
    (
        "duplicate argument",
        request(workflowCode="def run(a, a):\n    return a\n"),
        "workflowCode",
        "duplicate argument",
    ),
    ("no entrypoint", request(workflowCode="def main():\n    pass\n"), "workflowCode", "entry"),
    ("input not an object", request(input=[1, 2]), "input", "dictionary"),
    ("input a string", request(input="text"), "input", "dictionary"),
    ("input too large", request(input={"a": "x" * 1000}), "input", "1000"),
    ("input nested too deep", request(input={"a": nested(100)}), "input", "100 levels"),
    (
        "env bad name",
        request(environmentVariables={"1BAD": "x"}),
        "environmentVariables.1BAD",
        "name",
    ),
    (
        "env non-string value",
        request(environmentVariables={"GOOD": 5}),
        "environmentVariables.GOOD",
        "string",
    ),
    (
        "env denied PATH",
        request(environmentVariables={"PATH": "/x"}),
        "environmentVariables.PATH",
        "break",
    ),
    (
        "env denied LD_PRELOAD",
        request(environmentVariables={"LD_PRELOAD": "x.so"}),
        "environmentVariables.LD_PRELOAD",
        "break",
    ),
    (
        "env NUL value",
        request(environmentVariables={"A": "x\u0000y"}),
        "environmentVariables.A",
        "NUL",
    ),
    (
        "env too many",
        request(environmentVariables={"A": "1", "B": "2", "C": "3", "D": "4"}),
        "environmentVariables",
        "limit is 3",
    ),
    ("env not an object", request(environmentVariables=["A=1"]), "environmentVariables", "dict"),
    ("sessionId too short", request(sessionId="abc"), "sessionId", "4 to 128"),
    ("sessionId bad chars", request(sessionId="abc def!"), "sessionId", "4 to 128"),
    ("sessionId too long", request(sessionId="a" * 129), "sessionId", "4 to 128"),
    ("preamble syntax error", request(runnerPreamble="import (\n"), "runnerPreamble", "line"),
    ("preamble too large", request(runnerPreamble="#" * 501), "runnerPreamble", "500"),
    ("command too long", request(commandOverride="python " + "x" * 100), "commandOverride", "100"),
    ("command empty", request(commandOverride="   "), "commandOverride", "command"),
    ("command unbalanced quote", request(commandOverride="python 'x"), "commandOverride", "split"),
    ("command NUL", request(commandOverride="python\u0000x"), "commandOverride", "NUL"),
    ("timeout zero", request(timeoutSeconds=0), "timeoutSeconds", "between 1 and 900"),
    ("timeout too big", request(timeoutSeconds=901), "timeoutSeconds", "between 1 and 900"),
    ("timeout a string", request(timeoutSeconds="60"), "timeoutSeconds", "integer"),
    ("timeout a bool", request(timeoutSeconds=True), "timeoutSeconds", "integer"),
    ("timeout a float", request(timeoutSeconds=1.5), "timeoutSeconds", "integer"),
    (
        "secret not allowed",
        request(secretEnvironmentVariables={"API_KEY": "SOME_OTHER_SETTING"}),
        "secretEnvironmentVariables.API_KEY",
        "SecretSettingsAllowList",
    ),
    (
        "secret also a plain variable",
        request(
            environmentVariables={"API_KEY": "x"},
            secretEnvironmentVariables={"API_KEY": "ALLOWED_SECRET"},
        ),
        "secretEnvironmentVariables.API_KEY",
        "also in environmentVariables",
    ),
    (
        "secret denied name",
        request(secretEnvironmentVariables={"HOME": "ALLOWED_SECRET"}),
        "secretEnvironmentVariables.HOME",
        "break",
    ),
    ("unknown field", request(workflowInput={}), "workflowInput", "unknown field"),
    ("null code", request(workflowCode=None), "workflowCode", "string"),
    ("input lone surrogate", request(input={"a": "\ud800"}), "input", "surrogate"),
    (
        "env lone surrogate",
        request(environmentVariables={"A": "\udc00"}),
        "environmentVariables.A",
        "surrogate",
    ),
    ("code lone surrogate", request(workflowCode="x = '\ud800'"), "workflowCode", "surrogate"),
]


@pytest.mark.parametrize(
    ("body", "path", "fragment"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_bad_request_names_the_field(settings, body, path, fragment):
    problem = problem_for(body, settings)
    assert problem.status == 400
    document = problem.body()
    assert set(document) == {"type", "title", "status", "detail", "errors"}
    assert document["status"] == 400
    paths = [e["path"] for e in document["errors"]]
    assert path in paths, document
    message = next(e["message"] for e in document["errors"] if e["path"] == path)
    assert fragment.lower() in message.lower(), message


def test_every_bad_field_is_listed_at_once(settings):
    body = {
        "workflowCode": "def main(:",
        "input": [1],
        "sessionId": "x",
        "environmentVariables": {"PATH": "/bin", "bad-name": "1", "OK": 3},
        "timeoutSeconds": 0,
        "commandOverride": "",
        "secretEnvironmentVariables": {"S": "NOPE"},
        "extra": True,
    }
    problem = problem_for(body, settings)
    paths = {e["path"] for e in problem.errors}
    assert paths >= {
        "workflowCode",
        "input",
        "sessionId",
        "environmentVariables.PATH",
        "environmentVariables.bad-name",
        "environmentVariables.OK",
        "timeoutSeconds",
        "commandOverride",
        "secretEnvironmentVariables.S",
        "extra",
    }
    assert "workflowCode" in problem.detail


def test_syntax_error_names_line_and_column(settings):
    problem = problem_for(request(workflowCode="x = 1\ndef run(payload)\n    pass\n"), settings)
    message = problem.errors[0]["message"]
    assert "line 2" in message and "column" in message


def test_command_override_makes_the_entrypoint_optional(settings):
    parsed = parse_workflow_request(
        json.dumps(request(workflowCode="print('hi')\n", commandOverride="python x.py")).encode(),
        content_type="application/json",
        settings=settings,
    )
    assert parsed.command_override == "python x.py"


def test_a_good_request_passes(settings):
    body = {
        "workflowCode": "async def run_workflow(workflow_input):\n    return {}\n",
        "input": {"input_as_text": "hello"},
        "sessionId": "my-session_01",
        "environmentVariables": {"MODE": "test"},
        "runnerPreamble": "import sys\n",
        "commandOverride": "python /mnt/data/run.py --verbose",
        "timeoutSeconds": 900,
        "secretEnvironmentVariables": {"API_KEY": "ALLOWED_SECRET"},
    }
    parsed = parse_workflow_request(
        json.dumps(body).encode(), content_type="application/json; charset=utf-8", settings=settings
    )
    assert parsed.session_id == "my-session_01"
    assert parsed.timeout_seconds == 900
    assert parsed.secret_environment_variables == {"API_KEY": "ALLOWED_SECRET"}


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"workflowCode": "x",}',
        b'{"workflowCode": NaN}',
        b"\xff\xfe",
        b'{"input": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
)
def test_malformed_json_is_400(settings, body):
    problem = problem_for(body, settings)
    assert problem.status == 400
    assert problem.title == "Malformed JSON"


def test_input_nested_up_to_the_limit_passes(settings):
    body = request(input={"a": nested(99)})
    raw = json.dumps(body).encode()
    assert parse_workflow_request(raw, content_type="application/json", settings=settings)


def test_empty_body_is_400(settings):
    assert problem_for(b"", settings).status == 400
    assert problem_for(b"  \n", settings).status == 400


def test_body_not_an_object_is_400(settings):
    problem = problem_for([1, 2], settings)
    assert problem.status == 400


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/xml", "application/json; charset=latin-1"]
)
def test_wrong_content_type_is_415(settings, content_type):
    with pytest.raises(ApiProblem) as info:
        parse_workflow_request(b"{}", content_type=content_type, settings=settings)
    assert info.value.status == 415


def test_body_over_the_hard_cap_is_413(settings):
    cap = settings.max_code_bytes + settings.max_input_bytes + 1024 * 1024
    problem = problem_for(b" " * (cap + 1), settings)
    assert problem.status == 413


@pytest.mark.parametrize(
    "source",
    [
        "def run(payload): pass",
        "async def run(payload): pass",
        "async def run_workflow(x): pass",
        "run = lambda payload: payload",
        "from mypkg import run",
        "from mypkg import main as run_workflow",
        "import run",
        "try:\n    from fast import run\nexcept ImportError:\n    def run(p): return p",
        "if True:\n    def run(p): return p",
        "class run:\n    pass",
        "run: object = print",
    ],
)
def test_entrypoint_detection_accepts(source):
    assert has_entrypoint(source)


@pytest.mark.parametrize(
    "source",
    [
        "def main(payload): pass",
        "def outer():\n    def run(p): pass",
        "class C:\n    def run(self): pass",
        "print('run')",
    ],
)
def test_entrypoint_detection_rejects(source):
    assert not has_entrypoint(source)


def test_deny_list_covers_the_documented_names():
    assert {"PATH", "PYTHONPATH", "PYTHONHOME", "LD_PRELOAD", "HOME"} <= DENIED_ENV_NAMES
