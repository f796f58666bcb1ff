"""``ListWorkflows``: the caller's recent WorkflowOrchestrator instances, newest first, in pages.

The Python durable client has no server-side paging (``get_status_by`` returns
every match), so pages are cut here from the sorted result, after dropping every
instance whose id does not carry the caller's owner tag. The continuation token
is opaque to callers: base64url of JSON holding the offset, a cursor (the last
item's created time and id) and the query it belongs to, owner tag included, so
another caller's token is refused. The next page starts after the cursor, so runs
created between two requests do not shift it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.functions as func
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from api.caller import belongs_to, owner_tag, resolve_caller
from api.problems import ApiProblem, backend_problem, json_response, problem_response
from api.starter import origin_of, status_uri
from api.status import list_item, parse_time, runtime_of, status_document
from orchestrator.names import ORCHESTRATOR
from settings import SessionSettings
from telemetry import get_logger

logger = get_logger("api")

#: Durable's runtime status names, as the ``status`` filter accepts them.
RUNTIME_STATUSES = tuple(s.value for s in OrchestrationRuntimeStatus)
DEFAULT_TOP = 20
MAX_TOP = 100
DEFAULT_DAYS = 7
MAX_DAYS = 90
TOKEN_VERSION = 1
#: A plain decimal parameter (``str.isdigit`` also takes "²", which ``int`` refuses).
DIGITS = re.compile(r"[0-9]{1,9}")

Errors = list[dict[str, str]]


def _int_param(
    params: Mapping[str, str], name: str, *, default: int, low: int, high: int, errors: Errors
) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        errors.append({"path": name, "message": f"must be an integer from {low} to {high}"})
        return default
    return int(raw)


def _status_param(params: Mapping[str, str], errors: Errors) -> list[str] | None:
    raw = params.get("status")
    if raw is None or not raw.strip():
        return None
    values = [part.strip() for part in raw.split(",") if part.strip()]
    bad = [value for value in values if value not in RUNTIME_STATUSES]
    if bad:
        errors.append(
            {
                "path": "status",
                "message": f"unknown runtime status {', '.join(bad)}; use one or more of "
                + ", ".join(RUNTIME_STATUSES),
            }
        )
        return None
    return sorted(set(values))


def encode_token(*, offset: int, cursor: tuple[str, str], query: dict[str, Any]) -> str:
    """The opaque continuation token."""
    document = {"v": TOKEN_VERSION, "o": offset, "c": list(cursor), "q": query}
    raw = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any] | None:
    """The token's document, or None if it is not one of ours."""
    try:
        padded = token + "=" * (-len(token) % 4)
        document = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return None
    if not isinstance(document, dict) or document.get("v") != TOKEN_VERSION:
        return None
    cursor, offset, query = document.get("c"), document.get("o"), document.get("q")
    if not (
        isinstance(cursor, list)
        and len(cursor) == 2
        and all(isinstance(part, str) for part in cursor)
        and isinstance(offset, int)
        and offset >= 0
        and isinstance(query, dict)
        and window_start(query.get("from")) is not None
    ):
        return None
    return document


def parse_list_query(params: Mapping[str, str], *, now: datetime, tag: str) -> dict[str, Any]:
    """Validated paging and filter parameters for owner ``tag``; one 400 naming every bad one."""
    errors: Errors = []
    statuses = _status_param(params, errors)
    top = _int_param(params, "top", default=DEFAULT_TOP, low=1, high=MAX_TOP, errors=errors)
    days = _int_param(params, "days", default=DEFAULT_DAYS, low=1, high=MAX_DAYS, errors=errors)
    query = {"status": statuses, "from": _iso(now - timedelta(days=days)), "owner": tag}
    token_text = params.get("continuationToken")
    token = None
    if token_text:
        token = decode_token(token_text)
        if token is None:
            errors.append({"path": "continuationToken", "message": "is not a token of this API"})
        elif token["q"].get("owner") != tag:
            errors.append(
                {"path": "continuationToken", "message": "belongs to another caller's listing"}
            )
        elif token["q"].get("status") != statuses:
            errors.append(
                {
                    "path": "continuationToken",
                    "message": "belongs to a different status filter; repeat the first "
                    "request's status parameter",
                }
            )
        else:
            query = token["q"]  # keep the first page's time window
    if errors:
        fields = ", ".join(dict.fromkeys(e["path"] for e in errors))
        raise ApiProblem(
            400, "Invalid request", f"Bad query parameter(s): {fields}.", errors=errors
        )
    return {"query": query, "top": top, "token": token}


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def window_start(value: Any) -> datetime | None:
    """A query's ``from``: UTC ISO text exactly as :func:`_iso` writes it, else None."""
    parsed = parse_time(value)
    if parsed is None or parsed.utcoffset() != timedelta(0) or _iso(parsed) != value:
        return None
    return parsed


def _created(status: Any) -> str:
    """The created time as fixed-width ISO text (microseconds always), so text order = time."""
    created = getattr(status, "created_time", None)
    parsed = parse_time(created)
    if parsed is None:
        return created if isinstance(created, str) else ""
    return parsed.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def sort_key(status: Any) -> tuple[str, str]:
    """``(createdTime ISO, instanceId)``: sorted descending, newest first."""
    return _created(status), str(getattr(status, "instance_id", "") or "")


def page(
    statuses: list[Any], *, top: int, token: dict[str, Any] | None, query: dict[str, Any]
) -> tuple[list[Any], str | None]:
    """One page of ``statuses`` (any order) and the token for the next, if any."""
    ordered = sorted(statuses, key=sort_key, reverse=True)
    start = 0
    if token is not None:
        cursor = tuple(token["c"])
        start = next((i for i, s in enumerate(ordered) if sort_key(s) < cursor), len(ordered))
    chunk = ordered[start : start + top]
    following = None
    if start + top < len(ordered) and chunk:
        following = encode_token(offset=start + top, cursor=sort_key(chunk[-1]), query=query)
    return chunk, following


async def list_workflows(
    req: func.HttpRequest,
    client: Any,
    *,
    now: datetime | None = None,
    settings: SessionSettings | None = None,
) -> func.HttpResponse:
    """Handle ``GET /api/workflows``: the caller's own runs only."""
    try:
        settings, owner = resolve_caller(req.headers, req.params, settings)
        parsed = parse_list_query(req.params, now=now or datetime.now(UTC), tag=owner_tag(owner))
        query = parsed["query"]
        created_from = window_start(query["from"])
        wanted = query["status"]
        try:
            found = await client.get_status_by(
                created_time_from=created_from,
                runtime_status=[OrchestrationRuntimeStatus(s) for s in wanted] if wanted else None,
            )
        except Exception as exc:
            raise backend_problem(exc, "list workflows") from None
    except ApiProblem as problem:
        return problem_response(problem)
    mine = [
        s
        for s in found or []
        if getattr(s, "name", None) == ORCHESTRATOR
        and belongs_to(str(getattr(s, "instance_id", "") or ""), owner)
    ]
    chunk, following = page(mine, top=parsed["top"], token=parsed["token"], query=query)
    origin = origin_of(req.url)
    items = []
    for status in chunk:
        item = list_item(
            status_document(
                instance_id=status.instance_id,
                runtime_status=runtime_of(status),
                custom_status=status.custom_status,
                created_time=status.created_time,
                last_updated_time=status.last_updated_time,
                output=status.output,
            )
        )
        item["statusUri"] = status_uri(origin, status.instance_id)
        items.append(item)
    return json_response({"items": items, "count": len(items), "continuationToken": following})
