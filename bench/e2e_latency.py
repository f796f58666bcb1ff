"""End-to-end latency through the whole local stack, three waiting designs side by side.

Three stacks run at once in one process run, identical but for how the orchestration
waits for the execution:

- ``watch`` (the default): ``RunExecution`` uploads, starts, watches and collects a short
  run in one activity; longer runs get ``WatchExecution`` windows (no timers);
- ``adaptive``: the previous default, ``PollMode=timers`` with timers from 0.5 s growing
  x1.5 to 10 s and one activity per step;
- ``fixed_10s``: the seed's design, a fixed 10-second timer between polls.

Measured on each, with the same client (polling status every 10 ms):

- trivial ``run(payload)`` submit -> Completed, one at a time (p50/p95);
- lateness: runs that sleep 0.1, 1, 4, 15 and 60 s record when they finish; lateness is
  the time from that moment to the first status answer that says Completed;
- durable hops per run (``timings.activities`` / ``timings.timers``);
- ``GET /api/workflowStatus/{id}`` latency at a steady 100 requests/s (open loop);
- 50 trivial workflows submitted at once: wall time until all are Completed.

Usage: ``python bench/e2e_latency.py [--runs 20] [--baseline-runs 5] [--concurrent 50]
[--durations 0.1,1,4,15,60] [--status-seconds 10]``; prints a table and writes
``bench/results/e2e_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.stats import percentile  # noqa: E402
from devstack.stack import LocalStack, StackConfig, free_port  # noqa: E402

TRIVIAL = "def run(payload):\n    return payload['n']\n"
#: Sleeps, then reports (on the host's clock: the sandbox shares it) when it finished.
TIMED = (
    "import time\n\ndef run(payload):\n    time.sleep(payload['seconds'])\n"
    "    return {'finishedAt': time.time()}\n"
)
DESIGNS: dict[str, dict[str, str]] = {
    "watch": {},
    "adaptive": {"AzureSession__PollMode": "timers"},
    "fixed_10s": {
        "AzureSession__PollMode": "timers",
        "AzureSession__InitialPollIntervalSeconds": "10",
        "AzureSession__PollBackoffFactor": "1",
        "AzureSession__ExecutionPollIntervalSeconds": "10",
    },
}
#: How often the bench client asks for the status: the same for every measured series.
CLIENT_POLL_SECONDS = 0.01
#: A run that takes longer than this is a broken stack, not a slow one.
RUN_DEADLINE_SECONDS = 180.0


def _stack(root: Path, env: dict[str, str]) -> LocalStack:
    return LocalStack(
        StackConfig(
            state_dir=root,
            settings_path=root / "local.settings.json",
            runtime_port=free_port(),
            emulator_port=free_port(),
            log_to_files=True,
            runtime_env=env,
        )
    )


def _client(stack: LocalStack) -> httpx.Client:
    key = stack.function_key
    headers = {"x-functions-key": key} if key else {}
    return httpx.Client(base_url=stack.base_url, headers=headers, timeout=30.0)


def _submit(client: httpx.Client, body: dict[str, Any]) -> str:
    response = client.post("/api/workflows", json=body)
    response.raise_for_status()
    return response.json()["id"]


def _until_completed(
    client: httpx.Client, instance: str, *, poll: float = CLIENT_POLL_SECONDS
) -> tuple[float, dict[str, Any]]:
    """(wall time of the first Completed answer, that status)."""
    started = time.time()
    while True:
        status = client.get(f"/api/workflowStatus/{instance}").json()
        if status["runtimeStatus"] == "Completed":
            return time.time(), status
        if status["runtimeStatus"] in ("Failed", "Terminated", "Canceled"):
            raise RuntimeError(f"{instance} ended {status['runtimeStatus']}: {status.get('error')}")
        if time.time() - started > RUN_DEADLINE_SECONDS:
            raise RuntimeError(f"{instance} not Completed after {RUN_DEADLINE_SECONDS:.0f} s")
        time.sleep(poll)


def _trivial(client: httpx.Client, n: int, *, poll: float = CLIENT_POLL_SECONDS) -> dict:
    started = time.time()
    instance = _submit(client, {"workflowCode": TRIVIAL, "input": {"n": n}})
    seen, status = _until_completed(client, instance, poll=poll)
    if status["output"] != n:
        raise RuntimeError(f"wrong output for {n}: {status}")
    return {"seconds": seen - started, "timings": status["timings"]}


def _lateness(client: httpx.Client, seconds: float) -> dict:
    instance = _submit(client, {"workflowCode": TIMED, "input": {"seconds": seconds}})
    seen, status = _until_completed(client, instance)
    return {
        "late_s": round(seen - status["output"]["finishedAt"], 3),
        "activities": status["timings"]["activities"],
        "timers": status["timings"]["timers"],
    }


def _status_load(client: httpx.Client, instance: str, seconds: float, rate: float) -> dict:
    """Open-loop GETs at ``rate``/s for ``seconds``; latencies of each answer."""
    latencies: list[float] = []
    lock = threading.Lock()

    def one() -> None:
        started = time.perf_counter()
        client.get(f"/api/workflowStatus/{instance}").raise_for_status()
        with lock:
            latencies.append(time.perf_counter() - started)

    with ThreadPoolExecutor(16) as pool:
        begin = time.perf_counter()
        for i in range(int(seconds * rate)):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one)
    return {
        "requests": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
    }


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "runs": len(samples),
        "p50_ms": round(statistics.median(samples) * 1000, 1),
        "p95_ms": round(percentile(samples, 95) * 1000, 1),
    }


def trivial_series(stack: LocalStack, runs: int) -> dict:
    """``runs`` trivial runs one at a time on a warmed-up stack, and their hops."""
    with _client(stack) as client:
        _trivial(client, -1)  # warm-up: imports, first session
        trivial = [_trivial(client, n) for n in range(runs)]
    return {
        "trivial": _summary([t["seconds"] for t in trivial]),
        "trivial_hops": {
            "activities": trivial[-1]["timings"]["activities"],
            "timers": trivial[-1]["timings"]["timers"],
        },
    }


def status_and_burst(stack: LocalStack, args: Any) -> dict:
    """Status latency at 100 req/s on a finished run, then a burst of trivial runs."""
    with _client(stack) as client:
        done = _submit(client, {"workflowCode": TRIVIAL, "input": {"n": 0}})
        _until_completed(client, done)
        status = _status_load(client, done, args.status_seconds, 100.0)
    with _client(stack) as client, ThreadPoolExecutor(args.concurrent) as pool:
        started = time.perf_counter()
        list(pool.map(lambda n: _trivial(client, n, poll=0.1), range(args.concurrent)))
        wall = time.perf_counter() - started
    return {
        "status_at_100_rps": status,
        "concurrent": {"workflows": args.concurrent, "wall_s": round(wall, 2)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--baseline-runs", type=int, default=5, help="trivial runs on fixed_10s")
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--durations", default="0.1,1,4,15,60")
    parser.add_argument("--status-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    durations = [float(d) for d in args.durations.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        stacks = {name: _stack(Path(tmp) / name, env) for name, env in DESIGNS.items()}
        for stack in stacks.values():
            stack.start()
        try:
            # CPU-bound series one design at a time; the long lateness runs all at once
            results = {
                name: trivial_series(
                    stack, args.baseline_runs if name == "fixed_10s" else args.runs
                )
                for name, stack in stacks.items()
            }
            jobs = [(name, d) for name in stacks for d in durations]
            with ThreadPoolExecutor(len(jobs)) as pool:

                def late(job: tuple[str, float]) -> dict:
                    with _client(stacks[job[0]]) as client:
                        return _lateness(client, job[1])

                for (name, d), found in zip(jobs, pool.map(late, jobs), strict=True):
                    results[name].setdefault("lateness", {})[f"{d:g}s"] = found
            for name, stack in stacks.items():
                results[name] |= status_and_burst(stack, args)
        finally:
            for stack in stacks.values():
                stack.stop()

    watch = results["watch"]["trivial"]["p50_ms"]
    for name in ("adaptive", "fixed_10s"):
        results[f"watch_speedup_vs_{name}_p50"] = round(
            results[name]["trivial"]["p50_ms"] / watch, 1
        )
    print(_table(results, durations))
    out = REPO / "bench" / "results" / "e2e_latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def _pair(values: dict, first: str, second: str) -> str:
    return f"{values[first]} / {values[second]}"


def _table(results: dict, durations: list[float]) -> str:
    names = list(DESIGNS)
    rows = [
        "| measure | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        "| trivial p50 / p95 (ms) | "
        + " | ".join(
            f"{results[n]['trivial']['p50_ms']} / {results[n]['trivial']['p95_ms']}" for n in names
        )
        + " |",
        "| trivial: activities + timers | "
        + " | ".join(
            f"{results[n]['trivial_hops']['activities']} + {results[n]['trivial_hops']['timers']}"
            for n in names
        )
        + " |",
    ]
    for d in durations:
        key = f"{d:g}s"
        cells = []
        for n in names:
            r = results[n]["lateness"][key]
            cells.append(f"{r['late_s']:.2f} s ({r['activities']} + {r['timers']})")
        rows.append(f"| {d:g} s run: late (activities + timers) | " + " | ".join(cells) + " |")
    rows.append(
        "| status at 100 req/s p50 / p99 (ms) | "
        + " | ".join(_pair(results[n]["status_at_100_rps"], "p50_ms", "p99_ms") for n in names)
        + " |"
    )
    rows.append(
        "| 50 concurrent trivial runs (s) | "
        + " | ".join(f"{results[n]['concurrent']['wall_s']}" for n in names)
        + " |"
    )
    rows.append(
        f"\nwatch p50 is {results['watch_speedup_vs_adaptive_p50']}x faster than adaptive, "
        f"{results['watch_speedup_vs_fixed_10s_p50']}x faster than fixed_10s"
    )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
