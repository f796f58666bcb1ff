"""A full pool becomes SessionPoolExhausted; every log line names instance and execution."""

from __future__ import annotations

import json
import logging

import pytest

from activities import session_activities as acts
from orchestrator.models import SessionRef, StartRequest, UploadRequest
from session_client.errors import SessionNotFound
from telemetry import bind, get_logger

SESSION = SessionRef(strategy="ephemeral")


def upload_request(instance_id: str) -> str:
    return UploadRequest(
        instance_id=instance_id, session=SESSION, workflow_code="def run(p):\n    return p\n"
    ).to_wire()


def start_request(instance_id: str) -> str:
    return StartRequest(
        instance_id=instance_id,
        session=SESSION,
        execution_id="exec-pool",
        command="python /mnt/data/run.py",
        timeout_seconds=10,
        execution_timeout_seconds=20,
    ).to_wire()


def pool_full(code: str | None = "SessionPoolCapacityExceeded", message: str | None = None):
    return SessionNotFound(
        message or "The session pool has reached its maximum of 2 concurrent sessions.",
        status_code=404,
        code=code,
    )


@pytest.mark.parametrize(
    "exc",
    [
        pool_full(),
        pool_full(code=None),  # no code: the message says so
        pool_full(code="NotFound", message="Session pool capacity reached"),
    ],
)
def test_pool_exhaustion_is_recognised(exc):
    assert acts.is_pool_exhausted(exc)


@pytest.mark.parametrize(
    "exc",
    [
        SessionNotFound("File 'output.json' not found.", status_code=404, code="FileNotFound"),
        SessionNotFound("Session not found.", status_code=404, code="SessionNotFound"),
        SessionNotFound("GET /pool failed with 404", status_code=404),
        SessionNotFound("maximum of 2 concurrent sessions", status_code=404, code="FileNotFound"),
        RuntimeError("maximum of 2 concurrent sessions"),
    ],
)
def test_other_404s_are_not_pool_exhaustion(exc):
    assert not acts.is_pool_exhausted(exc)


async def test_upload_to_a_full_pool_reports_session_pool_exhausted(
    settings, fake_client, instance_id
):
    fake_client.fail["upload_files"] = pool_full()
    result = json.loads(
        await acts.upload_workflow_files(upload_request(instance_id), settings=settings)
    )
    assert result["error"]["type"] == "SessionPoolExhausted"
    assert result["error"]["code"] == "SessionPoolCapacityExceeded"
    assert result["error"]["status_code"] == 404
    assert "pool is full" in result["error"]["message"]


async def test_start_on_a_full_pool_reports_session_pool_exhausted(
    settings, fake_client, instance_id
):
    fake_client.fail["start_execution"] = pool_full()
    result = json.loads(await acts.start_execution(start_request(instance_id), settings=settings))
    assert result["error"]["type"] == "SessionPoolExhausted"


async def test_activity_log_lines_carry_the_ids_but_not_the_identifier(
    settings, fake_client, instance_id, caplog
):
    caplog.set_level(logging.DEBUG, logger="activities")
    await acts.start_execution(start_request(instance_id), settings=settings)
    records = [r for r in caplog.records if r.name == "activities"]
    assert records
    for record in records:
        assert record.instance_id == instance_id
        assert record.execution_id == "exec-pool"
        assert record.getMessage().startswith(f"[instance={instance_id} execution=exec-pool] ")
    identifier = fake_client.called("start_execution")[0][0][0]
    assert identifier not in caplog.text


async def test_log_ids_are_unbound_after_the_activity(settings, fake_client, instance_id, caplog):
    caplog.set_level(logging.INFO, logger="aro-test")
    await acts.upload_workflow_files(upload_request(instance_id), settings=settings)
    get_logger("aro-test").info("outside")
    assert caplog.records[-1].getMessage() == "[instance=- execution=-] outside"
    assert caplog.records[-1].instance_id == "-"


def test_bind_nests_and_explicit_ids_win(caplog):
    caplog.set_level(logging.INFO, logger="aro-test")
    log = get_logger("aro-test")
    with bind(instance_id="i1"):
        log.info("a")
        with bind(execution_id="e1"):
            log.info("b")
        log.for_run(instance_id="i2", execution_id="e2").info("c")
    assert [r.getMessage() for r in caplog.records] == [
        "[instance=i1 execution=-] a",
        "[instance=i1 execution=e1] b",
        "[instance=i2 execution=e2] c",
    ]
