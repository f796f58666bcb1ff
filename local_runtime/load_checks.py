"""Refuse what Azure's Python worker refuses, before serving a single request.

On Azure the worker indexes ``function_app.py`` when the host starts it and checks each
function's Python signature against its bindings; one bad function fails the whole metadata
answer, so the host starts with **no functions** (every route 404s after a green deploy).
The local host runs the same verdict first, two ways:

- **the worker itself** (:func:`worker_verdict`): when a Python 3.13 environment with
  ``azure-functions-runtime`` exists (``make worker-venv`` makes ``.venv-worker``), the app
  is indexed and loaded there by :mod:`local_runtime.python_worker`, in a subprocess;
- **the same rules** (:func:`check_functions`), when it does not: the checks the worker's
  ``Registry.add_indexed_function`` makes, restated here and applied with the SDK's own
  binding converters (``azure.functions`` ``check_input_type_annotation`` /
  ``check_output_type_annotation``), with the worker's messages. Deferred (SDK-type)
  bindings and the Service Bus settlement client are not covered: this app uses neither.

``tests/worker`` checks that both give the same verdict on the same broken apps.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_runtime.errors import AppLoadError

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where ``make worker-venv`` puts the Python 3.13 environment with Azure's worker.
DEFAULT_WORKER_PYTHON = REPO_ROOT / ".venv-worker" / "bin" / "python"
WORKER_TIMEOUT_SECONDS = 120.0

# BindingInfo.Direction numbers (FunctionRpc.proto), as the SDK reports them.
IN, OUT, INOUT = 0, 1, 2
UNDEFINED_DATA_TYPE = 0


class FunctionLoadError(RuntimeError):
    """The worker's error for a function it cannot load (same text)."""

    def __init__(self, function_name: str, msg: str) -> None:
        super().__init__(f"cannot load the {function_name} function: {msg}")
        self.function_name = function_name


@dataclass(frozen=True)
class Verdict:
    """Who judged the app, and how."""

    judge: str  # "azure-functions-runtime 1.3.0 on Python 3.13.0" or "the worker's rules"
    functions: tuple[str, ...]


def refused_by_worker(message: str) -> AppLoadError:
    """The host's error when the worker refuses the app (``message`` is the worker's)."""
    return AppLoadError(
        "Azure's Python worker refuses this app, so on Azure the host would serve no function "
        f"at all: {message}"
    )


def find_worker_python(explicit: str | None = None) -> str | None:
    """The interpreter to index the app with: ``explicit``, else ``.venv-worker``'s if built."""
    if explicit:
        return explicit
    return str(DEFAULT_WORKER_PYTHON) if DEFAULT_WORKER_PYTHON.exists() else None


def worker_verdict(
    *, worker_python: str, app_dir: str | Path, script_file: str = "function_app.py"
) -> Verdict:
    """Index and load the app with Azure's worker in ``worker_python``; raise if it refuses."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    argv = [worker_python, "-m", "local_runtime.python_worker", "index", str(app_dir)]
    argv += ["--script-file", script_file]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=WORKER_TIMEOUT_SECONDS
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise AppLoadError(f"cannot run Azure's Python worker with {worker_python}: {exc}") from exc
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise AppLoadError(
            f"Azure's Python worker ({worker_python}) gave no verdict (exit {done.returncode}): "
            f"{tail}"
        ) from None
    if report.get("unavailable"):
        raise AppLoadError(f"{worker_python} cannot run Azure's Python worker: {report['error']}")
    if not report["ok"]:
        raise refused_by_worker(report["error"])
    names = tuple(f["name"] for f in report["functions"])
    return Verdict(judge=f"{report['worker']} on Python {report['python']}", functions=names)


# --- the same rules, in-process ---------------------------------------------------------


def check_functions(functions: Iterable[Any]) -> Verdict:
    """Apply the worker's load checks to ``app.get_functions()``; raise the first failure.

    Raises :class:`AppLoadError` carrying the worker's message (``FunctionLoadError: cannot
    load the <name> function: ...``), as the worker fails the whole app on the first one.
    """
    names = []
    for function in functions:
        try:
            check_function(function)
        except FunctionLoadError as exc:
            raise AppLoadError(
                "Azure's Python worker would refuse this app (its load rules, checked here "
                "without the worker), so on Azure the host would serve no function at all: "
                f"FunctionLoadError: {exc}"
            ) from exc
        names.append(function.get_function_name())
    return Verdict(judge="the worker's load rules", functions=tuple(names))


def check_function(function: Any) -> None:
    """One function, as ``Registry.add_indexed_function`` checks it."""
    from azure.functions import meta

    name = function.get_function_name()
    func = function.get_user_function()
    params = dict(inspect.signature(func).parameters)
    try:
        annotations = typing.get_type_hints(func)
    except Exception as exc:  # the worker calls get_type_hints too and fails the same way
        raise FunctionLoadError(name, f"{type(exc).__name__}: {exc}") from exc
    registry = meta.get_binding_registry()

    bound: dict[str, Any] = {}
    return_binding = None
    for binding in function.get_bindings():
        if binding.direction == INOUT:
            raise FunctionLoadError(name, '"inout" bindings are not supported')
        if binding.name == "$return":
            if binding.direction != OUT:
                raise FunctionLoadError(name, '"$return" binding must have direction set to "out"')
            return_binding = binding
        else:
            bound[binding.name] = binding

    if "context" in params and "context" not in bound:
        params.pop("context")
        anno = annotations.get("context")
        if "context" in annotations and (not isinstance(anno, type) or anno.__name__ != "Context"):
            raise FunctionLoadError(
                name,
                'the "context" parameter is expected to be of type azure.functions.Context, '
                f'got "{anno!r}"',
            )
    if set(params) - set(bound):
        raise FunctionLoadError(
            name,
            "the following parameters are declared in Python but not in the function "
            f"definition (function.json or function decorators):  {set(params) - set(bound)!r}",
        )
    if set(bound) - set(params):
        raise FunctionLoadError(
            name,
            "Extra parameters in binding definition — the following parameters are declared "
            f"as bindings but are not present in Python: {set(bound) - set(params)!r}",
        )
    for param in params:
        _check_param(name, param, bound[param], annotations, registry)
    if return_binding is not None and "return" in annotations:
        _check_return(name, return_binding.type, annotations["return"], registry)


def _implicit_output(registry: Any, binding_type: str) -> bool:
    converter = registry.get(binding_type)
    if converter is None:
        return binding_type != "durableClient"  # the worker's GenericBinding rule
    return bool(getattr(converter, "has_implicit_output", lambda: False)())


def _is_out(anno: Any) -> bool:
    origin = typing.get_origin(anno) or anno
    return isinstance(origin, type) and origin.__name__ == "Out"


def _check_param(name: str, param: str, binding: Any, annotations: dict, registry: Any) -> None:
    has_anno = param in annotations
    anno = annotations.get(param)
    is_param_out = has_anno and _is_out(anno)
    is_binding_out = binding.direction == OUT
    pytype = typing.get_args(anno)[0] if is_param_out and typing.get_args(anno) else anno
    if is_param_out and len(typing.get_args(anno)) != 1:
        raise FunctionLoadError(name, f"binding {param} has invalid Out annotation {anno!r}")
    if has_anno and not isinstance(pytype, type) and typing.get_origin(pytype) is None:
        raise FunctionLoadError(name, f"binding {param} has invalid non-type annotation {anno!r}")
    if is_binding_out and has_anno and not is_param_out:
        raise FunctionLoadError(
            name,
            f'binding {param} is declared to have the "out" direction, but its annotation in '
            "Python is not a subclass of azure.functions.Out",
        )
    if not is_binding_out and is_param_out:
        raise FunctionLoadError(
            name,
            f'binding {param} is declared to have the "in" direction in the binding decorator, '
            "but its annotation is azure.functions.Out in Python",
        )
    if not has_anno:
        return
    if pytype in (str, bytes) and not _implicit_output(registry, binding.type):
        converter = _Generic
    else:
        converter = registry.get(binding.type) or _Generic
    check = (
        converter.check_output_type_annotation
        if is_param_out
        else converter.check_input_type_annotation
    )
    if check(typing.get_origin(pytype) or pytype):
        return
    type_name = getattr(pytype, "__name__", repr(pytype))
    if binding.data_type is not UNDEFINED_DATA_TYPE:  # the worker's `is not` test, kept
        raise FunctionLoadError(
            name,
            f'binding type "{param!r}" and dataType "{binding.type}" in the binding decorator '
            "do not match the corresponding function parameter's Python type annotation "
            f"{type_name}",
        )
    raise FunctionLoadError(
        name,
        f'type of {param} binding in the binding decorator "{binding.type}" does not match '
        f'its Python annotation "{type_name}"',
    )


def _check_return(name: str, binding_type: str, anno: Any, registry: Any) -> None:
    if _is_out(anno) and typing.get_origin(anno) is not None:
        raise FunctionLoadError(name, "return annotation should not be azure.functions.Out")
    if not isinstance(anno, type):
        raise FunctionLoadError(name, f"has invalid non-type return annotation {anno!r}")
    converter = registry.get(binding_type) or _Generic
    if not converter.check_output_type_annotation(anno):
        raise FunctionLoadError(
            name,
            f'Python return annotation "{anno.__name__}" does not match binding type '
            f'"{binding_type}"',
        )


class _Generic:
    """The worker's GenericBinding type checks (bindings the SDK has no converter for)."""

    @staticmethod
    def check_input_type_annotation(pytype: type) -> bool:
        return isinstance(pytype, type) and issubclass(pytype, (str, bytes))

    @staticmethod
    def check_output_type_annotation(pytype: type) -> bool:
        return isinstance(pytype, type) and issubclass(pytype, (str, bytes, bytearray))


def app_script_file(app_spec: str) -> str:
    """``function_app:app`` -> ``function_app.py`` (the worker imports the script by stem)."""
    return app_spec.partition(":")[0].replace(".", os.sep) + ".py"
