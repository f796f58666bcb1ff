"""A short crash soak in every test run: 40 workflows, the stack SIGKILLed twice.

One whole-stack kill (devstack, host and emulator at once) and one of ``make run``'s
process group alone; every run must finish Completed with its own output, nothing lost,
stuck or leaked, and only runs a kill caught may have been re-executed. ``make soak``
runs the full version (300 runs, ten kills of each kind).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import soak

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc"),
]


def test_forty_runs_survive_two_kills(tmp_path: Path) -> None:
    args = soak.parse_args(
        ["--runs", "40", "--kills", "2", "--kill-every", "4", "--kill", "both",
         "--max-run-seconds", "2", "--deadline", "300", "--out", str(tmp_path / "soak.json")]
    )  # fmt: skip
    result = soak.soak(args)
    assert len(result["kills"]) == 2, result
    assert {k["mode"] for k in result["kills"]} == {"stack", "makerun"}
    assert soak.ok(result), result
    assert result["caught_by_kills"] > 0  # the kills hit runs in flight
