"""Submit-to-Completed latency through the whole local stack: adaptive vs the seed's fixed polling.

Two stacks run side by side in one process run: one with the default adaptive
polling (first wait ``InitialPollIntervalSeconds``, growing by ``PollBackoffFactor``
up to ``ExecutionPollIntervalSeconds``), one with the seed's fixed 10-second
interval. Both are measured alike: warmed up, one workflow at a time, the client
polling at the same cadence. Each run is ~10 s on the fixed stack, so it gets
fewer runs (``--baseline-runs``). Then the adaptive stack runs 50 workflows at once
and reports the wall time.

Usage: ``python bench/e2e_latency.py [--runs 20] [--baseline-runs 5] [--concurrent 50]``;
results are printed and written to ``bench/results/e2e_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.stats import percentile  # noqa: E402
from devstack.stack import LocalStack, StackConfig, free_port  # noqa: E402

TRIVIAL = "def run(payload):\n    return payload['n']\n"
FIXED_POLLING = {
    "AzureSession__InitialPollIntervalSeconds": "10",
    "AzureSession__PollBackoffFactor": "1",
    "AzureSession__ExecutionPollIntervalSeconds": "10",
}
#: How often the bench client asks for the status: the same for every measured series.
CLIENT_POLL_SECONDS = 0.02
#: A run that takes longer than this is a broken stack, not a slow one.
RUN_DEADLINE_SECONDS = 120.0


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
    key = getattr(stack, "function_key", None)
    headers = {"x-functions-key": key} if key else {}
    return httpx.Client(base_url=stack.base_url, headers=headers, timeout=30.0)


def _run_once(client: httpx.Client, n: int, *, poll: float = CLIENT_POLL_SECONDS) -> float:
    """Seconds from POST to the first status answer that says Completed."""
    started = time.perf_counter()
    response = client.post("/api/workflows", json={"workflowCode": TRIVIAL, "input": {"n": n}})
    response.raise_for_status()
    instance = response.json()["id"]
    while True:
        status = client.get(f"/api/workflowStatus/{instance}").json()
        if status["runtimeStatus"] == "Completed":
            if status["output"] != n:
                raise RuntimeError(f"wrong output for {n}: {status}")
            return time.perf_counter() - started
        if status["runtimeStatus"] in ("Failed", "Terminated", "Canceled"):
            raise RuntimeError(f"run {n} ended {status['runtimeStatus']}: {status.get('error')}")
        if time.perf_counter() - started > RUN_DEADLINE_SECONDS:
            raise RuntimeError(f"run {n} not Completed after {RUN_DEADLINE_SECONDS:.0f} s")
        time.sleep(poll)


def _series(stack: LocalStack, runs: int) -> list[float]:
    """``runs`` sequential runs on a warmed-up stack."""
    with _client(stack) as client:
        _run_once(client, -1)  # warm-up: imports, first session
        return [_run_once(client, n) for n in range(runs)]


def _summary(samples: list[float]) -> dict[str, float]:
    return {
        "runs": len(samples),
        "p50_ms": round(statistics.median(samples) * 1000, 1),
        "p95_ms": round(percentile(samples, 95) * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run both stacks, print p50/p95 and the ratio, write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--baseline-runs", type=int, default=5, help="runs on the fixed stack")
    parser.add_argument("--concurrent", type=int, default=50)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        adaptive_stack = _stack(Path(tmp) / "adaptive", {})
        fixed_stack = _stack(Path(tmp) / "fixed", FIXED_POLLING)
        with adaptive_stack, fixed_stack:
            adaptive = _series(adaptive_stack, args.runs)
            fixed = _series(fixed_stack, args.baseline_runs)
            # The concurrent clients poll every 0.1 s, so polling does not load the host.
            with _client(adaptive_stack) as client, ThreadPoolExecutor(args.concurrent) as pool:
                started = time.perf_counter()
                list(pool.map(lambda n: _run_once(client, n, poll=0.1), range(args.concurrent)))
                concurrent_wall = time.perf_counter() - started

    results = {
        "adaptive": _summary(adaptive),
        "fixed_10s": _summary(fixed),
        "speedup_p50": round(statistics.median(fixed) / statistics.median(adaptive), 1),
        "concurrent": {"workflows": args.concurrent, "wall_s": round(concurrent_wall, 2)},
    }
    print(
        f"submit -> Completed, one at a time: {args.runs} adaptive runs, "
        f"{args.baseline_runs} fixed-10s runs (trivial workflow, real sandbox)"
    )
    for name in ("adaptive", "fixed_10s"):
        r = results[name]
        print(f"  {name:<10} p50 {r['p50_ms']:>8.1f} ms   p95 {r['p95_ms']:>8.1f} ms")
    print(f"  adaptive is {results['speedup_p50']}x faster at p50")
    print(f"  {args.concurrent} concurrent workflows: {concurrent_wall:.2f} s wall")
    out = REPO / "bench" / "results" / "e2e_latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
