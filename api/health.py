"""``Health``: is the app configured, and (on request) can it reach the session pool.

Plain ``GET /api/health`` only checks settings and never touches the pool, so it is
cheap enough for a load balancer. ``?deep=true`` also sends one ``GET /metadata`` to
the pool, bounded by ``AzureSession__HealthProbeTimeoutSeconds`` (token included).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import azure.functions as func
import httpx

from activities.identity import identifier_key
from api.problems import ApiProblem, json_response, problem_response
from settings import SessionSettings, SettingsError, get_settings
from telemetry import get_logger

logger = get_logger("api")

#: The service version (``pyproject.toml`` ``version``; a test keeps them equal).
VERSION = "0.1.0"
PoolState = Literal["ok", "unreachable", "unknown"]


def check_settings() -> tuple[SessionSettings | None, str]:
    """The settings and ``"ok"``, or ``None`` and the error naming the bad setting."""
    try:
        settings = get_settings()
        settings.pool_endpoint  # noqa: B018 - raises SettingsError naming what is missing
        identifier_key(settings)
    except SettingsError as exc:
        return None, str(exc)
    return settings, "ok"


async def probe_pool(
    settings: SessionSettings, *, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[PoolState, str | None]:
    """One bounded ``GET /metadata``: ``("ok", None)`` or ``("unreachable", why)``."""
    from session_client.auth import auth_from_settings
    from session_client.client import SESSION_API_MIN_VERSION, newer_api_version

    timeout = settings.health_probe_timeout_seconds
    try:
        auth = auth_from_settings(settings)
    except Exception as exc:
        return "unreachable", f"no credential: {type(exc).__name__}"

    async def fetch() -> httpx.Response:
        headers = {}
        token = await auth.get_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with httpx.AsyncClient(timeout=timeout, transport=transport) as http:
            return await http.get(
                settings.pool_endpoint + "/metadata",
                params={
                    "api-version": newer_api_version(settings.api_version, SESSION_API_MIN_VERSION)
                },
                headers=headers,
            )

    try:
        response = await asyncio.wait_for(fetch(), timeout=timeout)
    except TimeoutError:
        return "unreachable", f"no answer within {timeout:g} s"
    except Exception as exc:
        return "unreachable", type(exc).__name__
    finally:
        await auth.aclose()
    if response.is_success:
        return "ok", None
    return "unreachable", f"HTTP {response.status_code}"


#: What ``?deep=`` accepts (OpenAPI serializes a boolean query parameter as true/false).
BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


async def health(
    req: func.HttpRequest, *, transport: httpx.AsyncBaseTransport | None = None
) -> func.HttpResponse:
    """Handle ``GET /api/health[?deep=true]``: 200 when healthy, else 503, same body."""
    settings, settings_state = check_settings()
    pool: PoolState = "unknown"
    pool_detail = None
    deep = BOOLEANS.get((req.params.get("deep") or "false").strip().lower())
    if deep is None:
        return problem_response(
            ApiProblem(
                400,
                "Invalid request",
                "Bad query parameter(s): deep.",
                errors=[{"path": "deep", "message": "must be true or false"}],
            )
        )
    if deep and settings is not None:
        pool, pool_detail = await probe_pool(settings, transport=transport)
        if pool != "ok":
            logger.warning("health: pool %s (%s)", pool, pool_detail)
    healthy = settings_state == "ok" and pool != "unreachable"
    body: dict[str, Any] = {
        "status": "ok" if healthy else "degraded",
        "version": VERSION,
        "settings": settings_state,
        "pool": pool,
    }
    if pool_detail:
        body["poolDetail"] = pool_detail
    return json_response(body, status_code=200 if healthy else 503)
