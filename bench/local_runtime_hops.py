"""Latency of the local durable runtime: one-activity orchestration and a 0.5 s timer.

Starts the runtime in-process with the test scenarios app
(tests/local_runtime/apps/scenarios_app.py), drives it through real HTTP (starter
route, then the statusQueryGetUri) and writes bench/results/local_runtime_hops.json.
The baseline, measured in the same run and interleaved, is one plain GET of a
finished instance's status through the same host: the HTTP floor under every hop.
"""

from __future__ import annotations

import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/local_runtime_hops.py` from anywhere
    sys.path.insert(0, str(ROOT))

from bench.stats import percentile  # noqa: E402
from local_runtime.auth import AuthConfig  # noqa: E402
from local_runtime.events import parse_time  # noqa: E402
from local_runtime.testing import run_local_runtime  # noqa: E402

APP_DIR = ROOT / "tests" / "local_runtime" / "apps"
RESULTS = ROOT / "bench" / "results" / "local_runtime_hops.json"
RUNS = 30
TIMER_RUNS = 5
TIMER_SECONDS = 0.5
#: An instance still running after this long means the runtime is stuck.
WAIT_DEADLINE_SECONDS = 30.0


def _wait(client: httpx.Client, url: str) -> dict:
    deadline = time.monotonic() + WAIT_DEADLINE_SECONDS
    while True:
        response = client.get(url)
        if response.status_code != 202:
            return response.json()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} still running after {WAIT_DEADLINE_SECONDS:.0f} s")
        time.sleep(0.001)


def _get_ms(client: httpx.Client, url: str) -> float:
    """Milliseconds of one plain GET: the HTTP round trip without any orchestration."""
    start = time.perf_counter()
    client.get(url).raise_for_status()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    """Run both measurements and print them in ms."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_local_runtime(
            app="scenarios_app:app",
            app_dir=APP_DIR,
            db_path=Path(tmp) / "bench.sqlite3",
            auth=AuthConfig(allow_anonymous=True),
        ) as rt,
        httpx.Client(
            timeout=30,
            transport=httpx.HTTPTransport(
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
            ),
        ) as client,
    ):
        hops: list[float] = []
        http_floor: list[float] = []
        internal: list[float] = []
        for run in range(RUNS + 3):
            start = time.perf_counter()
            response = client.post(f"{rt.api_url}/orchestrators/o_hello", json=f"bench{run}")
            status = _wait(client, response.json()["statusQueryGetUri"])
            elapsed = (time.perf_counter() - start) * 1000
            assert status["runtimeStatus"] == "Completed", status
            floor = _get_ms(client, response.json()["statusQueryGetUri"])
            if run >= 3:  # warm-up
                hops.append(elapsed)
                http_floor.append(floor)
                history = rt.runtime.store.get_history(response.json()["id"])
                done = next(e["Timestamp"] for e in history if e["EventType"] == 5)
                replay = [e["Timestamp"] for e in history if e["EventType"] == 12][-1]
                internal.append((parse_time(replay) - parse_time(done)).total_seconds() * 1000)
        lateness: list[float] = []
        for _ in range(TIMER_RUNS):
            response = client.post(f"{rt.api_url}/orchestrators/o_timer", json=TIMER_SECONDS)
            instance_id = response.json()["id"]
            _wait(client, response.json()["statusQueryGetUri"])
            history = rt.runtime.store.get_history(instance_id)
            fire_at = next(e["FireAt"] for e in history if e["EventType"] == 10)
            started = [e["Timestamp"] for e in history if e["EventType"] == 12]
            late = (parse_time(started[-1]) - parse_time(fire_at)).total_seconds() * 1000
            lateness.append(late)
    result = {
        "one_activity_start_to_completed_ms": {
            "runs": RUNS,
            "p50": round(statistics.median(hops), 2),
            "p95": round(percentile(hops, 95), 2),
            "max": round(max(hops), 2),
        },
        "baseline_one_status_get_ms": {
            "runs": RUNS,
            "p50": round(statistics.median(http_floor), 2),
            "p95": round(percentile(http_floor, 95), 2),
        },
        "activity_completed_to_next_replay_ms": {
            "runs": RUNS,
            "p50": round(statistics.median(internal), 2),
            "p95": round(percentile(internal, 95), 2),
        },
        "timer_0_5s_fired_late_by_ms": {
            "runs": TIMER_RUNS,
            "p50": round(statistics.median(lateness), 2),
            "max": round(max(lateness), 2),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
