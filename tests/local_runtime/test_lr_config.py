"""local.settings.json, host.json, and the activity concurrency limit."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from lr_helpers import APP, APP_DIR, http_client, new_id

from local_runtime.config import HostOptions, read_host_json
from local_runtime.errors import AppLoadError, ConfigError
from local_runtime.loader import import_app, index_app
from local_runtime.settings_file import apply_local_settings, read_local_settings
from local_runtime.testing import run_local_runtime


def test_local_settings_do_not_override_environment(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": {"A": "file", "B": 2}}))
    environ = {"A": "env"}
    applied = apply_local_settings(path, environ=environ)
    assert environ == {"A": "env", "B": "2"}
    assert applied == {"B": "2"}


def test_local_settings_missing_and_invalid(tmp_path: Path) -> None:
    assert read_local_settings(tmp_path / "absent.json") == {}
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError):
        read_local_settings(bad)


def test_host_json_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "host.json"
    path.write_text(
        json.dumps(
            {
                "version": "2.0",
                "extensions": {
                    "http": {"routePrefix": ""},
                    "durableTask": {"hubName": "%HUB%", "maxConcurrentActivityFunctions": 3},
                },
            }
        )
    )
    monkeypatch.setenv("HUB", "MyHub")
    options = read_host_json(path)
    assert options == HostOptions(route_prefix="", hub_name="MyHub", max_concurrent_activities=3)
    assert read_host_json(tmp_path / "absent.json").max_concurrent_activities == 10


def test_repo_host_json_is_read() -> None:
    options = read_host_json(Path(__file__).resolve().parents[2] / "host.json")
    assert options.hub_name == "AgentRuntimeHub"
    assert options.max_concurrent_activities == 32


def test_import_errors_are_clear() -> None:
    with pytest.raises(AppLoadError, match="cannot import"):
        import_app("no_such_module_xyz:app")
    with pytest.raises(AppLoadError, match="no attribute"):
        import_app("scenarios_app:nope", app_dir=APP_DIR)


def test_index_is_cached_per_app() -> None:
    app = import_app(APP, app_dir=APP_DIR)
    first = index_app(app)
    assert index_app(app) is first
    assert {"o_hello", "o_retry"} <= set(first.orchestrators)
    assert (first.activities["ahello"].param, first.activities["hello"].param) == (
        "payload",
        "name",
    )
    start = next(f for f in first.http if f.name == "http_start")
    assert (start.route, start.methods, start.durable_client_param) == (
        "orchestrators/{functionName}",
        ("POST",),
        "client",
    )
    assert start.auth_level == "ANONYMOUS"


def test_route_prefix_and_activity_concurrency_limit(tmp_path: Path) -> None:
    import scenarios_app

    scenarios_app.CONCURRENCY.update(now=0, max=0)
    options = HostOptions(route_prefix="", max_concurrent_activities=2)
    with (
        run_local_runtime(
            app=APP, app_dir=APP_DIR, db_path=tmp_path / "d.sqlite3", options=options
        ) as rt,
        http_client() as client,
    ):
        assert client.get(f"{rt.base_url}/echo/1").status_code == 201
        assert client.get(f"{rt.base_url}/api/echo/1").status_code == 404
        started = time.monotonic()
        iid = rt.runtime.start_new(
            "o_tracked", instance_id=new_id(), input_json=json.dumps({"count": 6, "seconds": 0.1})
        )
        deadline = time.monotonic() + 10
        while rt.runtime.store.get_instance(iid).status != "Completed":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert time.monotonic() - started >= 0.3
    assert scenarios_app.CONCURRENCY["max"] == 2
