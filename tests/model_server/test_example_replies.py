"""The walkthrough's scripted replies drive examples/agent_builder to its documented answer."""

from __future__ import annotations

import json
from pathlib import Path

from model_server import ModelServer
from model_server.__main__ import _load_script
from tests.support.workflows import load_workflow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agent_builder"


async def test_walkthrough_replies_complete_the_example(model_server: ModelServer) -> None:
    model_server.set_script(_load_script(EXAMPLE / "model_replies.json"))
    module = load_workflow(EXAMPLE / "workflow.py")
    text = json.loads((EXAMPLE / "input.json").read_text())["input_as_text"]

    result = await module.run_workflow(module.WorkflowInput(input_as_text=text))

    assert result == {"output_text": "It is partly cloudy in Paris, 18 °C."}
    tool_output = model_server.requests[2].body["input"][-1]
    assert tool_output["type"] == "function_call_output"
    assert "partly cloudy" in tool_output["output"]
