"""``aro.cli.main``: every exit code, what goes to stdout and stderr, and the requests sent."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pytest
import respx
from aro_support import FAILED_ERROR, URL, FakeClock, accepted, problem, status

from aro.cli import main


@pytest.fixture
def workflow(tmp_path: Path) -> Path:
    path = tmp_path / "workflow.py"
    path.write_text("def run(payload):\n    return payload\n", encoding="utf-8")
    return path


def cli(clock: FakeClock, *argv: str, environ: dict[str, str] | None = None) -> int:
    return main(list(argv), environ={"ARO_URL": URL} if environ is None else environ,
                sleep=clock.sleep, clock=clock)  # fmt: skip


def mock_run(router: respx.MockRouter, instance_id: str, *answers: httpx.Response) -> respx.Route:
    submit = router.post("/api/workflows").mock(return_value=accepted(instance_id))
    router.get(f"/api/workflowStatus/{instance_id}").mock(side_effect=list(answers))
    return submit


# --- run: exit 0 ----------------------------------------------------------------------------


def test_run_prints_pretty_result_json_to_stdout_and_phase_lines_to_stderr(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, workflow: Path,
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    submit = mock_run(
        router,
        instance_id,
        status(instance_id, "Pending", None, code=202),
        status(instance_id, "Running", "uploading", code=202),
        status(instance_id, "Running", "running", code=202),
        status(instance_id, "Running", "running", code=202),
        status(instance_id, "Completed", "completed", output={"greeting": "héllo", "n": [1, 2]}),
    )
    input_file = tmp_path / "input.json"
    input_file.write_text('{"name": "Ada"}', encoding="utf-8")

    code = cli(clock, "run", str(workflow), "--input", str(input_file), "--timeout", "30",
               "--env", "MODE=test", "--env", "EMPTY=", "--secret-env", "OPENAI_API_KEY=OpenAiKey",
               "--session-id", "sess-abcd", "--command", "python /mnt/data/run.py",
               "--idempotency-key", "idem-7", "--key", "fk")  # fmt: skip

    out, err = capsys.readouterr()
    assert code == 0
    assert json.loads(out) == {"greeting": "héllo", "n": [1, 2]}
    assert (
        out == json.dumps({"greeting": "héllo", "n": [1, 2]}, indent=2, ensure_ascii=False) + "\n"
    )
    assert err.splitlines() == [
        f"submitted {instance_id}",
        "[   0.0 s] Pending  phase: -",
        "[   0.2 s] Running  phase: uploading",
        "[   0.6 s] Running  phase: running",
        "[   2.0 s] Completed  phase: completed",
    ]
    request = submit.calls.last.request
    assert json.loads(request.content) == {
        "workflowCode": workflow.read_text(),
        "input": {"name": "Ada"},
        "sessionId": "sess-abcd",
        "environmentVariables": {"MODE": "test", "EMPTY": ""},
        "secretEnvironmentVariables": {"OPENAI_API_KEY": "OpenAiKey"},
        "commandOverride": "python /mnt/data/run.py",
        "timeoutSeconds": 30,
    }
    assert request.headers["x-functions-key"] == "fk"
    assert request.headers["Idempotency-Key"] == "idem-7"


def test_run_quiet_prints_only_the_result(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, workflow: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    mock_run(
        router,
        instance_id,
        status(instance_id, "Running", "running"),
        status(instance_id, "Completed", "completed", output=7),
    )
    assert cli(clock, "run", str(workflow), "--input-json", '{"a": 1}', "--quiet") == 0
    out, err = capsys.readouterr()
    assert out == "7\n"
    assert err == ""


def test_run_reads_input_from_stdin_and_key_and_url_from_env(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, workflow: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    submit = mock_run(
        router, instance_id, status(instance_id, "Completed", "completed", output=None)
    )
    monkeypatch.setattr("sys.stdin", io.StringIO('{"from": "stdin"}'))
    environ = {"ARO_URL": URL + "/", "ARO_FUNCTION_KEY": "env-key"}
    assert cli(clock, "run", str(workflow), "--input", "-", "-q", environ=environ) == 0
    request = submit.calls.last.request
    assert json.loads(request.content)["input"] == {"from": "stdin"}
    assert request.headers["x-functions-key"] == "env-key"
    assert capsys.readouterr().out == "null\n"


def test_run_undecodable_stdin_exits_2_without_a_request(
    router: respx.MockRouter, clock: FakeClock, workflow: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    submit = router.post("/api/workflows")
    stdin = io.TextIOWrapper(io.BytesIO(b'{"name": "\xff"}'), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", stdin)
    assert cli(clock, "run", str(workflow), "--input", "-") == 2
    assert "cannot read the input from stdin" in capsys.readouterr().err
    assert submit.call_count == 0


def test_run_no_wait_prints_the_id_and_does_not_poll(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, workflow: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    mock_run(router, instance_id)
    poll = router.get(f"/api/workflowStatus/{instance_id}")
    assert cli(clock, "run", str(workflow), "--no-wait") == 0
    out, err = capsys.readouterr()
    assert out == instance_id + "\n"
    assert err == ""
    assert poll.call_count == 0


# --- run: exit 1 ----------------------------------------------------------------------------


def test_run_failed_workflow_prints_error_hint_and_traceback_tail(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, workflow: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    mock_run(router, instance_id, status(instance_id, "Failed", "failed", error=FAILED_ERROR))
    assert cli(clock, "run", str(workflow), "-q") == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"workflow {instance_id} failed: ValueError: boom" in err
    assert "stage: running" in err
    assert "hint: check the input" in err
    assert "ValueError: boom\n" in err
    assert "line 29" in err and "line 10" not in err  # only the tail


@pytest.mark.parametrize("runtime", ["Terminated", "Canceled"])
def test_run_terminated_or_canceled_exits_1(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, workflow: Path,
    capsys: pytest.CaptureFixture[str], runtime: str,
) -> None:  # fmt: skip
    mock_run(router, instance_id, status(instance_id, runtime, "canceled"))
    assert cli(clock, "run", str(workflow), "-q") == 1
    assert f"workflow {instance_id} {runtime.lower()}" in capsys.readouterr().err


def test_run_failure_without_traceback_shows_stderr_tail(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, workflow: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    mock_run(
        router,
        instance_id,
        status(
            instance_id, "Failed", "failed",
            error={"type": "LauncherTimeout", "message": "ran past 30 s"},
            logs={"stdoutTail": "", "stderrTail": "warning: slow\n"},
        ),
    )  # fmt: skip
    assert cli(clock, "run", str(workflow), "-q") == 1
    err = capsys.readouterr().err
    assert "LauncherTimeout: ran past 30 s" in err
    assert "warning: slow" in err


# --- run: exit 2 ----------------------------------------------------------------------------


def test_run_400_problem_lists_every_field(
    router: respx.MockRouter, clock: FakeClock, workflow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    errors = [
        {"path": "sessionId", "message": "must be 4-128 characters of [A-Za-z0-9-_]"},
        {"path": "environmentVariables.PATH", "message": "may not be set"},
        {"path": "", "message": "body too odd"},
    ]
    router.post("/api/workflows").mock(
        return_value=problem(400, "Invalid request", "3 fields are invalid", errors)
    )
    assert cli(clock, "run", str(workflow), "--session-id", "x!", "--env", "PATH=/x") == 2
    err = capsys.readouterr().err
    assert "request rejected (HTTP 400): Invalid request: 3 fields are invalid" in err
    assert "  - sessionId: must be 4-128 characters of [A-Za-z0-9-_]" in err
    assert "  - environmentVariables.PATH: may not be set" in err
    assert "  - (body): body too odd" in err


def test_run_idempotency_conflict_exits_2(
    router: respx.MockRouter, clock: FakeClock, workflow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    router.post("/api/workflows").mock(
        return_value=problem(409, "Conflict", "key used with another body")
    )
    assert cli(clock, "run", str(workflow), "--idempotency-key", "k") == 2
    assert "key used with another body" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "missing.json"], "cannot read input file missing.json"),
        (["--input-json", "{not json"], "is not valid JSON"),
        (["--input-json", '"just text"'], "must be a JSON object, not str"),
        (["--preamble", "nope.py"], "cannot read preamble file nope.py"),
    ],
)
def test_run_bad_input_exits_2_without_a_request(
    router: respx.MockRouter, clock: FakeClock, workflow: Path,
    capsys: pytest.CaptureFixture[str], args: list[str], message: str,
) -> None:  # fmt: skip
    submit = router.post("/api/workflows")
    assert cli(clock, "run", str(workflow), *args) == 2
    assert message in capsys.readouterr().err
    assert submit.call_count == 0


def test_run_missing_workflow_file_exits_2(
    clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(clock, "run", str(tmp_path / "nope.py")) == 2
    assert "cannot read workflow file" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["run"],
        ["run", "w.py", "--env", "NOEQUALS"],
        ["run", "w.py", "--timeout", "0"],
        ["run", "w.py", "--input", "a", "--input-json", "{}"],
        ["status"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(
    clock: FakeClock, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert cli(clock, *args) == 2
    assert "usage:" in capsys.readouterr().err


def test_help_exits_0(clock: FakeClock, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(clock, "--help") == 0
    assert "exit codes" in capsys.readouterr().out


# --- run: exit 3 ----------------------------------------------------------------------------


def test_unreachable_server_names_the_url_and_suggests_make_run(
    router: respx.MockRouter, clock: FakeClock, workflow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    router.post("/api/workflows").mock(side_effect=httpx.ConnectError("Connection refused"))
    assert cli(clock, "run", str(workflow)) == 3
    err = capsys.readouterr().err
    assert URL in err
    assert "make run" in err


def test_unauthorized_suggests_the_key(
    router: respx.MockRouter, clock: FakeClock, workflow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    router.post("/api/workflows").respond(401)
    assert cli(clock, "run", str(workflow)) == 3
    assert "ARO_FUNCTION_KEY" in capsys.readouterr().err


def test_server_error_exits_3(
    router: respx.MockRouter, clock: FakeClock, workflow: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    router.post("/api/workflows").mock(return_value=problem(500, "Server error", "durable down"))
    assert cli(clock, "run", str(workflow)) == 3
    assert "HTTP 500" in capsys.readouterr().err


# --- run: exit 4 and 130 ----------------------------------------------------------------------


def test_wait_timeout_exits_4_and_names_the_instance(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, workflow: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    router.post("/api/workflows").mock(return_value=accepted(instance_id))
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        return_value=status(instance_id, "Running", "running")
    )
    assert cli(clock, "run", str(workflow), "--wait-timeout", "5", "-q") == 4
    err = capsys.readouterr().err
    assert f"gave up waiting for {instance_id} after 5 s" in err
    assert f"python -m aro status {instance_id}" in err
    assert sum(clock.sleeps) == pytest.approx(5.0)


def test_default_wait_timeout_is_server_timeout_plus_60(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, workflow: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    router.post("/api/workflows").mock(return_value=accepted(instance_id))
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        return_value=status(instance_id, "Running", "running")
    )
    assert cli(clock, "run", str(workflow), "--timeout", "10", "-q") == 4
    assert sum(clock.sleeps) == pytest.approx(70.0)


def test_ctrl_c_while_waiting_prints_id_and_cancel_hint(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, workflow: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    router.post("/api/workflows").mock(return_value=accepted(instance_id))
    router.get(f"/api/workflowStatus/{instance_id}").mock(
        return_value=status(instance_id, "Running", "running")
    )
    cancel = router.post(f"/api/workflows/{instance_id}/cancel")

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    code = main(
        ["run", str(workflow), "-q"], environ={"ARO_URL": URL}, sleep=interrupt, clock=clock
    )
    assert code == 130
    err = capsys.readouterr().err
    assert instance_id in err
    assert f"python -m aro cancel {instance_id} --url {URL}" in err
    assert cancel.call_count == 0  # it asks nothing and cancels nothing


# --- status ---------------------------------------------------------------------------------


def test_status_human_and_json(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    document = status(
        instance_id, "Completed", "completed", output={"x": 1},
        timings={"queuedMs": 5, "uploadMs": 10, "runMs": 900, "collectMs": 7, "totalMs": 930},
    )  # fmt: skip
    router.get(f"/api/workflowStatus/{instance_id}").mock(side_effect=[document, document])
    assert cli(clock, "status", instance_id) == 0
    out = capsys.readouterr().out
    assert f"id:       {instance_id}" in out
    assert "status:   Completed" in out
    assert "run 900 ms" in out and "total 930 ms" in out
    assert '"x": 1' in out

    assert cli(clock, "status", instance_id, "--json") == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["instanceId"] == instance_id
    assert parsed["output"] == {"x": 1}
    assert parsed["timings"]["runMs"] == 900


def test_status_unknown_id_exits_2(
    router: respx.MockRouter, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    router.get("/api/workflowStatus/nope").mock(return_value=problem(404, "Not found", "x"))
    assert cli(clock, "status", "nope") == 2
    assert "no workflow instance 'nope'" in capsys.readouterr().err


# --- cancel ---------------------------------------------------------------------------------


def test_cancel_accepted(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    route = router.post(f"/api/workflows/{instance_id}/cancel").mock(
        return_value=status(instance_id, "Running", "canceling", code=202)
    )
    assert cli(clock, "cancel", instance_id, "--reason", "changed my mind") == 0
    assert json.loads(route.calls.last.request.content) == {"reason": "changed my mind"}
    assert f"cancel requested for {instance_id}" in capsys.readouterr().out


def test_cancel_conflict_explains_it_already_finished(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    router.post(f"/api/workflows/{instance_id}/cancel").mock(
        return_value=problem(409, "Conflict", f"instance {instance_id} already Completed")
    )
    assert cli(clock, "cancel", instance_id) == 1
    err = capsys.readouterr().err
    assert f"cannot cancel {instance_id}: instance {instance_id} already Completed" in err
    assert f"python -m aro status {instance_id}" in err


def test_cancel_unknown_id_exits_2(
    router: respx.MockRouter, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    router.post("/api/workflows/nope/cancel").mock(return_value=problem(404, "Not found", "x"))
    assert cli(clock, "cancel", "nope") == 2


# --- list -----------------------------------------------------------------------------------


def _page(ids: list[str], token: str | None) -> httpx.Response:
    items = [
        {"instanceId": i, "runtimeStatus": "Running", "phase": "running",
         "createdTime": "2025-01-01T00:00:00Z"}
        for i in ids
    ]  # fmt: skip
    return httpx.Response(200, json={"items": items, "continuationToken": token})


def test_list_all_follows_continuation_tokens(
    router: respx.MockRouter, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    route = router.get("/api/workflows").mock(
        side_effect=[_page(["a", "b"], "t1"), _page(["c"], None)]
    )
    assert cli(clock, "list", "--status", "Running", "--top", "2", "--all", "--json") == 0
    items = json.loads(capsys.readouterr().out)
    assert [i["instanceId"] for i in items] == ["a", "b", "c"]
    assert route.calls[1].request.url.params["continuationToken"] == "t1"


def test_list_one_page_mentions_more(
    router: respx.MockRouter, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    route = router.get("/api/workflows").mock(return_value=_page(["a", "b"], "t1"))
    assert cli(clock, "list", "--top", "2") == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].split() == ["a", "Running", "running", "2025-01-01T00:00:00+00:00"]
    assert len(out.splitlines()) == 2
    assert "--continuation-token t1" in err
    assert route.call_count == 1


# --- an older or wrong server ---------------------------------------------------------------


def test_missing_cancel_route_is_not_an_unknown_id(
    router: respx.MockRouter, clock: FakeClock, instance_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    router.post(f"/api/workflows/{instance_id}/cancel").respond(404, text="Not Found")
    assert cli(clock, "cancel", instance_id) == 3
    err = capsys.readouterr().err
    assert "does not offer `cancel` (HTTP 404)" in err
    assert "no workflow instance" not in err


def test_list_method_not_allowed_exits_3(
    router: respx.MockRouter, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    router.get("/api/workflows").respond(405, text="Method Not Allowed")
    assert cli(clock, "list") == 3
    assert "does not offer `list` (HTTP 405)" in capsys.readouterr().err
