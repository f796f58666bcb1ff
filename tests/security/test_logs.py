"""No pool identifier, function key, token or secret in any log line of a real run.

A stack runs a few workflows (ephemeral and reuse sessions, a secret, keys sent both as a
header and as ``?code=``); then the host's and the emulator's logs are searched for every
session identifier those runs used (derived as the activities derive them), the function
key, the emulator's bearer token and the secret value.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from e2e_support import StackClient, make_stack

from activities.identity import derive_identifier
from orchestrator.models import SessionRef

pytestmark = pytest.mark.e2e

SETTING = "LogScanSecret"
SECRET = f"log-scan-{secrets.token_hex(12)}"
CODE = "import os\n\ndef run(payload):\n    print('secret is', os.environ['TOKEN'])\n    return 1\n"


def test_logs_hold_no_identifier_key_token_or_secret(tmp_path: Path) -> None:
    runtime_env = {"AzureSession__SecretSettingsAllowList": SETTING, SETTING: SECRET}
    with make_stack(tmp_path, runtime_env=runtime_env) as stack, StackClient(stack) as api:
        key = stack.function_key
        body = {"workflowCode": CODE, "secretEnvironmentVariables": {"TOKEN": SETTING}}
        ephemeral = api.run(body)
        reused = api.run({**body, "sessionId": "log-scan-named"})
        by_query = api.http.post(
            "/api/workflows", params={"code": key}, json=body, headers={"x-functions-key": ""}
        )
        assert by_query.status_code == 202, by_query.text
        api.wait(by_query.json()["id"])
        private = ("runtime.log", "emulator.log", "durable.sqlite3")
        modes = {name: (tmp_path / name).stat().st_mode & 0o777 for name in private}
        runtime_log = stack.log_tail("runtime", chars=10_000_000)
        emulator_log = stack.log_tail("emulator", chars=10_000_000)
        values = stack.values

    assert ephemeral["runtimeStatus"] == reused["runtimeStatus"] == "Completed"
    assert set(modes.values()) == {0o600}, modes  # logs and store: the owner's only
    assert tmp_path.stat().st_mode & 0o777 == 0o700
    hmac_key = values["AzureSession__SessionIdentifierKey"].encode()
    identifiers = {
        derive_identifier(SessionRef(strategy="ephemeral"), instance, hmac_key)
        for instance in (ephemeral["instanceId"], by_query.json()["id"])
    }
    forbidden = {
        "function key": key,
        "emulator token": values["AzureSession__StaticToken"],
        "secret": SECRET,
        **{f"identifier {i}": i for i in identifiers},
    }
    for name, value in forbidden.items():
        assert value not in runtime_log, f"{name} in the host's log"
        assert value not in emulator_log, f"{name} in the emulator's log"
    for log in (runtime_log, emulator_log):
        assert "identifier=aro-" not in log
        assert "aro-r-" not in log and "aro-e-" not in log
    assert "httpx" not in runtime_log  # its INFO lines carried the full URLs
    assert "POST /subscriptions/" in emulator_log  # access lines are there, without queries
