"""What keeping the agent trace costs a run: run.py with tracing on vs ``ARO_TRACE=0``.

The Agent Builder weather export (one agent, a function tool, two model calls) runs as
run.py runs it in a session, against the offline model server on 127.0.0.1, with the
session image's interpreter when it exists. Runs alternate between the two modes (the
baseline is the same runs with ``ARO_TRACE=0``, in the same process). Prints p50/p95 in
ms, the ratio, and the bytes of trace.jsonl and progress.json; writes
``bench/results/trace_overhead.json``.

    .venv/bin/python bench/trace_overhead.py [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.stats import percentile  # noqa: E402
from model_server import run_model_server  # noqa: E402
from runner import render_run_py  # noqa: E402
from tests.support.fixture_scripts import RECIPES, fixture_path, model_env  # noqa: E402

SESSION_PYTHON = REPO / ".venv-session" / "bin" / "python"


def _run_once(python: str, folder: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([python, str(folder / "run.py")], cwd=folder, env=env, check=True,
                   capture_output=True)  # fmt: skip
    elapsed = (time.perf_counter() - started) * 1000
    output = json.loads((folder / "output.json").read_text())
    if output["status"] != "succeeded":
        raise SystemExit(f"the run failed: {output}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    python = str(SESSION_PYTHON) if SESSION_PYTHON.exists() else sys.executable
    recipe = RECIPES["ghidx_weather_function_tool.py"]
    times: dict[str, list[float]] = {"traced": [], "ARO_TRACE=0": []}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp, run_model_server() as server:
        folder = Path(tmp)
        (folder / "workflow.py").write_text(fixture_path(recipe.fixture).read_text("utf-8"))
        (folder / "input.json").write_text(json.dumps({"input_as_text": recipe.input_text}))
        (folder / "run.py").write_text(render_run_py(data_dir=str(folder)))
        base = {**os.environ, **model_env(server.base_url)}
        for index in range(args.runs * 2 + 2):
            mode = "traced" if index % 2 == 0 else "ARO_TRACE=0"
            server.set_script(recipe.script)
            env = base | ({"ARO_TRACE": "0"} if mode != "traced" else {})
            elapsed = _run_once(python, folder, env)
            if index >= 2:  # the first pair warms the caches
                times[mode].append(elapsed)
            if mode == "traced":
                sizes = {
                    name: (folder / name).stat().st_size
                    for name in ("trace.jsonl", "progress.json")
                }
    base_p50 = percentile(times["ARO_TRACE=0"], 50)
    rows = {}
    print(f"interpreter: {python}; {args.runs} runs each, interleaved")
    print(f"{'mode':<14}{'p50 ms':>9}{'p95 ms':>9}{'ratio p50':>11}")
    for mode, values in times.items():
        p50, p95 = percentile(values, 50), percentile(values, 95)
        rows[mode] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1)}
        print(f"{mode:<14}{p50:>9.1f}{p95:>9.1f}{p50 / base_p50:>10.2f}x")
    print(f"overhead p50: {rows['traced']['p50_ms'] - rows['ARO_TRACE=0']['p50_ms']:+.1f} ms")
    print(f"trace.jsonl {sizes['trace.jsonl']} bytes, progress.json {sizes['progress.json']} bytes")
    out = REPO / "bench" / "results" / "trace_overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"runs": args.runs, "modes": rows, "bytes": sizes}, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
