"""Request checks over real HTTP: api-version, identifier, auth, routes, session endpoints."""

from __future__ import annotations

import asyncio

import httpx
from emulator_support import params, poll, run_code

from session_emulator.testing import run_emulator
from tests.session_emulator.conftest import emulator_config, new_identifier


async def test_api_version_is_required_and_checked(http, identifier):
    missing = await http.get("/files", params={"identifier": identifier})
    assert missing.status_code == 400
    assert missing.headers["x-ms-error-code"] == "MissingApiVersionParameter"
    unknown = await http.get(
        "/files", params={"identifier": identifier, "api-version": "2023-01-01-preview"}
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "InvalidApiVersionParameter"
    # the legacy dialect has no /executions, the newer ones no /code/execute
    legacy_on_new = await http.post(
        "/executions", params=params(identifier, "2024-02-02-preview"), json={"code": "1"}
    )
    assert legacy_on_new.json()["error"]["code"] == "InvalidApiVersionParameter"
    new_on_legacy = await http.post(
        "/code/execute", params=params(identifier), json={"properties": {"code": "1"}}
    )
    assert new_on_legacy.json()["error"]["code"] == "InvalidApiVersionParameter"
    for version in (
        "2024-02-02-preview",
        "2024-08-02-preview",
        "2024-10-02-preview",
        "2025-02-02-preview",
        "2025-10-02-preview",
    ):
        ok = await http.get("/files", params=params(identifier, version))
        assert ok.status_code == 200, version


async def test_identifier_is_required_and_validated(http):
    missing = await http.get("/files", params={"api-version": "2024-10-02-preview"})
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "MissingIdentifier"
    for bad in ("abc", "x" * 129, "has space", "slash/no", "dot.no"):
        response = await http.get("/files", params=params(bad))
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "InvalidIdentifier"
    for good in ("abcd", "x" * 128, "A-b_c|&^%$#(){}[];<>"):
        assert (await http.get("/files", params=params(good))).status_code == 200, good


async def test_unknown_route_is_azure_404(http):
    response = await http.get("/nothing-here", params=params(new_identifier()))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NotFound"


async def test_session_endpoints(http, identifier):
    v2 = "2025-02-02-preview"
    before = await http.get("/session", params=params(identifier, v2))
    assert before.status_code == 404
    await run_code(http, identifier, "open('f.txt', 'w').write('x')")
    info = (await http.get("/session", params=params(identifier, v2))).json()
    assert info["identifier"] == identifier
    assert {"createdAt", "lastAccessedAt", "expireAt", "etag"} <= info.keys()
    listed = (await http.get("/listSessions", params={"api-version": v2})).json()
    assert identifier in [s["identifier"] for s in listed["sessions"]]
    meta = await http.get("/metadata", params={"api-version": v2})
    assert meta.status_code == 200 and meta.json()["runtimes"][0]["name"] == "python"
    old = await http.get("/session", params=params(identifier, "2024-10-02-preview"))
    assert old.status_code == 400
    deleted = await http.delete("/session", params=params(identifier, v2))
    assert deleted.status_code == 204
    assert (await http.get("/session", params=params(identifier, v2))).status_code == 404
    files = (await http.get("/files", params=params(identifier))).json()
    assert files["value"] == []  # a new, empty session


async def test_delete_session_kills_running_execution(http, identifier):
    started = await http.post(
        "/executions",
        params=params(identifier),
        json={"code": "import time; time.sleep(30)", "executionType": "Asynchronous"},
    )
    execution_id = started.json()["id"]
    await asyncio.sleep(0.3)
    response = await http.delete("/session", params=params(identifier, "2025-02-02-preview"))
    assert response.status_code == 204
    # The session is gone, so its executions are too.
    gone = await http.get(f"/executions/{execution_id}", params=params(identifier))
    assert gone.status_code == 404


async def test_bearer_token_is_required_when_configured(tmp_path):
    config = emulator_config(tmp_path, token="s3cret-token")
    with run_emulator(config) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            query = params(new_identifier())
            none = await client.get("/files", params=query)
            assert none.status_code == 401
            assert none.json()["error"]["code"] == none.headers["x-ms-error-code"]
            wrong = await client.get("/files", params=query, headers={"Authorization": "Bearer no"})
            assert wrong.status_code == 401
            auth = {"Authorization": "Bearer s3cret-token"}
            assert (await client.get("/files", params=query, headers=auth)).status_code == 200


async def test_cooldown_reaps_idle_sessions_and_kills_their_executions(tmp_path):
    config = emulator_config(tmp_path, cooldown_seconds=0.6, reap_interval_seconds=0.1)
    with run_emulator(config) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            ident = new_identifier()
            await client.post(
                "/executions",
                params=params(ident),
                json={"code": "import time; time.sleep(30)", "executionType": "Asynchronous"},
            )
            await asyncio.sleep(1.5)
            listed = await client.get("/listSessions", params={"api-version": "2025-02-02-preview"})
            assert listed.json()["sessions"] == []
            sessions_dir = tmp_path / "sessions"
            assert list(sessions_dir.iterdir()) == []


async def test_every_call_resets_the_idle_timer(tmp_path):
    config = emulator_config(tmp_path, cooldown_seconds=0.8, reap_interval_seconds=0.1)
    with run_emulator(config) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            ident = new_identifier()
            for _ in range(6):  # 1.5 s of activity, each gap under the cooldown
                assert (await client.get("/files", params=params(ident))).status_code == 200
                await asyncio.sleep(0.25)
            info = await client.get("/session", params=params(ident, "2025-02-02-preview"))
            assert info.status_code == 200


async def test_max_sessions_answers_404_when_full(tmp_path):
    config = emulator_config(tmp_path, max_sessions=2)
    with run_emulator(config) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            a, b, c = new_identifier(), new_identifier(), new_identifier()
            assert (await client.get("/files", params=params(a))).status_code == 200
            assert (await client.get("/files", params=params(b))).status_code == 200
            full = await client.get("/files", params=params(c))
            assert full.status_code == 404
            assert full.headers["x-ms-error-code"] == "SessionPoolCapacityExceeded"
            await client.delete("/session", params=params(a, "2025-02-02-preview"))
            assert (await client.get("/files", params=params(c))).status_code == 200
            body = await run_code(client, c, "print(2)")
            assert body["result"]["stdout"] == "2\n"
            status = await poll(client, c, body["id"])
            assert status["status"] == "Succeeded"
