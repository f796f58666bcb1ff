"""Smoke-test a deployed (or local) app: submit examples/hello, poll its status, check the greeting.

Usage::

    export SMOKE_FUNCTION_KEY="$(az functionapp keys list -g <rg> -n <app> \\
        --query functionKeys.default -o tsv)"
    python scripts/smoke_test.py --base-url https://<app>.azurewebsites.net

``--function-key`` works too, but the ``SMOKE_FUNCTION_KEY`` environment variable keeps the
key out of the process list. Exit codes: 0 Completed with the expected greeting; 1 the run failed or
returned something else; 2 bad arguments; 3 no terminal status before ``--timeout``; 4 an
HTTP or network error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WORKFLOW = REPO / "examples" / "hello" / "workflow.py"
DEFAULT_INPUT = REPO / "examples" / "hello" / "input.json"
DEFAULT_PAYLOAD: dict[str, Any] = {"name": "Azure"}
KEY_ENV = "SMOKE_FUNCTION_KEY"
TERMINAL = frozenset({"Completed", "Failed", "Terminated", "Canceled", "Cancelled"})
#: After submitting, a 404 from the status endpoint is tolerated this long (slow task hub).
NOT_FOUND_GRACE_SECONDS = 15.0

EXIT_OK, EXIT_WRONG, EXIT_USAGE, EXIT_TIMEOUT, EXIT_HTTP = 0, 1, 2, 3, 4


class SmokeError(Exception):
    """The smoke test could not finish; ``exit_code`` says why."""

    def __init__(self, message: str, *, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Options:
    """Parsed command line."""

    base_url: str
    function_key: str | None
    workflow: Path
    input_path: Path | None
    #: The workflow input, read once while parsing (a bad file is a usage error).
    payload: Any
    expected: str
    timeout: float
    poll_interval: float


def parse_args(argv: Sequence[str], *, environ: dict[str, str] | None = None) -> Options:
    """Read the command line (and the key from the environment if not given)."""
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog="smoke_test", description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", required=True, help="e.g. https://<app>.azurewebsites.net")
    parser.add_argument(
        "--function-key", default=None, help=f"function key (default: ${KEY_ENV}; none locally)"
    )
    parser.add_argument("--workflow", type=Path, default=DEFAULT_WORKFLOW)
    parser.add_argument(
        "--input", dest="input_path", type=Path, default=None, help="JSON input file"
    )
    parser.add_argument(
        "--expect", default=None, help='expected greeting (default: "Hello, <input name>!")'
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait in total")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="seconds between polls")
    args = parser.parse_args(list(argv))

    if not args.base_url.startswith(("http://", "https://")):
        parser.error("--base-url must start with http:// or https://")
    if args.timeout <= 0 or args.poll_interval <= 0:
        parser.error("--timeout and --poll-interval must be > 0")
    if not args.workflow.is_file():
        parser.error(f"--workflow {args.workflow} does not exist")
    input_path = args.input_path
    if input_path is None and args.workflow == DEFAULT_WORKFLOW and DEFAULT_INPUT.is_file():
        input_path = DEFAULT_INPUT
    if input_path is not None and not input_path.is_file():
        parser.error(f"--input {input_path} does not exist")
    payload = DEFAULT_PAYLOAD
    if input_path is not None:
        try:
            payload = json.loads(input_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            parser.error(f"cannot read --input {input_path}: {exc}")
    expected = args.expect
    if expected is None:
        name = payload.get("name") if isinstance(payload, dict) else None
        if not isinstance(name, str):
            parser.error('the input has no "name"; pass --expect')
        expected = f"Hello, {name}!"
    return Options(
        base_url=args.base_url.rstrip("/"),
        function_key=args.function_key or env.get(KEY_ENV) or None,
        workflow=args.workflow,
        input_path=input_path,
        payload=payload,
        expected=expected,
        timeout=args.timeout,
        poll_interval=args.poll_interval,
    )


def build_submission(options: Options) -> dict[str, Any]:
    """The POST /api/workflows body."""
    return {"workflowCode": options.workflow.read_text(encoding="utf-8"), "input": options.payload}


def submit(client: httpx.Client, body: dict[str, Any]) -> str:
    """Start a run; return its instance id."""
    response = client.post("/api/workflows", json=body)
    if response.status_code != 202:
        raise SmokeError(
            f"POST /api/workflows answered {response.status_code}: {response.text[:500]}",
            exit_code=EXIT_HTTP,
        )
    data = _json(response)
    instance_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(instance_id, str) or not instance_id:
        raise SmokeError(f"202 without an id: {response.text[:500]}", exit_code=EXIT_HTTP)
    return instance_id


def _json(response: httpx.Response) -> Any:
    """The answer's JSON; a body that is not JSON (a proxy's error page) is an HTTP error."""
    try:
        return response.json()
    except ValueError as exc:
        raise SmokeError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code} with a body that is not JSON: {response.text[:300]}",
            exit_code=EXIT_HTTP,
        ) from exc


def runtime_status(document: dict[str, Any]) -> str | None:
    """The Durable runtime status (``runtimeStatus``; ``status`` as a fallback)."""
    value = document.get("runtimeStatus", document.get("status"))
    return value if isinstance(value, str) else None


def poll(
    client: httpx.Client,
    instance_id: str,
    *,
    timeout: float,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_update: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """GET the status until it is terminal; return the last status document."""
    started = clock()
    deadline = started + timeout
    last_phase: tuple[Any, Any] | None = None
    while True:
        response = client.get(f"/api/workflowStatus/{instance_id}")
        if response.status_code == 404 and clock() - started < NOT_FOUND_GRACE_SECONDS:
            document: dict[str, Any] = {}
        elif response.status_code in (200, 202):
            document = _json(response)
            if not isinstance(document, dict):
                raise SmokeError(
                    f"status is not an object: {response.text[:300]}", exit_code=EXIT_HTTP
                )
            status = runtime_status(document)
            phase = (status, document.get("phase", document.get("customStatus")))
            if on_update is not None and phase != last_phase:
                on_update(document)
            last_phase = phase
            if status in TERMINAL:
                return document
        else:
            raise SmokeError(
                f"GET /api/workflowStatus/{instance_id} answered {response.status_code}: "
                f"{response.text[:500]}",
                exit_code=EXIT_HTTP,
            )
        remaining = deadline - clock()
        if remaining <= 0:
            raise SmokeError(
                f"{instance_id} did not finish within {timeout:.0f}s (last: {last_phase})",
                exit_code=EXIT_TIMEOUT,
            )
        sleep(min(interval, remaining))  # the last poll lands on the deadline, not before it


def contains_text(value: Any, expected: str) -> bool:
    """True when ``expected`` is a string anywhere in a JSON value (output shapes vary)."""
    if isinstance(value, str):
        return value == expected
    if isinstance(value, dict):
        return any(contains_text(item, expected) for item in value.values())
    if isinstance(value, list):
        return any(contains_text(item, expected) for item in value)
    return False


def check(document: dict[str, Any], expected: str) -> None:
    """Raise unless the run Completed and its output holds the expected greeting."""
    status = runtime_status(document)
    if status != "Completed":
        raise SmokeError(f"run ended {status}", exit_code=EXIT_WRONG)
    if not contains_text(document.get("output"), expected):
        raise SmokeError(f"output lacks {expected!r}", exit_code=EXIT_WRONG)


def run(
    options: Options,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    out: Callable[[str], None] = print,
) -> int:
    """Submit, poll, print, check; return the exit code."""
    headers = {"x-functions-key": options.function_key} if options.function_key else {}
    with httpx.Client(
        base_url=options.base_url, headers=headers, timeout=30.0, transport=transport
    ) as client:
        try:
            instance_id = submit(client, build_submission(options))
            out(f"submitted {instance_id}")
            document = poll(
                client,
                instance_id,
                timeout=options.timeout,
                interval=options.poll_interval,
                sleep=sleep,
                clock=clock,
                on_update=lambda doc: out(
                    f"  {runtime_status(doc)} {doc.get('phase', doc.get('customStatus', ''))}"
                ),
            )
            out(json.dumps(document, indent=2, default=str))
            check(document, options.expected)
        except SmokeError as exc:
            out(f"FAIL: {exc}")
            return exc.exit_code
        except httpx.HTTPError as exc:
            out(f"FAIL: {type(exc).__name__}: {exc}")
            return EXIT_HTTP
    out(f"OK: {options.expected}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    options = parse_args(sys.argv[1:] if argv is None else argv)
    return run(options)


if __name__ == "__main__":
    sys.exit(main())
