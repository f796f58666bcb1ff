"""Crash soak: many runs, the whole stack (or ``make run`` alone) SIGKILLed again and again.

``python -m devstack`` (what ``make run`` starts) serves a private state dir. Client threads
submit ``--runs`` workflows (some in ``reuse`` sessions), each returning its own token, and
poll them to the end; every ``--kill-every`` seconds the stack is SIGKILLed and started
again on the same state dir and ports:

- ``--kill stack``: devstack, the Functions host and the emulator all at once (a machine
  crash; sandboxed runs die with the emulator);
- ``--kill makerun``: only ``make run``'s process group (devstack); the host and the
  emulator must notice and stop by themselves (parent-death signal), not linger.

Clients retry through the outage: a submission carries an ``Idempotency-Key`` (so a retry
never starts a second run) and reuse-session runs set ``rerunOnSessionLoss``. The report:
submitted, Completed, Failed by type, lost (the service never knew it), stuck (not
finished at the end), wrong output, re-executions (runs restarted after a session loss, and
whether a kill caught each in flight), processes left after the final stop, and recovery
times (kill -> health answers -> the runs a kill caught are finished).

``python bench/soak.py --runs 300 --kill-every 30 --kill stack`` (``make soak`` runs both
modes); ``tests/soak`` runs a short version. Exit 0 only if every run Completed with its
own output and nothing leaked.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devstack.stack import free_port  # noqa: E402

WORKFLOW = (
    "import time\n\ndef run(payload):\n"
    "    time.sleep(payload['seconds'])\n    return {'token': payload['token']}\n"
)
TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}
START_TIMEOUT_SECONDS = 90.0


@dataclass
class Run:
    """One submitted workflow and what became of it."""

    token: str
    #: runs in a reuse session use their client's own session (one run at a time in it:
    #: concurrent runs in one session share /mnt/data and would overwrite output.json)
    wants_reuse: bool
    seconds: float
    reuse: str | None = None
    instance: str | None = None
    #: when the client first sent it (the service may have started it before answering)
    first_try_at: float | None = None
    submitted_at: float = 0.0
    finished_at: float | None = None
    status: dict[str, Any] | None = None


@dataclass
class Kill:
    at: float
    mode: str
    in_flight: list[str] = field(default_factory=list)
    health_after_s: float | None = None
    caught_done_after_s: float | None = None


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains ``text`` (the soak's private state dir)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class Stack:
    """``python -m devstack`` as ``make run`` starts it, in a process group of its own."""

    def __init__(self, root: Path) -> None:
        self.state = root / "state"
        self.settings = root / "local.settings.json"
        self.port = free_port()
        self.emulator_port = free_port()
        self.log = root / "devstack.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [
            sys.executable, "-m", "devstack", "--state-dir", str(self.state),
            "--settings", str(self.settings),
            "--port", str(self.port), "--emulator-port", str(self.emulator_port),
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"devstack exited:\n{self.log.read_text()[-3000:]}")
            if self.healthy():
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"devstack did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/api/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def key(self) -> str:
        values = json.loads(self.settings.read_text())["Values"]
        return values["LocalRuntime__FunctionKeys"].split(",")[0]

    def kill(self, mode: str) -> None:
        """SIGKILL the whole stack, or only devstack's process group."""
        assert self.process is not None
        pids = processes_mentioning(str(self.state)) if mode == "stack" else []
        os.killpg(self.process.pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()
        if mode == "makerun":  # the children stop by themselves; wait for them to go
            deadline = time.monotonic() + 30
            while processes_mentioning(str(self.state)) and time.monotonic() < deadline:
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Client:
    """One client thread's session: submits with an idempotency key, polls through outages."""

    def __init__(self, stack: Stack, key: str) -> None:
        self.stack = stack
        self.http = httpx.Client(
            base_url=stack.base_url, headers={"x-functions-key": key}, timeout=10
        )

    def submit(self, run: Run, stop: threading.Event) -> None:
        body: dict[str, Any] = {
            "workflowCode": WORKFLOW,
            "input": {"token": run.token, "seconds": run.seconds},
        }
        if run.reuse:
            body |= {"sessionId": run.reuse, "rerunOnSessionLoss": True}
        run.first_try_at = time.monotonic()
        while not stop.is_set():
            try:
                response = self.http.post(
                    "/api/workflows", json=body, headers={"Idempotency-Key": run.token}
                )
                if response.status_code == 202:
                    run.instance = response.json()["id"]
                    run.submitted_at = time.monotonic()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)

    def follow(self, run: Run, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                response = self.http.get(f"/api/workflowStatus/{run.instance}")
                if response.status_code == 200:
                    status = response.json()
                    if status["runtimeStatus"] in TERMINAL:
                        run.status = status
                        run.finished_at = time.monotonic()
                        return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)


def soak(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="aro-soak-") as tmp:
        stack = Stack(Path(tmp))
        stack.start()
        key = stack.key()
        runs = [
            Run(
                token=uuid.uuid4().hex,
                wants_reuse=rng.random() < args.reuse_share,
                seconds=round(rng.uniform(0, args.max_run_seconds), 2),
            )
            for _ in range(args.runs)
        ]
        queue = collections.deque(runs)
        lock = threading.Lock()
        stop = threading.Event()

        def client_loop(index: int) -> None:
            client = Client(stack, key)
            while not stop.is_set():
                with lock:
                    if not queue:
                        return
                    run = queue.popleft()
                run.reuse = f"soak-{index}" if run.wants_reuse else None
                client.submit(run, stop)
                client.follow(run, stop)
                time.sleep(rng.uniform(0, 0.3))

        threads = [
            threading.Thread(target=client_loop, args=(i,), daemon=True)
            for i in range(args.clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        kills: list[Kill] = []
        next_kill = started + args.kill_every
        deadline = started + args.deadline
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            if len(kills) < args.kills and time.monotonic() >= next_kill:
                mode = args.kill if args.kill != "both" else ("stack", "makerun")[len(kills) % 2]
                kill = Kill(at=time.monotonic(), mode=mode)
                kill.in_flight = [r.token for r in runs if r.first_try_at and r.status is None]
                stack.kill(mode)
                time.sleep(rng.uniform(0.2, 1.0))
                stack.start()
                kill.health_after_s = round(time.monotonic() - kill.at, 2)
                kills.append(kill)
                next_kill = time.monotonic() + args.kill_every * rng.uniform(0.7, 1.3)
            time.sleep(0.1)
            for kill in kills:
                if kill.caught_done_after_s is None:
                    caught = [r for r in runs if r.token in kill.in_flight]
                    if all(r.finished_at is not None for r in caught):
                        last = max((r.finished_at or kill.at for r in caught), default=kill.at)
                        kill.caught_done_after_s = round(last - kill.at, 2)
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
        stack.stop()
        leaked = processes_mentioning(str(stack.state))
        for pid in leaked:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return report(runs, kills, leaked, time.monotonic() - started)


def report(runs: list[Run], kills: list[Kill], leaked: list[int], wall: float) -> dict[str, Any]:
    failed = collections.Counter(
        (r.status.get("error") or {}).get("type", r.status["runtimeStatus"])
        for r in runs
        if r.status and r.status["runtimeStatus"] != "Completed"
    )
    completed = [r for r in runs if r.status and r.status["runtimeStatus"] == "Completed"]
    wrong = [r.token for r in completed if r.status["output"] != {"token": r.token}]
    caught = {token for kill in kills for token in kill.in_flight}
    rerun = [r for r in runs if r.status and r.status.get("attempts")]
    return {
        "submitted": sum(1 for r in runs if r.instance),
        "runs": len(runs),
        "completed": len(completed),
        "failed": dict(failed),
        "lost": sum(1 for r in runs if r.instance is None),
        "stuck": sum(1 for r in runs if r.instance and r.status is None),
        "wrong_output": len(wrong),
        "re_executed": len(rerun),
        "re_executed_not_caught_by_a_kill": sum(1 for r in rerun if r.token not in caught),
        "caught_by_kills": len(caught),
        "leaked_processes": len(leaked),
        "failures": [
            {
                "instance": r.instance,
                "reuse": r.reuse,
                "caught_by_a_kill": r.token in caught,
                "error": r.status.get("error"),
                "attempts": r.status.get("attempts"),
            }
            for r in runs
            if r.status and r.status["runtimeStatus"] != "Completed"
        ][:20],
        "kills": [
            {
                "mode": k.mode,
                "in_flight": len(k.in_flight),
                "health_after_s": k.health_after_s,
                "caught_runs_done_after_s": k.caught_done_after_s,
            }
            for k in kills
        ],
        "wall_s": round(wall, 1),
    }


def ok(result: dict[str, Any]) -> bool:
    """Every run Completed with its own output; nothing lost, stuck or leaked."""
    return (
        result["completed"] == result["runs"]
        and not result["failed"]
        and result["lost"] == result["stuck"] == result["wrong_output"] == 0
        and result["leaked_processes"] == 0
        and result["re_executed_not_caught_by_a_kill"] == 0
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--kill-every", type=float, default=30.0)
    parser.add_argument("--kill", choices=("stack", "makerun", "both"), default="stack")
    parser.add_argument("--reuse-share", type=float, default=0.25)
    parser.add_argument("--max-run-seconds", type=float, default=3.0)
    parser.add_argument("--deadline", type=float, default=1800.0, help="give up after (s)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "soak.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = soak(args)
    result["kill_mode"] = args.kill
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if ok(result) else 1


if __name__ == "__main__":
    sys.exit(main())
