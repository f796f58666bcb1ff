"""The session image has everything ``python -m session_emulator`` imports.

The Dockerfile copies a few repository paths into /app and installs
session_image/requirements.txt; .venv-session has those packages with the image's Python.
Copying the same paths into a folder and importing the server there with .venv-session's
Python shows the image's file set is complete (no Docker engine is needed for that).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from devstack.stack import SESSION_PYTHON

REPO = Path(__file__).resolve().parents[1]
COPY = re.compile(r"^COPY\s+(\S+)\s+/app/(\S*)$", re.MULTILINE)


def test_the_images_files_and_packages_are_enough_to_start_the_server(tmp_path: Path) -> None:
    assert SESSION_PYTHON.exists(), "run `make session-venv`"
    app = tmp_path / "app"
    app.mkdir()
    copies = COPY.findall((REPO / "session_image" / "Dockerfile").read_text())
    sources = [source for source, _ in copies if not source.startswith("session_image/")]
    assert "session_emulator/" in sources and "runner/" in sources
    for source in sources:
        origin = REPO / source
        if origin.is_dir():
            shutil.copytree(origin, app / origin.name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(origin, app / origin.name)
    done = subprocess.run(
        [str(SESSION_PYTHON), "-I", "-c", "import sys; sys.path.insert(0, '.'); "
         "import session_emulator.__main__, runner; print('ok')"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
