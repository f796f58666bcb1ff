"""Workflow results become JSON: models, dataclasses, RunResult-like objects and the rest."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import uuid
from pathlib import PurePosixPath

import pytest
from pydantic import BaseModel

from runner import _run_template as template
from tests.runner.conftest import RunRunner


class Colour(enum.Enum):
    RED = "red"


class Weather(BaseModel):
    city: str
    when: datetime.date


@dataclasses.dataclass
class Reading:
    value: decimal.Decimal
    tags: set[str]


@dataclasses.dataclass
class FakeRunResult:
    """Shaped like the Agents SDK's RunResult: a dataclass with final_output."""

    input: str
    final_output: object
    new_items: list


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("text", "text"),
        (3, 3),
        (2.5, 2.5),
        (True, True),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
        ((1, [2, (3,)]), [1, [2, [3]]]),
        ({"b", "a"}, ["a", "b"]),
        ({1: "x", None: "y"}, {"1": "x", "null": "y"}),
        (datetime.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05"),
        (datetime.date(2024, 1, 2), "2024-01-02"),
        (datetime.timedelta(seconds=90), 90.0),
        (decimal.Decimal("1.10"), "1.10"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (PurePosixPath("/mnt/data/x"), "/mnt/data/x"),
        (Colour.RED, "red"),
        (b"\x00\xff", {"__type__": "bytes", "base64": "AP8="}),
        (
            Weather(city="Oslo", when=datetime.date(2024, 1, 2)),
            {"city": "Oslo", "when": "2024-01-02"},
        ),
        (Reading(decimal.Decimal("2"), {"b", "a"}), {"value": "2", "tags": ["a", "b"]}),
        (
            FakeRunResult("q", Weather(city="Rome", when=datetime.date(2024, 1, 1)), []),
            {"city": "Rome", "when": "2024-01-01"},
        ),
        (Opaque(), {"__type__": f"{__name__}.Opaque", "repr": "<Opaque thing>"}),
        (BadRepr(), {"__type__": f"{__name__}.BadRepr", "repr": "<repr() failed: RuntimeError>"}),
    ],
)
def test_to_jsonable(value: object, expected: object) -> None:
    converted = template.to_jsonable(value)
    assert converted == expected
    json.dumps(converted, allow_nan=False)


def test_a_reference_cycle_is_not_serializable() -> None:
    cyclic: list = [1]
    cyclic.append(cyclic)
    with pytest.raises(template.RunnerError) as caught:
        template.to_jsonable(cyclic)
    assert caught.value.type == "ResultNotSerializable"


def test_shared_references_are_not_cycles() -> None:
    shared = {"a": 1}
    assert template.to_jsonable([shared, shared]) == [{"a": 1}, {"a": 1}]


def test_huge_reprs_are_bounded() -> None:
    class Big:
        def __repr__(self) -> str:
            return "x" * 100_000

    assert len(template.to_jsonable(Big())["repr"]) < template.REPR_MAX_CHARS + 50


RESULT_WORKFLOW = """
import dataclasses
from pydantic import BaseModel

class Answer(BaseModel):
    text: str
    score: float

@dataclasses.dataclass
class RunResult:
    final_output: Answer

@dataclasses.dataclass
class Box:
    answer: Answer

def run(payload):
    kind = payload["kind"]
    if kind == "model":
        return Answer(text="hi", score=0.5)
    if kind == "dataclass":
        return Box(Answer(text="boxed", score=1))
    if kind == "final_output":
        return RunResult(Answer(text="final", score=2))
    if kind == "none":
        return None
    return "plain string"
"""


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("model", {"text": "hi", "score": 0.5}),
        ("dataclass", {"answer": {"text": "boxed", "score": 1.0}}),
        ("final_output", {"text": "final", "score": 2.0}),
        ("none", None),
        ("string", "plain string"),
    ],
)
def test_results_are_serialized_in_output_json(
    run_runner: RunRunner, kind: str, expected: object
) -> None:
    done = run_runner(RESULT_WORKFLOW, {"kind": kind})
    assert done.returncode == 0, done.stderr
    assert done.output["status"] == "succeeded"
    assert done.output["result"] == expected


def test_a_non_serializable_result_fails_cleanly(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        def run(payload):
            loop = {"name": "loop"}
            loop["self"] = loop
            return loop
        """,
    )
    assert done.returncode == 1
    assert done.error["type"] == "ResultNotSerializable"
    assert done.error["stage"] == "serialize"
    assert "cycle" in done.error["message"]


def test_a_model_whose_dump_fails_is_not_serializable(run_runner: RunRunner) -> None:
    done = run_runner(
        """
        class Model:
            def model_dump(self, **kwargs):
                raise ValueError("cannot dump")

        def run(payload):
            return Model()
        """,
    )
    assert done.error["type"] == "ResultNotSerializable"
    assert "cannot dump" in done.error["message"]
