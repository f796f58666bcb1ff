"""run.py keeps the agent trace: the real Agents SDK, a real export, the offline model server."""

from __future__ import annotations

import json
from pathlib import Path

from model_server import run_model_server
from tests.runner.conftest import RunRunner
from tests.support.fixture_scripts import RECIPES, fixture_path, model_env


def _spans(data_dir: Path) -> list[dict]:
    lines = (data_dir / "trace.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _subsequence(wanted: list[str], seen: list[str]) -> bool:
    items = iter(seen)
    return all(any(kind == want for kind in items) for want in wanted)


def test_an_agent_builder_export_leaves_its_trace(run_runner: RunRunner) -> None:
    recipe = RECIPES["ghidx_weather_function_tool.py"]
    source = fixture_path(recipe.fixture).read_text(encoding="utf-8")
    with run_model_server(script=recipe.script) as server:
        # model_env disables the SDK's tracing, as many exports do: the trace is kept anyway
        env = model_env(server.base_url)
        run = run_runner(source, {"input_as_text": recipe.input_text}, env=env)
    assert run.output and run.output["status"] == "succeeded", run.stderr
    spans = _spans(run.data_dir)
    kinds = [span["type"] for span in spans]
    # spans are written as they end: response, tool, response, then the agent and the trace
    assert _subsequence(["response", "function", "response", "agent", "trace"], kinds), kinds
    tool = next(span for span in spans if span["type"] == "function")
    assert tool["name"] == "get_weather" and "Paris" in json.dumps(tool["data"]["input"])
    agent = next(span for span in spans if span["type"] == "agent")
    parents = {span["id"]: span["parentId"] for span in spans}
    chain, node = [], tool["id"]
    while node is not None and node not in chain:
        chain.append(node)
        node = parents.get(node)
    assert agent["id"] in chain, (chain, kinds)  # the tool ran inside the agent
    responses = [span for span in spans if span["type"] == "response"]
    assert all(span["data"]["usage"]["input"] > 0 for span in responses), responses
    assert all(span["startedAt"] <= span["endedAt"] for span in spans if span["startedAt"])
    progress = json.loads((run.data_dir / "progress.json").read_text())
    assert progress["steps"] == len([k for k in kinds if k != "trace"])
    assert progress["tokens"]["input"] == sum(s["data"]["usage"]["input"] for s in responses)
    assert progress["agent"] is None  # every agent span has ended
    assert "Traceback" not in run.stderr  # no failed export to OpenAI's endpoint


def test_plain_workflows_report_progress_without_an_import(run_runner: RunRunner) -> None:
    run = run_runner(
        """
        def run(payload):
            for i in range(3):
                aro_progress("step", index=i, note="x" * 5000)
            return "done"
        """
    )
    assert run.output and run.output["status"] == "succeeded", run.stderr
    spans = _spans(run.data_dir)
    assert [s["name"] for s in spans] == ["step"] * 3
    assert spans[2]["data"]["index"] == 2
    assert len(spans[0]["data"]["note"]) < 1100  # values are clipped
    progress = json.loads((run.data_dir / "progress.json").read_text())
    assert progress["steps"] == 3 and progress["last"]["name"] == "step"


def test_the_trace_is_bounded_and_a_stale_one_removed(run_runner: RunRunner, tmp_path) -> None:
    (tmp_path / "trace.jsonl").write_text('{"type": "stale"}\n')
    run = run_runner(
        """
        def run(payload):
            for i in range(5000):
                aro_progress("tick", i=i, pad="y" * 900)
        """
    )
    assert run.output and run.output["status"] == "succeeded", run.stderr
    size = (run.data_dir / "trace.jsonl").stat().st_size
    assert size <= 256 * 1024 + 100  # the cap, plus the truncation marker
    spans = _spans(run.data_dir)
    assert spans[0]["type"] == "progress" and spans[-1]["type"] == "truncated"
    assert json.loads((run.data_dir / "progress.json").read_text())["truncated"] is True


def test_a_workflow_without_agents_or_progress_writes_no_trace(run_runner: RunRunner) -> None:
    run = run_runner("def run(payload):\n    return 1\n")
    assert run.output and run.output["status"] == "succeeded"
    assert not (run.data_dir / "trace.jsonl").exists()
