"""run.py finds the entrypoint, builds its argument and records the result."""

from __future__ import annotations

from tests.runner.conftest import RunRunner


def test_sync_run_gets_the_payload(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        def run(payload):
            return {"greeting": f"Hello, {payload.get('name', 'world')}!"}
        """,
        {"name": "Ada"},
    )
    assert done.returncode == 0, done.stderr
    assert done.output["status"] == "succeeded"
    assert done.output["result"] == {"greeting": "Hello, Ada!"}
    assert done.output["entrypoint"] == "run"
    assert isinstance(done.output["durationMs"], int)


def test_async_run_is_awaited(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        import asyncio

        async def run(payload):
            await asyncio.sleep(0)
            return payload["n"] * 2
        """,
        {"n": 21},
    )
    assert done.output == {**done.output, "status": "succeeded", "result": 42}


def test_sync_run_returning_an_awaitable_is_awaited(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        import asyncio

        async def _work(payload):
            return "later"

        def run(payload):
            return _work(payload)
        """,
    )
    assert done.output["result"] == "later"


def test_run_without_parameters_is_called_without_arguments(run_runner: RunRunner) -> None:
    done = run_runner("def run():\n    return 'no args'\n")
    assert done.output["result"] == "no args"


def test_missing_input_json_means_an_empty_object(run_runner: RunRunner) -> None:
    done = run_runner("def run(payload):\n    return {'got': payload}\n")
    assert not (done.data_dir / "input.json").exists()
    assert done.output["result"] == {"got": {}}


def test_invalid_input_json_is_a_clear_error(run_runner: RunRunner) -> None:
    done = run_runner("def run(payload):\n    return payload\n", raw_input='{"a": 1,')
    assert done.returncode == 1
    assert done.error["type"] == "InvalidInputJson"
    assert done.error["stage"] == "input"
    assert "line 1" in done.error["message"]


def test_run_is_preferred_when_both_entrypoints_exist(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        def run(payload):
            return "run"

        async def run_workflow(workflow_input):
            return "run_workflow"
        """,
    )
    assert (done.output["entrypoint"], done.output["result"]) == ("run", "run")


def test_an_imported_run_does_not_shadow_run_workflow(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        from subprocess import run

        async def run_workflow(workflow_input):
            return "run_workflow"
        """,
    )
    assert done.output["entrypoint"] == "run_workflow"


AGENT_BUILDER_SHAPE = """
    from pydantic import BaseModel


    class WorkflowInput(BaseModel):
      input_as_text: str


    # Main code entrypoint
    async def run_workflow(workflow_input: WorkflowInput):
      workflow = workflow_input.model_dump()
      kind = type(workflow_input).__name__
      return {"output_text": workflow["input_as_text"].upper(), "kind": kind}
"""


def test_agent_builder_shape_from_a_plain_string(run_runner: RunRunner) -> None:
    done = run_runner(AGENT_BUILDER_SHAPE, "hello there")
    assert done.returncode == 0, done.stderr
    assert done.output["entrypoint"] == "run_workflow"
    assert done.output["result"] == {"output_text": "HELLO THERE", "kind": "WorkflowInput"}


def test_agent_builder_shape_from_input_as_text(run_runner: RunRunner) -> None:
    done = run_runner(AGENT_BUILDER_SHAPE, {"input_as_text": "hi"})
    assert done.output["result"]["output_text"] == "HI"


def test_agent_builder_shape_with_the_field_missing(run_runner: RunRunner) -> None:
    done = run_runner(AGENT_BUILDER_SHAPE, {"text": "hi"})
    assert done.returncode == 1
    error = done.error
    assert error["type"] == "InputValidationError"
    assert error["stage"] == "input"
    assert "WorkflowInput" in error["message"]
    assert "input_as_text" in error["message"]
    assert error["details"][0]["loc"] == ["input_as_text"]
    assert error["details"][0]["type"] == "missing"
    assert "input_as_text" in error["hint"]


def test_extra_fields_fail_when_the_model_forbids_them(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        from pydantic import BaseModel, ConfigDict

        class WorkflowInput(BaseModel):
            model_config = ConfigDict(extra="forbid")
            input_as_text: str

        async def run_workflow(workflow_input: WorkflowInput):
            return workflow_input.input_as_text
        """,
        {"input_as_text": "hi", "temperature": 3},
    )
    assert done.error["type"] == "InputValidationError"
    assert done.error["details"] == [
        {"loc": ["temperature"], "msg": "Extra inputs are not permitted", "type": "extra_forbidden"}
    ]


def test_other_model_fields_are_validated_and_coerced(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        from __future__ import annotations
        from pydantic import BaseModel

        class Query(BaseModel):
            city: str
            days: int = 1

        async def run_workflow(workflow_input: Query):
            return {"city": workflow_input.city, "days": workflow_input.days}
        """,
        {"city": "Paris", "days": "3"},
    )
    assert done.output["result"] == {"city": "Paris", "days": 3}


def test_dataclass_annotation_is_built_from_the_object(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        from dataclasses import dataclass

        @dataclass
        class Order:
            item: str
            quantity: int = 1

        def run_workflow(workflow_input: Order):
            return f"{workflow_input.quantity} x {workflow_input.item}"
        """,
        {"item": "tea", "quantity": 2},
    )
    assert done.output["result"] == "2 x tea"


def test_dataclass_with_unknown_fields_is_an_input_error(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        from dataclasses import dataclass

        @dataclass
        class Order:
            item: str

        def run_workflow(workflow_input: Order):
            return workflow_input.item
        """,
        {"item": "tea", "colour": "green"},
    )
    assert done.error["type"] == "InputValidationError"
    assert "colour" in done.error["message"]


def test_unannotated_run_workflow_gets_the_raw_payload(run_runner: RunRunner) -> None:
    done = run_runner(
        "async def run_workflow(workflow_input):\n    return workflow_input\n",
        {"input_as_text": "raw", "n": 1},
    )
    assert done.output["result"] == {"input_as_text": "raw", "n": 1}


def test_run_payload_is_never_converted(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        from pydantic import BaseModel

        class WorkflowInput(BaseModel):
            input_as_text: str

        def run(payload: WorkflowInput):
            return type(payload).__name__
        """,
        "text",
    )
    assert done.output["result"] == "str"


def test_no_entrypoint_lists_what_the_module_defines(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        import json

        class Helper:
            pass

        def main(payload):
            return payload

        def _private():
            pass
        """,
    )
    assert done.returncode == 1
    error = done.error
    assert error["type"] == "EntrypointNotFound"
    assert error["stage"] == "entrypoint"
    assert "Helper, main" in error["message"]
    assert "_private" not in error["message"]
    assert "json" not in error["message"]
    assert error["details"] == {"defined": ["Helper", "main"]}
    assert "run_workflow" in error["hint"]


def test_runs_with_the_standard_library_only(run_runner: RunRunner) -> None:
    """``python -S`` hides site-packages: the runner must not need pydantic itself."""
    done = run_runner(
        """
        import dataclasses, datetime

        @dataclasses.dataclass
        class Out:
            when: datetime.date

        def run(payload):
            return Out(datetime.date(2024, 5, 1))
        """,
        python_args=("-S",),
    )
    assert done.returncode == 0, done.stderr
    assert done.output["result"] == {"when": "2024-05-01"}


def test_workflow_module_is_registered_for_dataclasses_and_pickle(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        import pickle, sys
        from dataclasses import dataclass

        @dataclass
        class Point:
            x: int

        def run(payload):
            assert sys.modules["workflow"].Point is Point
            return pickle.loads(pickle.dumps(Point(3))).x
        """,
    )
    assert done.output["result"] == 3, done.output


def test_sibling_modules_in_the_data_dir_are_importable(run_runner: RunRunner, tmp_path) -> None:
    (tmp_path / "helpers_for_test.py").write_text("VALUE = 'sibling'\n")
    done = run_runner("from helpers_for_test import VALUE\n\ndef run(payload):\n    return VALUE\n")
    assert done.output["result"] == "sibling"
