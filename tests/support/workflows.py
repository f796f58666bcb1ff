"""Load an exported workflow file in-process, the way run.py loads it in the sandbox."""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path
from types import ModuleType


def load_workflow(path: Path) -> ModuleType:
    """Import ``path`` as a new module with a unique name, so no two tests share its agents."""
    name = f"workflow_{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
