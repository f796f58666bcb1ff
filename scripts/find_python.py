"""Print the path of a CPython of one minor version (``3.13``), or fail saying where it looked.

``make`` needs two interpreters besides its own ``python3``: Python 3.13 for Azure's Python
worker (``.venv-worker``) and the session image's Python (``.venv-session``). Like ``make``
finding ``python3``, this tries ``pythonX.Y`` on PATH first, then the usual install places:
pyenv's versions (its shims only answer when a version is selected), uv's managed Pythons,
/usr/local/bin and /usr/bin. Each candidate must actually run and report that version.

    python3 scripts/find_python.py 3.13    # -> /root/.pyenv/versions/3.13.0/bin/python3.13
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path


def _version_key(path: str) -> tuple[int, ...]:
    """Sort key: the patch numbers in a path like .../3.13.2/bin/python3.13 (newest first)."""
    return tuple(int(n) for n in re.findall(r"\d+", path))


def candidates(version: str) -> list[str]:
    """Where to look, in order."""
    exe = f"python{version}"
    found: list[str] = []
    on_path = shutil.which(exe)
    if on_path:
        found.append(on_path)
    roots = [os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")]
    for root in roots:
        found += sorted(
            glob.glob(f"{root}/versions/{version}.*/bin/{exe}"), key=_version_key, reverse=True
        )
    uv_dir = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or Path.home() / ".local/share/uv/python")
    found += sorted(
        glob.glob(f"{uv_dir}/cpython-{version}.*/bin/{exe}"), key=_version_key, reverse=True
    )
    found += [f"/usr/local/bin/{exe}", f"/usr/bin/{exe}"]
    return list(dict.fromkeys(found))


def runs_as(path: str, version: str) -> bool:
    """Whether ``path`` starts and reports ``version`` (a pyenv shim may not)."""
    try:
        out = subprocess.run(
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and out.stdout.strip() == version


def find(version: str) -> str | None:
    """The first working interpreter of ``version``."""
    return next((c for c in candidates(version) if runs_as(c, version)), None)


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not re.fullmatch(r"3\.\d+", argv[0]):
        print("usage: find_python.py 3.X", file=sys.stderr)
        return 2
    version = argv[0]
    found = find(version)
    if found:
        print(found)
        return 0
    tried = "\n  ".join(candidates(version))
    print(
        f"No working Python {version} found. Tried:\n  {tried}\n"
        f"Install it (pyenv install {version}, uv python install {version}, or your OS "
        f"package) or name one: make ... PYTHON{version.replace('.', '')}=/path/to/python{version}",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
