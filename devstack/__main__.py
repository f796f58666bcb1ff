"""``python -m devstack``: run the session emulator and the Functions host until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from devstack.stack import REPO_ROOT, LocalStack, StackConfig, StackError

BANNER = """
Agent Runtime Orchestrator is running (local stack).

  Functions host : {base}/api
  Run viewer     : {base}/api/ui   (paste the function key into the page)
  Session pool   : {pool}   (emulator, sandbox egress: {egress})
  State          : {state}
  Function key   : {key_note}
  Durable API    : {system_note}

Submit the hello example:

  curl -s {base}/api/workflows -H 'Content-Type: application/json' \\
       -H "x-functions-key: {key}" -d @examples/hello/request.json

then poll the statusUri it returns, e.g.:

  curl -s -H "x-functions-key: {key}" {base}/api/workflowStatus/<id>

or let the client do both:

  ARO_URL={base} ARO_FUNCTION_KEY={key} \\
      python -m aro run examples/hello/workflow.py --input examples/hello/input.json

Ctrl-C stops both servers.
"""

#: Signals that stop the stack cleanly (Ctrl-C, kill, a closed terminal).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

KEY_NOTE = "from {settings} (LocalRuntime__FunctionKeys; send as x-functions-key or ?code=)"
SYSTEM_NOTE = (
    "/runtime/webhooks/durabletask needs the system key, for operators only: "
    "LocalRuntime__DurableTaskExtensionKey in {settings}"
)
NO_KEY_NOTE = (
    "none configured: only anonymous functions answer unless LocalRuntime__AllowAnonymous=true"
)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7071, help="Functions host port (default 7071)")
    parser.add_argument(
        "--emulator-port", type=int, default=8081, help="emulator port (default 8081)"
    )
    parser.add_argument(
        "--state-dir", type=Path, default=REPO_ROOT / ".local", help="durable store and sessions"
    )
    parser.add_argument(
        "--settings", type=Path, default=REPO_ROOT / "local.settings.json", help="local settings"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start both servers, print how to use them, and stop them on Ctrl-C, SIGTERM or SIGHUP."""
    args = _parse_args(argv)
    config = StackConfig(
        host=args.host,
        runtime_port=args.port,
        emulator_port=args.emulator_port,
        state_dir=args.state_dir,
        settings_path=args.settings,
    )
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    # the children run in their own sessions: only stack.stop() ends them, so a closed
    # terminal (SIGHUP) must not kill this process before it gets there
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop)
    stack = LocalStack(config)
    try:
        stack.start()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    egress = "all" if os.environ.get("SESSION_EGRESS", "none") == "all" else "none"
    key = stack.function_key
    print(
        BANNER.format(
            base=config.base_url,
            pool=config.pool_endpoint,
            egress=egress,
            state=config.state_dir,
            key=key or "<no key>",
            key_note=KEY_NOTE.format(settings=config.settings_path) if key else NO_KEY_NOTE,
            system_note=SYSTEM_NOTE.format(settings=config.settings_path),
        ),
        flush=True,
    )
    try:
        while not stopping and stack.alive():
            time.sleep(0.2)
    finally:
        print("Stopping...", file=sys.stderr, flush=True)
        stack.stop()
    return 0 if stopping else 1


if __name__ == "__main__":
    sys.exit(main())
