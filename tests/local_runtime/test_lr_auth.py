"""Function keys: levels, header vs `code`, anonymous opt-in, webhooks and the internal RPC."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from lr_helpers import APP_DIR, http_client, new_id, wait_status

from local_runtime import auth
from local_runtime.auth import AuthConfig
from local_runtime.config import read_auth_config
from local_runtime.durable_api import RPC_PATH, WEBHOOK_PATH
from local_runtime.errors import ConfigError
from local_runtime.testing import RunningRuntime, run_local_runtime

APP = "auth_app:app"


def new_key() -> str:
    return secrets.token_urlsafe(24)


@contextmanager
def serve(tmp_path: Path, config: AuthConfig) -> Iterator[RunningRuntime]:
    with run_local_runtime(
        app=APP, app_dir=APP_DIR, db_path=tmp_path / f"{new_id()}.sqlite3", auth=config
    ) as rt:
        yield rt


@pytest.fixture
def keys() -> tuple[str, str]:
    return new_key(), new_key()


@pytest.fixture
def keyed(tmp_path: Path, keys: tuple[str, str]) -> Iterator[RunningRuntime]:
    with serve(tmp_path, AuthConfig(function_keys=keys)) as rt:
        yield rt


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with http_client() as c:
        yield c


# --- HTTP functions ----------------------------------------------------------------------


def test_anonymous_route_needs_no_key(keyed: RunningRuntime, client: httpx.Client) -> None:
    response = client.get(f"{keyed.api_url}/open")
    assert (response.status_code, response.text) == (200, "open")


def test_function_route_without_key_is_401_with_reason(
    keyed: RunningRuntime, client: httpx.Client
) -> None:
    response = client.get(f"{keyed.api_url}/guarded")
    assert response.status_code == 401
    assert response.json() == {"error": auth.MISSING_KEY_MESSAGE}
    assert "x-functions-key" in response.json()["error"]


def test_function_route_accepts_header_and_code(
    keyed: RunningRuntime, client: httpx.Client, keys: tuple[str, str]
) -> None:
    header = client.get(f"{keyed.api_url}/guarded", headers={"x-functions-key": keys[0]})
    code = client.get(f"{keyed.api_url}/guarded", params={"code": keys[0]})
    assert (header.status_code, header.text) == (200, "guarded")
    assert (code.status_code, code.text) == (200, "guarded")


def test_every_configured_key_is_accepted(
    keyed: RunningRuntime, client: httpx.Client, keys: tuple[str, str]
) -> None:
    for key in keys:
        response = client.get(f"{keyed.api_url}/guarded", headers={"x-functions-key": key})
        assert response.status_code == 200, key


def test_wrong_key_is_401_and_not_echoed(
    keyed: RunningRuntime, client: httpx.Client, keys: tuple[str, str]
) -> None:
    wrong = new_key()
    for response in (
        client.get(f"{keyed.api_url}/guarded", headers={"x-functions-key": wrong}),
        client.get(f"{keyed.api_url}/guarded", params={"code": wrong}),
        client.get(f"{keyed.api_url}/guarded", params={"code": keys[0][:-1]}),
    ):
        assert response.status_code == 401
        assert response.json() == {"error": auth.INVALID_KEY_MESSAGE}
        assert wrong not in response.text


def test_header_wins_over_code(
    keyed: RunningRuntime, client: httpx.Client, keys: tuple[str, str]
) -> None:
    response = client.get(
        f"{keyed.api_url}/guarded", headers={"x-functions-key": new_key()}, params={"code": keys[0]}
    )
    assert response.status_code == 401


def test_allow_anonymous_opens_function_routes_and_webhooks(
    tmp_path: Path, client: httpx.Client
) -> None:
    with serve(tmp_path, AuthConfig(allow_anonymous=True)) as rt:
        assert client.get(f"{rt.api_url}/guarded").status_code == 200
        assert client.get(f"{rt.api_url}/admin").status_code == 200
        assert client.get(f"{rt.base_url}{WEBHOOK_PATH}/instances").status_code == 200


def test_no_keys_and_not_anonymous_explains_how_to_configure(
    tmp_path: Path, client: httpx.Client
) -> None:
    with serve(tmp_path, AuthConfig()) as rt:
        assert client.get(f"{rt.api_url}/open").status_code == 200
        for url in (f"{rt.api_url}/guarded", f"{rt.base_url}{WEBHOOK_PATH}/instances"):
            response = client.get(url, headers={"x-functions-key": new_key()})
            assert response.status_code == 401
            message = response.json()["error"]
            assert "LocalRuntime__FunctionKeys" in message
            assert "LocalRuntime__AllowAnonymous" in message


def test_admin_level_takes_the_master_key_when_one_is_set(
    tmp_path: Path, client: httpx.Client
) -> None:
    function_key, master = new_key(), new_key()
    with serve(tmp_path, AuthConfig(function_keys=(function_key,), master_key=master)) as rt:

        def get(route: str, key: str) -> int:
            return client.get(f"{rt.api_url}/{route}", headers={"x-functions-key": key}).status_code

        assert get("admin", function_key) == 401
        assert get("admin", master) == 200
        assert get("guarded", master) == 200
        assert get("guarded", function_key) == 200


def test_admin_level_takes_function_keys_without_a_master_key(
    keyed: RunningRuntime, client: httpx.Client, keys: tuple[str, str]
) -> None:
    assert client.get(f"{keyed.api_url}/admin").status_code == 401
    response = client.get(f"{keyed.api_url}/admin", headers={"x-functions-key": keys[1]})
    assert response.status_code == 200


# --- Durable webhooks and the library's client ---------------------------------------------


def test_webhooks_need_the_system_key_not_a_function_key(
    tmp_path: Path, client: httpx.Client, keys: tuple[str, str]
) -> None:
    """As on Azure: a caller's function key must not open every instance of the hub."""
    system, master = new_key(), new_key()
    config = AuthConfig(function_keys=keys, system_key=system, master_key=master)
    with serve(tmp_path, config) as rt:
        url = f"{rt.base_url}{WEBHOOK_PATH}/instances"
        assert client.get(url).status_code == 401
        refused = client.get(url, headers={"x-functions-key": keys[0]})
        assert refused.status_code == 401
        assert "system key" in refused.json()["error"]
        assert client.get(url, params={"code": keys[1]}).status_code == 401
        start = f"{rt.base_url}{WEBHOOK_PATH}/orchestrators/o_greet"
        assert client.post(start, headers={"x-functions-key": keys[0]}).status_code == 401
        assert client.get(url, headers={"x-functions-key": system}).status_code == 200
        assert client.get(url, params={"code": system}).status_code == 200
        assert client.get(url, headers={"x-functions-key": master}).status_code == 200


def test_webhooks_are_closed_without_a_system_key(
    keyed: RunningRuntime, client: httpx.Client, keys: tuple[str, str]
) -> None:
    url = f"{keyed.base_url}{WEBHOOK_PATH}/instances"
    assert client.get(url, headers={"x-functions-key": keys[0]}).status_code == 401


def test_internal_rpc_path_needs_the_process_token(
    keyed: RunningRuntime, client: httpx.Client, keys: tuple[str, str]
) -> None:
    response = client.get(
        f"{keyed.base_url}{RPC_PATH}/{new_key()}/instances", headers={"x-functions-key": keys[0]}
    )
    assert response.status_code == 404


def test_durable_client_inside_a_function_hands_out_urls_with_the_system_key(
    tmp_path: Path, client: httpx.Client, keys: tuple[str, str]
) -> None:
    """The binding's management URLs carry the system key, as on Azure (an app must not
    pass them to callers as they are: ours strips it, see api.starter)."""
    system = new_key()
    with serve(tmp_path, AuthConfig(function_keys=keys, system_key=system)) as rt:
        response = client.post(f"{rt.api_url}/start/Ada", headers={"x-functions-key": keys[0]})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["runtimeStatus"] == "Completed"
        assert body["output"] == "Hello Ada!"
        status_url = body["management"]["statusQueryGetUri"]
        assert parse_qs(urlsplit(status_url).query)["code"] == [system]
        assert RPC_PATH not in response.text
        followed = client.get(status_url)  # the URL's own code is the system key
        assert followed.status_code == 200
        assert followed.json()["output"] == "Hello Ada!"


def test_webhook_start_with_code_returns_urls_with_that_code_only(
    tmp_path: Path, client: httpx.Client, keys: tuple[str, str]
) -> None:
    system = new_key()
    with serve(tmp_path, AuthConfig(function_keys=keys, system_key=system)) as rt:
        start = f"{rt.base_url}{WEBHOOK_PATH}/orchestrators/o_greet"
        with_code = client.post(start, params={"code": system}, json="Cy")
        with_header = client.post(start, headers={"x-functions-key": system}, json="Di")

        assert with_code.status_code == with_header.status_code == 202
        assert f"code={system}" in with_code.json()["statusQueryGetUri"]
        assert with_code.headers["Location"] == with_code.json()["statusQueryGetUri"]
        assert "code=" not in with_header.text
        done = wait_status(client, with_code.json()["statusQueryGetUri"])
        assert done.json()["output"] == "Hello Cy!"


# --- configuration -------------------------------------------------------------------------


def test_read_auth_config_from_settings() -> None:
    config = read_auth_config(
        {
            "LocalRuntime__FunctionKeys": " k1 , ,k2,<generated on first run>",
            "LocalRuntime__MasterKey": "<placeholder>",
            "LocalRuntime__AllowAnonymous": "TRUE",
        }
    )
    assert config.function_keys == ("k1", "k2")
    assert config.master_key is None
    assert config.allow_anonymous is True
    assert read_auth_config({}) == AuthConfig()
    with pytest.raises(ConfigError, match="LocalRuntime__AllowAnonymous"):
        read_auth_config({"LocalRuntime__AllowAnonymous": "maybe"})


def test_auth_config_repr_hides_keys() -> None:
    key = new_key()
    config = AuthConfig(function_keys=(key,), master_key=key)
    assert key not in repr(config)
    assert key not in str(config)


def test_run_local_runtime_reads_keys_from_the_environment(
    tmp_path: Path, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = new_key()
    monkeypatch.setenv("LocalRuntime__FunctionKeys", key)
    monkeypatch.delenv("LocalRuntime__AllowAnonymous", raising=False)
    with run_local_runtime(app=APP, app_dir=APP_DIR, db_path=tmp_path / "d.sqlite3") as rt:
        assert client.get(f"{rt.api_url}/guarded").status_code == 401
        assert client.get(f"{rt.api_url}/guarded", params={"code": key}).status_code == 200


@pytest.mark.parametrize(
    ("host", "config", "expected"),
    [
        ("127.0.0.1", AuthConfig(function_keys=("k",)), []),
        ("::1", AuthConfig(function_keys=("k",)), []),
        ("localhost", AuthConfig(allow_anonymous=True), []),
        ("0.0.0.0", AuthConfig(allow_anonymous=True), ["!!!"]),
        ("0.0.0.0", AuthConfig(), ["!!!", "401"]),
        ("192.168.1.5", AuthConfig(function_keys=("k",)), ["plain HTTP"]),
        ("127.0.0.1", AuthConfig(), ["401"]),
    ],
)
def test_startup_warnings(host: str, config: AuthConfig, expected: list[str]) -> None:
    warnings = auth.startup_warnings(host=host, config=config)
    assert len(warnings) == len(expected)
    for warning, fragment in zip(warnings, expected, strict=True):
        assert fragment in warning
