"""The ready-to-paste request printed by ``make run`` stays in sync with the example it submits."""

from __future__ import annotations

import json
from pathlib import Path

from api.validation import validate_request
from settings import SessionSettings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_hello_request_json_matches_the_workflow_and_input() -> None:
    request = json.loads((EXAMPLES / "hello" / "request.json").read_text())

    assert request["workflowCode"] == (EXAMPLES / "hello" / "workflow.py").read_text()
    assert request["input"] == json.loads((EXAMPLES / "hello" / "input.json").read_text())


def test_every_example_is_a_valid_request() -> None:
    settings = SessionSettings()
    for workflow in sorted(EXAMPLES.glob("*/workflow.py")):
        validate_request({"workflowCode": workflow.read_text()}, settings=settings)
