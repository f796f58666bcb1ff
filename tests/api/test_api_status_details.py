"""Status details: queuedMs, failure timings, the limit that ended a run."""

from __future__ import annotations

from datetime import UTC, datetime

from api.status import queued_ms, status_document
from orchestrator.errors import WorkflowRunError
from orchestrator.models import ErrorDoc, LimitDoc, Logs, Timings


def test_queued_ms_is_orchestrator_start_minus_created_time():
    assert queued_ms("2025-01-01T12:00:00Z", "2025-01-01T12:00:01.250000+00:00") == 1250
    created = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert queued_ms(created, "2025-01-01T12:00:00.5") == 500  # naive = UTC
    assert queued_ms(created, None) is None
    assert queued_ms(None, "2025-01-01T12:00:00Z") is None
    assert queued_ms("2025-01-01T12:00:02Z", "2025-01-01T12:00:00Z") == 0


def test_completed_runs_add_queued_ms_to_the_timings():
    document = status_document(
        instance_id="i1",
        runtime_status="Completed",
        custom_status={"phase": "completed", "startedAt": "2025-01-01T12:00:00.300000+00:00"},
        created_time=datetime(2025, 1, 1, 12, 0, tzinfo=UTC),
        output={
            "status": "succeeded",
            "result": 1,
            "executionId": "e1",
            "logs": {"stdoutTail": "out", "stderrTail": ""},
            "timings": {"uploadMs": 10, "runMs": 20, "collectMs": 5, "totalMs": 40},
        },
    )
    assert document["timings"] == {
        "queuedMs": 300,
        "uploadMs": 10,
        "runMs": 20,
        "collectMs": 5,
        "totalMs": 40,
    }
    assert document["logs"]["stdoutTail"] == "out"


def test_failed_runs_show_logs_timings_and_the_limit():
    error = WorkflowRunError(
        ErrorDoc(
            type="ExecutionTimeout",
            message="The command did not finish within 210 s",
            stage="running",
            logs=Logs(stdout_tail="partial", stderr_tail="warn"),
            execution_id="e9",
            limit=LimitDoc(name="AzureSession__MaxExecutionSeconds", seconds=210),
            timings=Timings(upload_ms=100, run_ms=210500, total_ms=210700),
        )
    )
    document = status_document(
        instance_id="i1",
        runtime_status="Failed",
        custom_status='{"phase": "failed", "startedAt": "2025-01-01T12:00:02+00:00"}',
        created_time="2025-01-01T12:00:00Z",
        output=f"Orchestrator function 'WorkflowOrchestrator' failed: {error}",
    )
    assert document["error"]["type"] == "ExecutionTimeout"
    assert document["error"]["limit"] == {
        "name": "AzureSession__MaxExecutionSeconds",
        "seconds": 210,
    }
    assert "timings" not in document["error"] and "logs" not in document["error"]
    assert document["logs"] == {"stdoutTail": "partial", "stderrTail": "warn"}
    assert document["timings"] == {
        "queuedMs": 2000,
        "uploadMs": 100,
        "runMs": 210500,
        "totalMs": 210700,
    }


def test_running_runs_have_no_timings_yet():
    document = status_document(
        instance_id="i1",
        runtime_status="Running",
        custom_status={"phase": "running", "startedAt": "2025-01-01T12:00:02+00:00"},
        created_time="2025-01-01T12:00:00Z",
    )
    assert "timings" not in document
