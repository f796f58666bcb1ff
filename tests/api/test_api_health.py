"""Health: settings check always, the pool only with ?deep=true."""

from __future__ import annotations

import tomllib
from pathlib import Path

import httpx
import pytest
from api_support import body_of, request

import api.health
from api import schemas
from api.health import VERSION, health
from settings import SessionSettings, SettingsError

ROOT = Path(__file__).resolve().parents[2]


def healthy_settings(**overrides) -> SessionSettings:
    return SessionSettings(
        pool_management_endpoint="http://127.0.0.1:9/pool",
        session_identifier_key="k",
        auth_mode="none",
        health_probe_timeout_seconds=2,
        **overrides,
    )


@pytest.fixture
def use_settings(monkeypatch):
    def install(settings_or_error):
        def fake():
            if isinstance(settings_or_error, Exception):
                raise settings_or_error
            return settings_or_error

        monkeypatch.setattr(api.health, "get_settings", fake)

    return install


def health_request(**params: str):
    return request("GET", "/api/health", params=params)


def refusing_transport(calls: list) -> httpx.MockTransport:
    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req)
        raise httpx.ConnectError("refused", request=req)

    return httpx.MockTransport(handler)


async def test_plain_health_checks_settings_and_never_touches_the_pool(use_settings):
    use_settings(healthy_settings())
    calls: list = []
    response = await health(health_request(), transport=refusing_transport(calls))
    assert response.status_code == 200
    assert body_of(response) == {
        "status": "ok",
        "version": VERSION,
        "settings": "ok",
        "pool": "unknown",
    }
    assert calls == []


async def test_deep_health_reads_pool_metadata(use_settings):
    use_settings(healthy_settings())
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json={"runtimes": []})

    response = await health(health_request(deep="true"), transport=httpx.MockTransport(handler))
    assert response.status_code == 200
    assert body_of(response)["pool"] == "ok"
    assert seen[0].method == "GET"
    assert seen[0].url.path == "/pool/metadata"
    assert seen[0].url.params["api-version"]


@pytest.mark.parametrize(
    ("handler", "detail"),
    [
        (lambda req: httpx.Response(403), "HTTP 403"),
        (lambda req: (_ for _ in ()).throw(httpx.ConnectError("no", request=req)), "ConnectError"),
    ],
)
async def test_deep_health_reports_an_unreachable_pool_as_503(use_settings, handler, detail):
    use_settings(healthy_settings())
    response = await health(health_request(deep="true"), transport=httpx.MockTransport(handler))
    assert response.status_code == 503
    body = body_of(response)
    assert body["status"] == "degraded" and body["pool"] == "unreachable"
    schemas.Health.model_validate(body)
    assert body["poolDetail"] == detail


async def test_bad_settings_are_named_and_503(use_settings):
    use_settings(SettingsError("Invalid AzureSession settings: MaxRetries: too big"))
    response = await health(health_request(deep="true"))
    assert response.status_code == 503
    body = body_of(response)
    assert "MaxRetries" in body["settings"]
    assert body["pool"] == "unknown"


async def test_a_missing_identifier_key_is_a_settings_error(use_settings):
    use_settings(SessionSettings(pool_management_endpoint="http://127.0.0.1:9/p", auth_mode="none"))
    body = body_of(await health(health_request()))
    assert "SessionIdentifierKey" in body["settings"]


async def test_a_missing_pool_endpoint_is_a_settings_error(use_settings):
    use_settings(SessionSettings(session_identifier_key="k", auth_mode="none"))
    body = body_of(await health(health_request()))
    assert "PoolManagementEndpoint" in body["settings"]


def test_max_execution_seconds_above_the_service_cap_is_a_settings_error(monkeypatch):
    from settings import load_settings

    monkeypatch.setenv("AzureSession__MaxExecutionSeconds", "221")
    with pytest.raises(SettingsError, match="MaxExecutionSeconds"):
        load_settings()


def test_version_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == VERSION
