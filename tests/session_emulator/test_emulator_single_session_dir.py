"""--single-session-dir: every session's files in one folder, for one-session-per-container images.

In the custom-container session image code runs unsandboxed with the session folder as
its working directory, and run.py and the launcher expect their files in /mnt/data. With
``single_session_dir=/mnt/data`` the files are there. Here a tmp folder stands in for it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from emulator_support import params, run_code
from pydantic import ValidationError

from session_emulator.__main__ import main
from session_emulator.config import EmulatorConfig
from session_emulator.testing import run_emulator
from tests.session_emulator.conftest import emulator_config

API = "2025-02-02-preview"


def _identifier() -> str:
    return f"single-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """The stand-in for /mnt/data, holding a file left over from an earlier container."""
    folder = tmp_path / "mnt-data"
    folder.mkdir()
    (folder / "stale.txt").write_text("from before")
    (folder / "old").mkdir()
    return folder


@contextlib.contextmanager
def _serve(tmp_path: Path, shared: Path, **overrides: object) -> Iterator[str]:
    values: dict[str, object] = {
        "single_session_dir": shared,
        "insecure_no_sandbox": True,
        "isolation": "none",
    }
    values.update(overrides)
    config = emulator_config(tmp_path / "emu", **values)
    with run_emulator(config) as url:
        yield url


@pytest.fixture
async def http(tmp_path: Path, shared: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An unsandboxed emulator (as in the container) whose sessions all use ``shared``."""
    with _serve(tmp_path, shared) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            yield client


async def test_files_and_code_share_the_one_folder(http: httpx.AsyncClient, shared: Path) -> None:
    identifier = _identifier()
    assert list(shared.iterdir()) == []  # files no restored session owns are gone at start

    upload = await http.post(
        "/files", params=params(identifier, API), files={"file": ("input.json", b'{"n": 2}')}
    )
    body = await run_code(
        http,
        identifier,
        "import json, os\n"
        "n = json.load(open('input.json'))['n']\n"
        "open('output.json', 'w').write(json.dumps({'square': n * n}))\n"
        "print(os.getcwd())",
        api_version=API,
    )
    listing = await http.get("/files", params=params(identifier, API))
    download = await http.get("/files/output.json/content", params=params(identifier, API))

    assert upload.status_code == 200, upload.text
    assert body["status"] == "Succeeded", body
    assert body["result"]["stdout"].strip() == str(shared)  # the code runs in the folder
    assert (shared / "output.json").read_text() == '{"square": 4}'
    assert sorted(f["name"] for f in listing.json()["value"]) == ["input.json", "output.json"]
    assert download.json() == {"square": 4}
    metadata = await http.get("/metadata", params={"api-version": API})
    assert metadata.json()["emulator"]["singleSessionDir"] == str(shared)


async def test_deleting_the_last_session_empties_the_folder_but_keeps_it(
    http: httpx.AsyncClient, shared: Path
) -> None:
    first, second = _identifier(), _identifier()
    await run_code(http, first, "open('a.txt', 'w').write('a')", api_version=API)
    await run_code(http, second, "print(open('a.txt').read())", api_version=API)

    # Another session still exists: its (shared) files stay.
    assert (await http.delete("/session", params=params(first, API))).status_code == 204
    assert (shared / "a.txt").exists()
    assert (await http.delete("/session", params=params(second, API))).status_code == 204

    assert shared.is_dir()
    assert list(shared.iterdir()) == []
    fresh = await run_code(http, _identifier(), "import os\nprint(os.listdir('.'))")
    assert fresh["result"]["stdout"] == "[]\n"


async def test_with_a_working_sandbox_the_folder_is_bound_at_mnt_data(
    tmp_path: Path, shared: Path
) -> None:
    """``--insecure-no-sandbox`` only allows running unsandboxed; bwrap still wins if it works."""
    with _serve(tmp_path, shared, isolation="auto") as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            metadata = await client.get("/metadata", params={"api-version": API})
            if metadata.json()["emulator"]["isolation"].startswith("NONE"):
                pytest.skip("no sandbox works on this machine")
            body = await run_code(
                client,
                _identifier(),
                "import os\nopen('/mnt/data/x.txt', 'w').write('x')\nprint(os.getcwd())",
            )
            written = (shared / "x.txt").read_text()

    assert body["result"]["stdout"] == "/mnt/data\n", body
    assert written == "x"
    # the session outlives the emulator's shutdown, with its files, as the service's would
    assert (shared / "x.txt").read_text() == "x"


def test_refused_unless_the_container_is_the_boundary(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="isolation boundary"):
        EmulatorConfig(data_dir=tmp_path / "emu", single_session_dir=tmp_path / "data")
    with pytest.raises(ValidationError, match="too much"):
        EmulatorConfig(data_dir=tmp_path / "emu", single_session_dir="/", insecure_no_sandbox=True)
    with pytest.raises(ValidationError, match="contain each other"):
        EmulatorConfig(
            data_dir=tmp_path, single_session_dir=tmp_path / "x", insecure_no_sandbox=True
        )


def test_cli_refuses_to_start_without_insecure_no_sandbox(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    argv = ["--port", "0", "--data-dir", str(tmp_path / "emu")]
    argv += ["--single-session-dir", str(tmp_path / "data")]

    assert main(argv) == 2
    assert "isolation boundary" in caplog.text
    assert not (tmp_path / "data").exists()
