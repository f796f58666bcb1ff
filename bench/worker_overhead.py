"""What it costs to call functions through Azure's Python worker instead of directly.

The local host sends every invocation through ``azure-functions-runtime`` (its
``invocation_request``: binding conversion in, the call, conversion out) on the worker's own
event loop thread. The baseline, in the same process and run, is the in-process invoker:
the same functions called with the SDK's converters on the caller's loop. Both serve the
same app (two module copies: one app object can be indexed only once). Measured per call:

- HTTP: ``GET /api/health`` (settings check, JSON answer), and ``GET /api/openapi.json``;
- orchestrator: the first episode of a run (context JSON in, actions out);

Needs Python 3.13 with the worker: ``.venv-worker/bin/python bench/worker_overhead.py``
(``make bench`` runs it). Prints p50/p95 in microseconds and the ratio to the baseline;
writes ``bench/results/worker_overhead.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.stats import percentile  # noqa: E402
from local_runtime.in_process import InProcessInvoker  # noqa: E402
from local_runtime.invocation import HttpRequestData  # noqa: E402
from local_runtime.worker_invoker import WorkerInvoker  # noqa: E402

os.environ.update(
    {
        "AzureSession__PoolManagementEndpoint": "http://127.0.0.1:9/subscriptions/s/resourceGroups"
        "/g/sessionPools/p",
        "AzureSession__AuthMode": "none",
        "AzureSession__SessionIdentifierKey": secrets.token_urlsafe(32),
    }
)


def fresh_app():
    """A second copy of function_app (the worker indexes the first)."""
    name = f"function_app_copy_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, REPO / "function_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def request(path: str) -> HttpRequestData:
    return HttpRequestData(
        method="GET", url=f"http://127.0.0.1:7071/api/{path}", headers={}, query={}, params={},
        body=b"",
    )  # fmt: skip


def orchestration_context() -> str:
    from api.starter import build_orchestration_input
    from api.validation import parse_workflow_request
    from settings import get_settings

    settings = get_settings()
    body = json.dumps({"workflowCode": "def run(payload):\n    return 1\n"}).encode()
    parsed = parse_workflow_request(body, content_type="application/json", settings=settings)
    spec = build_orchestration_input(parsed, settings=settings)
    start = "2026-01-01T00:00:00.000000Z"
    return json.dumps(
        {
            "history": [
                {"EventType": 12, "EventId": -1, "IsPlayed": False, "Timestamp": start},
                {"EventType": 0, "EventId": -1, "IsPlayed": False, "Timestamp": start,
                 "Version": ""},
            ],
            "instanceId": "bench",
            "isReplaying": False,
            "parentInstanceId": None,
            "input": json.dumps(spec.to_wire()),  # start_new double-encodes its input
            "upperSchemaVersion": 1,
        }
    )  # fmt: skip


async def timed(call: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    for _ in range(min(20, runs)):  # warm-up
        await call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_us": round(statistics.median(samples), 1),
        "p95_us": round(percentile(samples, 95), 1),
    }


async def measure(runs: int) -> dict[str, dict[str, object]]:
    worker = WorkerInvoker(REPO)
    baseline = InProcessInvoker(fresh_app(), load_rules=False)
    context = orchestration_context()
    results: dict[str, dict[str, object]] = {}
    try:
        for label, path, name in (
            ("http health", "health", "Health"),
            ("http openapi", "openapi.json", "OpenApi"),
        ):
            via = {}
            for who, invoker in (("in-process", baseline), ("worker", worker)):
                call = next(f.call for f in invoker.index.http if f.name == name)
                answer = await call(request(path), {}, "check")
                assert answer.status == 200, (who, name, answer)  # measure the real answer
                data = request(path)
                via[who] = summary(await timed(lambda c=call, d=data: c(d, {}, "b"), runs))
            results[label] = via
        via = {}
        for who, invoker in (("in-process", baseline), ("worker", worker)):
            handle = invoker.index.orchestrators["WorkflowOrchestrator"].handle
            state = json.loads(handle(context))
            assert "UploadWorkflowFiles" in json.dumps(state["actions"]), (who, state)

            async def episode(h=handle) -> object:
                return await asyncio.to_thread(h, context)

            via[who] = summary(await timed(episode, runs))
        results["orchestrator episode"] = via
    finally:
        worker.close()
    for via in results.values():
        via["ratio_p50"] = round(via["worker"]["p50_us"] / via["in-process"]["p50_us"], 2)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    results = asyncio.run(measure(args.runs))
    print(f"per call, {args.runs} runs each (baseline: in-process invoker, same process)")
    for label, via in results.items():
        print(
            f"  {label:22} in-process p50 {via['in-process']['p50_us']:8.1f} us   "
            f"worker p50 {via['worker']['p50_us']:8.1f} us (p95 {via['worker']['p95_us']:.1f})"
            f"   x{via['ratio_p50']}"
        )
    out = REPO / "bench" / "results" / "worker_overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"runs": args.runs, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
