"""``python -m aro``: run a workflow file and print its result; status, cancel and list instances.

Exit codes: 0 completed (or the command worked); 1 the workflow failed, was terminated or
canceled; 2 usage or input error (bad file, rejected request, unknown id); 3 HTTP or
connection error; 4 the client stopped waiting (the workflow goes on); 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aro import _protocol as proto
from aro.client import WorkflowClient
from aro.errors import (
    ApiError,
    AroError,
    Conflict,
    ConnectionFailed,
    NotFound,
    Unauthorized,
    ValidationFailed,
    WaitTimeout,
)
from aro.models import Submission, WorkflowStatus
from aro.progress import make_progress
from aro.trace_tree import render as render_trace

EXIT_OK = 0
EXIT_WORKFLOW_FAILED = 1
EXIT_USAGE = 2
EXIT_HTTP = 3
EXIT_WAIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130

URL_ENV = "ARO_URL"
KEY_ENV = "ARO_FUNCTION_KEY"
#: The server's largest allowed deadline; ``--wait-timeout`` defaults to it + the margin.
SERVER_MAX_TIMEOUT_SECONDS = 900
WAIT_MARGIN_SECONDS = 60
#: Lines of a traceback or stderr tail shown for a failed workflow.
TAIL_LINES = 20
PROG = "python -m aro"


class UsageError(Exception):
    """Bad arguments or input files: exit code 2."""


# --- argument parsing --------------------------------------------------------------------


def _pair(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` as a pair (argparse ``type``)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    """The argument parser; ``environ`` supplies ``ARO_URL`` and ``ARO_FUNCTION_KEY`` defaults."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=environ.get(URL_ENV) or proto.DEFAULT_URL,
        help=f"the Functions host (env {URL_ENV}; default {proto.DEFAULT_URL})",
    )
    common.add_argument(
        "--key",
        default=environ.get(KEY_ENV) or None,
        help=f"function key, sent as x-functions-key (env {KEY_ENV})",
    )

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run Python workflows on the Agent Runtime Orchestrator.",
        epilog="exit codes: 0 ok, 1 workflow failed, 2 usage/input error, "
        "3 HTTP/connection error, 4 wait timeout, 130 interrupted",
    )
    commands = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run", parents=[common], help="submit a workflow, wait, print its result as JSON"
    )
    run.add_argument("workflow", metavar="WORKFLOW.py", help="the workflow module to run")
    source = run.add_mutually_exclusive_group()
    source.add_argument("--input", metavar="FILE", help="JSON object input file ('-' = stdin)")
    source.add_argument("--input-json", metavar="JSON", help="JSON object input, inline")
    run.add_argument(
        "--env", action="append", type=_pair, default=[], metavar="K=V",
        help="environment variable for the workflow (repeatable)",
    )  # fmt: skip
    run.add_argument(
        "--secret-env", action="append", type=_pair, default=[], metavar="K=SETTING",
        help="variable K gets the value of server app setting SETTING (repeatable)",
    )  # fmt: skip
    run.add_argument("--session-id", metavar="ID", help="reuse this session")
    run.add_argument(
        "--session-strategy", choices=["ephemeral", "reuse"], help="what happens to the session"
    )
    run.add_argument("--preamble", metavar="FILE", help="Python run before the workflow loads")
    run.add_argument(
        "--command", dest="command_override", metavar="CMD", help="command instead of python run.py"
    )
    run.add_argument(
        "--timeout", type=_positive_int, metavar="SECONDS", help="server-side deadline"
    )
    run.add_argument(
        "--wait-timeout", type=_positive_float, metavar="SECONDS",
        help="stop waiting after this long (default: --timeout + 60, or "
        f"{SERVER_MAX_TIMEOUT_SECONDS + WAIT_MARGIN_SECONDS})",
    )  # fmt: skip
    run.add_argument("--idempotency-key", metavar="KEY", help="resubmitting is then safe")
    run.add_argument(
        "--callback-url", metavar="URL", help="the server POSTs the final status there (signed)"
    )
    run.add_argument("--no-wait", action="store_true", help="print the instance id and exit")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    trace = commands.add_parser(
        "trace", parents=[common], help="print a finished run's agent trace as a tree"
    )
    trace.add_argument("id", help="instance id")
    trace.add_argument("--json", action="store_true", help="print the spans as JSON")

    status = commands.add_parser("status", parents=[common], help="show an instance's status")
    status.add_argument("id", metavar="ID")
    status.add_argument("--json", action="store_true", help="the full status document")

    cancel = commands.add_parser("cancel", parents=[common], help="cancel a running instance")
    cancel.add_argument("id", metavar="ID")
    cancel.add_argument("--reason", metavar="TEXT", help="recorded with the cancellation")

    listing = commands.add_parser("list", parents=[common], help="list instances")
    listing.add_argument("--status", metavar="S", help="only this runtime status, e.g. Running")
    listing.add_argument("--top", type=_positive_int, metavar="N", help="page size")
    listing.add_argument("--all", action="store_true", help="follow continuation tokens")
    listing.add_argument("--continuation-token", metavar="TOKEN", help="start at this page")
    listing.add_argument("--json", action="store_true", help="print the items as JSON")
    return parser


# --- output helpers ----------------------------------------------------------------------


def _err(text: str = "") -> None:
    print(text, file=sys.stderr, flush=True)


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _dump(status: WorkflowStatus) -> dict[str, Any]:
    return status.model_dump(mode="json", by_alias=True, exclude_none=True)


def report_failure(status: WorkflowStatus) -> None:
    """Tell the user why a workflow ended without a result (stderr)."""
    verb = status.runtime_status.lower()
    error = status.error
    if error is None:
        _err(f"workflow {status.instance_id} {verb}")
        return
    _err(f"workflow {status.instance_id} {verb}: {error.type}: {error.message}")
    if error.stage:
        _err(f"  stage: {error.stage}")
    if error.hint:
        _err(f"  hint: {error.hint}")
    if error.traceback:
        _err(f"traceback (last {TAIL_LINES} lines):")
        _err(_indent(_tail(error.traceback)))
    elif status.logs and status.logs.stderr_tail:
        _err(f"stderr (last {TAIL_LINES} lines):")
        _err(_indent(_tail(status.logs.stderr_tail)))


def report_problem(error: ApiError) -> None:
    """Print a problem answer with every field error."""
    problem = error.problem
    _err(f"request rejected (HTTP {error.status}): {problem.summary()}")
    for field in problem.errors:
        _err(f"  - {field.path or '(body)'}: {field.message}")


def report_missing_route(exc: ApiError, *, command: str, url: str) -> int:
    """A 404/405 that is not the API's own answer: wrong URL, or an older server."""
    _err(f"error: the server at {url} does not offer `{command}` (HTTP {exc.status}).")
    _err("Is --url the Functions host (e.g. http://127.0.0.1:7071), and is the server current?")
    return EXIT_HTTP


def report_error(exc: AroError, *, command: str, url: str) -> int:
    """Print ``exc`` for a human and return its exit code."""
    if isinstance(exc, ConnectionFailed):
        _err(f"error: {exc.message}")
        _err("Is it running? Start the local stack with `make run`, or pass --url / set ARO_URL.")
        return EXIT_HTTP
    if isinstance(exc, ValidationFailed):
        report_problem(exc)
        return EXIT_USAGE
    if isinstance(exc, Unauthorized):
        _err(f"error: {url} refused the request (HTTP {exc.status}): {exc.problem.summary()}")
        _err(f"Pass the function key with --key or set {KEY_ENV}.")
        return EXIT_HTTP
    if isinstance(exc, WaitTimeout):
        _err(f"error: {exc.message}")
        _err(f"The workflow goes on. Check it later: {PROG} status {exc.instance_id} --url {url}")
        return EXIT_WAIT_TIMEOUT
    if isinstance(exc, ApiError) and exc.status == 405:
        return report_missing_route(exc, command=command, url=url)
    if isinstance(exc, ApiError):
        _err(f"error: HTTP {exc.status} from {url}: {exc.problem.summary()}")
        return EXIT_HTTP
    _err(f"error: {exc.message}")
    return EXIT_HTTP


# --- commands ----------------------------------------------------------------------------


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {what} {path}: {exc}") from exc


def _load_input(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.input_json is not None:
        text, where = args.input_json, "--input-json"
    elif args.input == "-":
        try:
            text, where = sys.stdin.read(), "stdin"
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the input from stdin: {exc}") from exc
    elif args.input is not None:
        text, where = _read_text(args.input, "input file"), args.input
    else:
        return None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"input from {where} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise UsageError(
            f"input from {where} must be a JSON object, not {type(document).__name__}"
            ' (for Agent Builder text input use {"input_as_text": "..."})'
        )
    return document


def build_submission(args: argparse.Namespace) -> Submission:
    """The request ``aro run`` sends, from its arguments and files."""
    fields: dict[str, Any] = {
        "workflow_code": _read_text(args.workflow, "workflow file"),
        "input": _load_input(args),
        "session_id": args.session_id,
        "session_strategy": args.session_strategy,
        "command_override": args.command_override,
        "timeout_seconds": args.timeout,
        "environment_variables": dict(args.env) or None,
        "secret_environment_variables": dict(args.secret_env) or None,
        "callback_url": args.callback_url,
    }
    if args.preamble:
        fields["runner_preamble"] = _read_text(args.preamble, "preamble file")
    try:
        return Submission(**fields)
    except ValidationError as exc:
        raise UsageError(str(exc)) from exc


def _wait_timeout(args: argparse.Namespace) -> float:
    if args.wait_timeout is not None:
        return float(args.wait_timeout)
    return float((args.timeout or SERVER_MAX_TIMEOUT_SECONDS) + WAIT_MARGIN_SECONDS)


def cmd_run(args: argparse.Namespace, client: WorkflowClient) -> int:
    """Submit, follow the phases, print the result."""
    submission = build_submission(args)
    accepted = client.submit(submission, idempotency_key=args.idempotency_key)
    if args.no_wait:
        print(accepted.id, flush=True)
        return EXIT_OK
    progress = make_progress(sys.stderr, quiet=args.quiet, clock=client.clock, sleep=client.sleep)
    progress.note(f"submitted {accepted.id}")
    try:
        status = client.wait(
            accepted.id,
            timeout=_wait_timeout(args),
            on_update=progress.update,
            sleep=progress.sleep,
        )
    except KeyboardInterrupt:
        progress.close()
        _err(f"interrupted; workflow {accepted.id} goes on running on the server.")
        _err(f"  check it:  {PROG} status {accepted.id} --url {client.url}")
        _err(f"  cancel it: {PROG} cancel {accepted.id} --url {client.url}")
        return EXIT_INTERRUPTED
    finally:
        progress.close()
    if status.succeeded:
        _print_json(status.output)
        return EXIT_OK
    report_failure(status)
    return EXIT_WORKFLOW_FAILED


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


def _format_ms(value: int | None) -> str:
    return "-" if value is None else f"{value} ms"


def cmd_status(args: argparse.Namespace, client: WorkflowClient) -> int:
    """Print one instance's status."""
    status = client.status(args.id)
    if args.json:
        _print_json(_dump(status))
        return EXIT_OK
    rows = [
        ("id", status.instance_id),
        ("status", status.runtime_status),
        ("phase", status.phase or "-"),
        ("created", _when(status.created_time)),
        ("updated", _when(status.last_updated_time)),
    ]
    if status.timings:
        t = status.timings
        rows.append(
            (
                "timings",
                f"queued {_format_ms(t.queued_ms)}, upload {_format_ms(t.upload_ms)}, "
                f"run {_format_ms(t.run_ms)}, collect {_format_ms(t.collect_ms)}, "
                f"total {_format_ms(t.total_ms)}",
            )
        )
    if status.error:
        rows.append(("error", f"{status.error.type}: {status.error.message}"))
        if status.error.hint:
            rows.append(("hint", status.error.hint))
    for name, value in rows:
        print(f"{name + ':':9} {value}")
    if status.succeeded:
        print("output:")
        _print_json(status.output)
    return EXIT_OK


def cmd_trace(args: argparse.Namespace, client: WorkflowClient) -> int:
    """Print a run's spans as an indented tree (or JSON)."""
    spans = client.trace(args.id)
    if args.json:
        _print_json(spans)
    elif not spans:
        _err(f"{args.id} has no trace (it has not ended, or it used no agents nor aro_progress)")
    else:
        for line in render_trace(spans):
            print(line)
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace, client: WorkflowClient) -> int:
    """Ask the server to cancel an instance."""
    try:
        status = client.cancel(args.id, reason=args.reason)
    except Conflict as exc:
        _err(f"cannot cancel {args.id}: {exc.problem.detail or exc.problem.title}")
        _err(f"It already finished; see `{PROG} status {args.id}`.")
        return EXIT_WORKFLOW_FAILED
    print(f"cancel requested for {status.instance_id} (now {status.runtime_status})")
    return EXIT_OK


def cmd_list(args: argparse.Namespace, client: WorkflowClient) -> int:
    """List instances, one page or all of them."""
    more: str | None = None
    if args.all:
        items = list(client.iter_all(status=args.status, top=args.top))
    else:
        page = client.list(
            status=args.status, top=args.top, continuation_token=args.continuation_token
        )
        items, more = page.items, page.continuation_token
    if args.json:
        _print_json([_dump(item) for item in items])
    else:
        for item in items:
            phase, created = item.phase or "-", _when(item.created_time)
            print(f"{item.instance_id}  {item.runtime_status:<10} {phase:<12} {created}")
    if more:
        _err(f"more instances: pass --all, or --continuation-token {more}")
    return EXIT_OK


COMMANDS = {
    "run": cmd_run,
    "status": cmd_status,
    "trace": cmd_trace,
    "cancel": cmd_cancel,
    "list": cmd_list,
}


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Run the CLI and return its exit code (never raises ``SystemExit``).

    ``environ`` defaults to ``os.environ``; ``sleep`` and ``clock`` are for tests.
    """
    parser = build_parser(os.environ if environ is None else environ)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    url = proto.normalize_base_url(args.url)
    try:
        with WorkflowClient(url, key=args.key, sleep=sleep, clock=clock) as client:
            return COMMANDS[args.subcommand](args, client)
    except UsageError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    except NotFound as exc:
        if exc.from_api and args.subcommand in ("status", "cancel"):
            _err(f"error: no workflow instance {args.id!r} at {url}")
            return EXIT_USAGE
        return report_missing_route(exc, command=args.subcommand, url=url)
    except Conflict as exc:
        report_problem(exc)
        _err("An idempotency key may be reused only with the same request.")
        return EXIT_USAGE
    except AroError as exc:
        return report_error(exc, command=args.subcommand, url=url)
    except KeyboardInterrupt:
        _err("\ninterrupted")
        return EXIT_INTERRUPTED
