"""The ``session-emulator`` command: refuses to run code unsandboxed unless told, TLS flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from session_emulator import sandbox
from session_emulator.__main__ import main


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine where no bubblewrap works (the probe finds a binary that is not there)."""
    monkeypatch.setattr(sandbox, "_bwrap_candidates", lambda: ["/nonexistent/bwrap"])


def test_refuses_to_start_without_a_sandbox(
    no_bwrap: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["--port", "0", "--data-dir", str(tmp_path)]) == 2
    assert "refusing to start: no working sandbox" in caplog.text
    assert "--insecure-no-sandbox" in caplog.text


def test_insecure_no_sandbox_is_the_only_way_to_run_unisolated(
    no_bwrap: None, tmp_path: Path
) -> None:
    from session_emulator.config import EmulatorConfig

    with pytest.raises(sandbox.SandboxUnavailable):
        sandbox.select_isolation(EmulatorConfig(data_dir=tmp_path))
    chosen, _ = sandbox.select_isolation(
        EmulatorConfig(data_dir=tmp_path, insecure_no_sandbox=True)
    )
    assert isinstance(chosen, sandbox.NoIsolation)


@pytest.mark.parametrize(
    "flags",
    [["--tls-cert", "cert.pem"], ["--tls-key", "key.pem"], ["--tls-cert", "x", "--tls-key", "y"]],
)
def test_tls_flags_go_together_and_name_files(
    flags: list[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["--port", "0", "--data-dir", str(tmp_path), *flags]) == 2
    assert "refusing to start" in caplog.text
