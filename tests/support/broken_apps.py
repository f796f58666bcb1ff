"""Function apps that Azure's Python worker refuses, each written as its own ``function_app.py``.

The first is the real app with one return annotation changed (the bug that once shipped);
the others are small apps with one defect each. Both the worker (``tests/worker``) and the
local host's copy of its rules (``tests/local_runtime``) must refuse each one with the same
message, naming the function.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from orchestrator import names

REPO_ROOT = Path(__file__).resolve().parents[2]
#: function_app.py's functions: nine HTTP functions, the orchestrators, the activities.
APP_FUNCTION_COUNT = 9 + len(names.ORCHESTRATORS) + len(names.ACTIVITIES)
#: What the real app imports (copied next to a broken function_app.py).
APP_PACKAGES = ("api", "activities", "orchestrator", "session_client", "runner")
APP_MODULES = ("settings.py", "telemetry.py", "host.json")

HEADER = """\
import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
"""


@dataclass(frozen=True)
class BrokenApp:
    """One defect: the function it is in and the worker's message for it."""

    name: str
    function: str
    message: str
    source: str | None = None  # None: the real app with StartWorkflow annotated `-> Any`


BROKEN_APPS = (
    BrokenApp(
        name="real_app_http_returns_any",
        function="StartWorkflow",
        message='Python return annotation "Any" does not match binding type "http"',
    ),
    BrokenApp(
        name="http_returns_dict",
        function="Hello",
        message='Python return annotation "dict" does not match binding type "http"',
        source=HEADER
        + """
@app.route(route="hello")
def Hello(req: func.HttpRequest) -> dict:
    return {}
""",
    ),
    BrokenApp(
        name="http_request_annotated_int",
        function="Hello",
        message='binding type "\'req\'" and dataType "httpTrigger" in the binding decorator do '
        "not match the corresponding function parameter's Python type annotation int",
        source=HEADER
        + """
@app.route(route="hello")
def Hello(req: int) -> func.HttpResponse:
    return func.HttpResponse("hi")
""",
    ),
    BrokenApp(
        name="parameter_without_binding",
        function="Hello",
        message="the following parameters are declared in Python but not in the function "
        "definition (function.json or function decorators):  {'extra'}",
        source=HEADER
        + """
@app.route(route="hello")
def Hello(req: func.HttpRequest, extra: str) -> func.HttpResponse:
    return func.HttpResponse("hi")
""",
    ),
    BrokenApp(
        name="activity_parameter_misnamed",
        function="Activity",
        message="the following parameters are declared in Python but not in the function "
        "definition (function.json or function decorators):  {'data'}",
        source=HEADER
        + """
@app.activity_trigger(input_name="payload")
def Activity(data: str) -> str:
    return data
""",
    ),
    BrokenApp(
        name="context_annotated_str",
        function="Hello",
        message='the "context" parameter is expected to be of type azure.functions.Context, '
        "got \"<class 'str'>\"",
        source=HEADER
        + """
@app.route(route="hello")
def Hello(req: func.HttpRequest, context: str) -> func.HttpResponse:
    return func.HttpResponse("hi")
""",
    ),
)


def write_broken_app(app: BrokenApp, directory: Path) -> Path:
    """Write ``app`` as ``directory/function_app.py`` (with the real app's packages if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "function_app.py"
    if app.source is not None:
        target.write_text(app.source)
        return directory
    for package in APP_PACKAGES:
        shutil.copytree(
            REPO_ROOT / package, directory / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    for module in APP_MODULES:
        shutil.copy(REPO_ROOT / module, directory / module)
    source = (REPO_ROOT / "function_app.py").read_text()
    annotated = ") -> func.HttpResponse:\n"
    assert annotated in source, "function_app.py no longer annotates its HTTP functions"
    target.write_text(source.replace(annotated, ") -> Any:\n", 1))
    return directory


def expected_error(app: BrokenApp) -> str:
    """The worker's message for ``app`` (the end of the host's error)."""
    return f"FunctionLoadError: cannot load the {app.function} function: {app.message}"


def load_app_module(directory: Path) -> ModuleType:
    """Import ``directory/function_app.py`` under a unique name (its own app object)."""
    name = f"broken_app_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, directory / "function_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(directory))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(directory))
    return module
