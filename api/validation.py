"""Parse and validate a workflow submission, collecting every bad field at once.

Pydantic checks the JSON types; the checks here need settings (limits, the
secret allow-list) or Python itself (does the code compile, is there an
entrypoint). Both lists of errors end up in one ``400`` problem answer.
"""

from __future__ import annotations

import ast
import json
import shlex
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from activities.callback import CallbackRefused, parse_url
from api.models import WorkflowRequest
from api.problems import (
    TYPE_MALFORMED_JSON,
    TYPE_PAYLOAD_TOO_LARGE,
    TYPE_UNSUPPORTED_MEDIA_TYPE,
    ApiProblem,
)
from orchestrator.models import MAX_JSON_DEPTH, exceeds_depth
from orchestrator.rules import (
    MAX_ENV_VALUE_CHARS,
    SESSION_ID,
    variable_name_problem,
)
from settings import ENV_PREFIX, MIB, SessionSettings

ENTRYPOINTS = ("run", "run_workflow")
Errors = list[dict[str, str]]


def body_cap(settings: SessionSettings) -> int:
    """Hard cap on the request body: code + input limits + 1 MiB for everything else."""
    return settings.max_code_bytes + settings.max_input_bytes + MIB


def check_content_type(content_type: str | None) -> None:
    """415 unless the body is ``application/json`` (a UTF-8 charset parameter is fine)."""
    media, _, params = (content_type or "").partition(";")
    charset_ok = True
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset_ok = value.strip().strip('"').lower() in ("utf-8", "utf8")
    if media.strip().lower() != "application/json" or not charset_ok:
        raise ApiProblem(
            415,
            "Unsupported Media Type",
            f"Send the request as application/json (UTF-8); got {content_type or 'no type'!r}.",
            type_=TYPE_UNSUPPORTED_MEDIA_TYPE,
        )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_body(body: bytes, *, settings: SessionSettings) -> dict[str, Any]:
    """The JSON object in ``body``: 400 if empty or malformed, 413 if over the cap."""
    cap = body_cap(settings)
    if len(body) > cap:
        raise ApiProblem(
            413,
            "Payload Too Large",
            f"The request body is {len(body)} bytes; the limit is {cap} bytes.",
            type_=TYPE_PAYLOAD_TOO_LARGE,
        )
    if not body.strip():
        raise ApiProblem(
            400,
            "Bad Request",
            "The request body is empty; send a JSON object.",
            type_=TYPE_MALFORMED_JSON,
        )
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise ApiProblem(
            400,
            "Malformed JSON",
            f"The body is not UTF-8: {exc.reason} at byte {exc.start}.",
            type_=TYPE_MALFORMED_JSON,
        ) from None
    except json.JSONDecodeError as exc:
        raise ApiProblem(
            400,
            "Malformed JSON",
            f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            type_=TYPE_MALFORMED_JSON,
        ) from None
    except ValueError as exc:
        raise ApiProblem(400, "Malformed JSON", str(exc), type_=TYPE_MALFORMED_JSON) from None
    except RecursionError:
        raise ApiProblem(
            400,
            "Malformed JSON",
            "The body nests arrays or objects too deeply.",
            type_=TYPE_MALFORMED_JSON,
        ) from None
    if not isinstance(document, dict):
        raise ApiProblem(
            400,
            "Invalid request",
            "The body must be a JSON object.",
            errors=[{"path": "", "message": "must be a JSON object"}],
        )
    return document


# --- field checks: each appends (path, message) pairs ----------------------------------


def _utf8_size(text: str) -> int | None:
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def _compile_error(source: str, filename: str) -> str | None:
    """Why ``source`` does not compile, with line and column; None if it does."""
    try:
        compile(source, filename, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"does not compile: {exc.msg} (line {exc.lineno}, column {exc.offset})"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"does not compile: {exc}"
    return None


def _bound_names(statements: list[ast.stmt]) -> set[str]:
    """Names bound at module level (also inside module-level if/try/with blocks)."""
    names: set[str] = set()
    for node in statements:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.If | ast.While | ast.For | ast.AsyncFor):
            names |= _bound_names(node.body) | _bound_names(node.orelse)
        elif isinstance(node, ast.With | ast.AsyncWith):
            names |= _bound_names(node.body)
        elif isinstance(node, ast.Try | ast.TryStar):
            names |= _bound_names(node.body) | _bound_names(node.orelse)
            names |= _bound_names(node.finalbody)
            for handler in node.handlers:
                names |= _bound_names(handler.body)
    return names


def has_entrypoint(source: str) -> bool:
    """True if the module binds ``run`` or ``run_workflow`` at module level."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return bool(_bound_names(tree.body) & set(ENTRYPOINTS))


def _check_code(raw: dict[str, Any], settings: SessionSettings, add: Callable) -> None:
    code = raw.get("workflowCode")
    if not isinstance(code, str):
        return
    if not code.strip():
        add("workflowCode", "must not be empty")
        return
    size = _utf8_size(code)
    if size is None:
        add("workflowCode", "must be valid UTF-8 text (no lone surrogates)")
        return
    if size > settings.max_code_bytes:
        add(
            "workflowCode",
            f"is {size} bytes; the limit is {settings.max_code_bytes} ({ENV_PREFIX}MaxCodeBytes)",
        )
        return
    problem = _compile_error(code, "workflow.py")
    if problem:
        add("workflowCode", problem)
        return
    if not raw.get("commandOverride") and not has_entrypoint(code):
        add(
            "workflowCode",
            "defines no entrypoint: add a module-level run(payload) or "
            "async run_workflow(workflow_input), or give commandOverride",
        )


def _check_input(raw: dict[str, Any], settings: SessionSettings, add: Callable) -> None:
    value = raw.get("input")
    if not isinstance(value, dict):
        return
    if exceeds_depth(value):
        add("input", f"nests objects or arrays more than {MAX_JSON_DEPTH} levels deep")
        return
    size = _utf8_size(json.dumps(value, separators=(",", ":"), ensure_ascii=False))
    if size is None:
        add("input", "must be valid Unicode text (no lone surrogates)")
    elif size > settings.max_input_bytes:
        add(
            "input",
            f"is {size} bytes as JSON; the limit is {settings.max_input_bytes} "
            f"({ENV_PREFIX}MaxInputBytes)",
        )


def _check_variable_name(field: str, name: str, add: Callable) -> bool:
    problem = variable_name_problem(name)
    if problem is not None:
        add(f"{field}.{name}", problem)
    return problem is None


def _check_environment(raw: dict[str, Any], settings: SessionSettings, add: Callable) -> None:
    env = raw.get("environmentVariables")
    secrets = raw.get("secretEnvironmentVariables")
    env = env if isinstance(env, dict) else {}
    secrets = secrets if isinstance(secrets, dict) else {}
    for name, value in env.items():
        if _check_variable_name("environmentVariables", name, add) and isinstance(value, str):
            if "\x00" in value:
                add(f"environmentVariables.{name}", "must not contain NUL characters")
            elif _utf8_size(value) is None:
                add(f"environmentVariables.{name}", "must be valid Unicode (no lone surrogates)")
            elif len(value) > MAX_ENV_VALUE_CHARS:
                add(
                    f"environmentVariables.{name}",
                    f"is {len(value)} characters; the limit is {MAX_ENV_VALUE_CHARS}",
                )
    allowed = settings.secret_settings
    for name, setting in secrets.items():
        if not _check_variable_name("secretEnvironmentVariables", name, add):
            continue
        path = f"secretEnvironmentVariables.{name}"
        if name in env:
            add(path, "is also in environmentVariables; set each variable once")
        if isinstance(setting, str) and setting not in allowed:
            add(
                path,
                f"names app setting {setting!r}, which is not on "
                f"{ENV_PREFIX}SecretSettingsAllowList",
            )
    total = len(env) + len(secrets)
    if total > settings.max_environment_variables:
        field = "environmentVariables" if env else "secretEnvironmentVariables"
        add(
            field,
            f"sets {total} variables; the limit is {settings.max_environment_variables} "
            f"({ENV_PREFIX}MaxEnvironmentVariables)",
        )


def _check_session(raw: dict[str, Any], settings: SessionSettings, add: Callable) -> None:
    value = raw.get("sessionId")
    if isinstance(value, str) and not SESSION_ID.fullmatch(value):
        add("sessionId", "must be 4 to 128 characters of A-Z a-z 0-9 _ -")
    strategy = raw.get("sessionStrategy")
    if strategy == "reuse" and value is None:
        add("sessionStrategy", "'reuse' requires sessionId (the name of the session to reuse)")
    elif strategy == "ephemeral" and value is not None:
        add(
            "sessionStrategy",
            "'ephemeral' takes no sessionId: omit sessionId, or use 'reuse' to keep its files",
        )


def _check_preamble(raw: dict[str, Any], settings: SessionSettings, add: Callable) -> None:
    value = raw.get("runnerPreamble")
    if not isinstance(value, str):
        return
    size = _utf8_size(value)
    if size is None:
        add("runnerPreamble", "must be valid UTF-8 text (no lone surrogates)")
    elif size > settings.max_preamble_bytes:
        add(
            "runnerPreamble",
            f"is {size} bytes; the limit is {settings.max_preamble_bytes} "
            f"({ENV_PREFIX}MaxPreambleBytes)",
        )
    elif problem := _compile_error(value, "<runnerPreamble>"):
        add("runnerPreamble", problem)


def _check_command(raw: dict[str, Any], settings: SessionSettings, add: Callable) -> None:
    value = raw.get("commandOverride")
    if not isinstance(value, str):
        return
    if len(value) > settings.max_command_length:
        add(
            "commandOverride",
            f"is {len(value)} characters; the limit is {settings.max_command_length} "
            f"({ENV_PREFIX}MaxCommandLength)",
        )
        return
    if "\x00" in value or _utf8_size(value) is None:
        add("commandOverride", "must not contain NUL characters or lone surrogates")
        return
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        add("commandOverride", f"cannot be split into arguments: {exc}")
        return
    if not argv:
        add("commandOverride", "must name a command")


def _check_timeout(raw: dict[str, Any], settings: SessionSettings, add: Callable) -> None:
    value = raw.get("timeoutSeconds")
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and not 1 <= value <= settings.max_timeout_seconds:
        add(
            "timeoutSeconds",
            f"must be between 1 and {settings.max_timeout_seconds} ({ENV_PREFIX}MaxTimeoutSeconds)",
        )


def _check_callback(raw: dict[str, Any], settings: SessionSettings, add: Callable) -> None:
    """The URL's form; where it resolves to is checked when the run starts (api.starter)."""
    url = raw.get("callbackUrl")
    if not isinstance(url, str):
        return
    if settings.callback_signing_secret is None:
        add("callbackUrl", f"webhooks are not configured here ({ENV_PREFIX}CallbackSigningSecret)")
        return
    try:
        parse_url(url, allow_http=settings.callback_allow_http)
    except CallbackRefused as exc:
        add("callbackUrl", str(exc))


CHECKS = (
    _check_code,
    _check_input,
    _check_environment,
    _check_session,
    _check_preamble,
    _check_command,
    _check_timeout,
    _check_callback,
)


def _path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part != "[key]")


def recheck(raw: dict[str, Any], *, settings: SessionSettings) -> None:
    """The settings-bound checks again, on the fields ``raw`` has (raises ``ApiProblem``).

    Activities call this with what reached them, so input that came another way than a
    submission (the Durable management API, a hand-written start) meets the same rules.
    """
    errors: Errors = []

    def add(path: str, message: str) -> None:
        errors.append({"path": path, "message": message})

    for check in CHECKS:
        check(raw, settings, add)
    if errors:
        details = "; ".join(f"{e['path']} {e['message']}" for e in errors)
        raise ApiProblem(400, "Invalid request", details, errors=errors)


def validate_request(raw: dict[str, Any], *, settings: SessionSettings) -> WorkflowRequest:
    """The validated request, or a 400 ``ApiProblem`` listing every bad field."""
    errors: Errors = []

    def add(path: str, message: str) -> None:
        entry = {"path": path, "message": message}
        if entry not in errors:
            errors.append(entry)

    model: WorkflowRequest | None = None
    try:
        model = WorkflowRequest.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            message = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            if err["type"] == "missing":
                message = "is required"
            add(_path(err["loc"]), message)
    for check in CHECKS:
        check(raw, settings, add)
    if errors or model is None:
        fields = ", ".join(dict.fromkeys(e["path"] or "(body)" for e in errors))
        raise ApiProblem(
            400,
            "Invalid request",
            f"{len(errors)} problem(s) with: {fields}.",
            errors=errors,
        )
    return model


def parse_workflow_request(
    body: bytes, *, content_type: str | None, settings: SessionSettings
) -> WorkflowRequest:
    """Content type, size, JSON and field checks in order; raises ``ApiProblem``."""
    check_content_type(content_type)
    return validate_request(parse_body(body, settings=settings), settings=settings)
