"""Deployment choices that must agree across files: Python versions and the durable backend.

- The supported Python versions are the same in the Bicep ``@allowed`` lists, azd's default,
  pyproject, requirements.txt's markers and the docs; 3.10 is gone (the code needs 3.11).
- ``deployDurableTaskScheduler`` switches the app to the scheduler: the app settings the
  Bicep produces, applied over host.json as the Functions host applies
  ``AzureFunctionsJobHost__<path>`` settings, give the ``azureManaged`` provider, the task
  hub the scheduler module creates, and a bundle that has that provider; without it the
  effective host.json is host.json itself (Azure Storage).
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bicep_text import BicepFile

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
SUPPORTED = ("3.11", "3.12", "3.13")
DEFAULT = "3.13"
PYTHON_PARAM_FILES = ("main.bicep", "resources.bicep", "modules/function-app.bicep")
OVERRIDE_PREFIX = "AzureFunctionsJobHost__"


# --- Python versions ---------------------------------------------------------------------


@pytest.mark.parametrize("path", PYTHON_PARAM_FILES)
def test_bicep_allows_the_supported_pythons(path: str) -> None:
    bicep = BicepFile.load(INFRA / path)
    decorators = bicep.decorators(bicep.of_kind("param")["pythonVersion"])
    allowed = re.search(r"@allowed\(\[(.*?)\]\)", decorators, re.DOTALL)
    assert allowed, decorators
    assert tuple(re.findall(r"'([^']+)'", allowed.group(1))) == SUPPORTED
    assert bicep.param_default("pythonVersion") == f"'{DEFAULT}'"


def test_azd_default_pyproject_and_requirements_agree() -> None:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["pythonVersion"]["value"] == f"${{PYTHON_VERSION={DEFAULT}}}"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == f">={SUPPORTED[0]}"
    assert project["tool"]["ruff"]["target-version"] == "py" + SUPPORTED[0].replace(".", "")
    requirements = (REPO / "requirements.txt").read_text()
    assert 'azure-functions>=1.26,<2; python_version < "3.13"' in requirements
    assert 'azure-functions>=2.3,<3; python_version >= "3.13"' in requirements
    # runtime versioning: the app pins the worker Azure runs it with on 3.13
    assert re.search(
        r'^azure-functions-runtime==[\d.]+; python_version >= "3.13"$', requirements, re.M
    )


def test_docs_state_the_same_versions_and_no_310() -> None:
    azure = (REPO / "docs" / "azure.md").read_text()
    assert "Python 3.11, 3.12 and 3.13" in azure
    assert f"default {DEFAULT}" in azure
    for path in [REPO / "README.md", REPO / "pyproject.toml", *REPO.glob("docs/*.md")]:
        assert "3.10" not in path.read_text().replace("3.10 is not supported", ""), path
    for path in INFRA.rglob("*.bicep"):
        assert "'3.10'" not in path.read_text(), path


# --- the durable backend -----------------------------------------------------------------


def _resources() -> BicepFile:
    return BicepFile.load(INFRA / "resources.bicep")


def _literal(bicep: BicepFile, expression: str) -> str | None:
    """A plain string literal, or a var holding one; None for anything computed."""
    expression = expression.strip()
    if re.fullmatch(r"'[^'$]*'", expression):
        return expression[1:-1]
    variables = bicep.of_kind("var")
    if expression in variables:
        line = variables[expression].line
        value = line.split("=", 1)[1].strip()
        return _literal(bicep, value) if value != expression else None
    return None


def scheduler_settings(enabled: bool) -> dict[str, str | None]:
    """The app settings resources.bicep adds for the scheduler (literal values resolved)."""
    bicep = _resources()
    declaration = bicep.of_kind("var")["durableTaskSchedulerSettings"]
    question = bicep.structure.find("?", declaration.start)
    colon_branch = bicep.structure.find(":", bicep.structure.find("}", question))
    brace = bicep.structure.find("{", question if enabled else colon_branch)
    keys = bicep.object_keys(brace)
    return {name: _literal(bicep, value) for name, value in keys.items()}


def effective_host_json(app_settings: dict[str, str | None]) -> dict[str, Any]:
    """host.json with AzureFunctionsJobHost__a__b settings applied (keys case-insensitive)."""
    config = json.loads((REPO / "host.json").read_text())
    for name, value in app_settings.items():
        if not name.startswith(OVERRIDE_PREFIX):
            continue
        node = config
        *parents, leaf = name[len(OVERRIDE_PREFIX) :].split("__")
        for part in parents:
            key = next((k for k in node if k.lower() == part.lower()), part)
            node = node.setdefault(key, {})
        key = next((k for k in node if k.lower() == leaf.lower()), leaf)
        node[key] = value
    return config


def test_without_the_scheduler_host_json_is_azure_storage() -> None:
    settings = scheduler_settings(enabled=False)
    assert settings == {}
    host = effective_host_json(settings)
    provider = host["extensions"]["durableTask"]["storageProvider"]
    assert "type" not in provider  # the default: Azure Storage, through AzureWebJobsStorage
    assert host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"


def test_with_the_scheduler_the_app_uses_it() -> None:
    settings = scheduler_settings(enabled=True)
    host = effective_host_json(settings)
    durable = host["extensions"]["durableTask"]
    assert durable["storageProvider"]["type"] == "azureManaged"
    connection = durable["storageProvider"]["connectionStringName"]
    assert connection in settings  # the setting it names exists, with the scheduler endpoint
    raw = _raw_setting(connection)
    assert "Endpoint=${durableTaskScheduler!.outputs.endpoint}" in raw
    assert "Authentication=ManagedIdentity;ClientID=${appIdentity.properties.clientId}" in raw
    # the task hub the app uses is the one the scheduler module creates
    resources = _resources()
    hub = _literal(resources, "taskHubName")
    assert durable["hubName"] == hub
    module = resources.of_kind("module")["durableTaskScheduler"]
    assert resources.body_keys(module, "params")["taskHubName"] == "taskHubName"
    # Python apps get the azureManaged provider from the Preview bundle, 4.29.0 or later
    bundle = host["extensionBundle"]
    assert bundle["id"] == "Microsoft.Azure.Functions.ExtensionBundle.Preview"
    low = re.match(r"\[(\d+)\.(\d+)\.(\d+),\s*5\.0\.0\)", bundle["version"])
    assert low and tuple(int(n) for n in low.groups()) >= (4, 29, 0)


def _raw_setting(name: str) -> str:
    bicep = _resources()
    declaration = bicep.of_kind("var")["durableTaskSchedulerSettings"]
    question = bicep.structure.find("?", declaration.start)
    return bicep.object_keys(bicep.structure.find("{", question))[name]


def test_scheduler_settings_reach_the_function_app() -> None:
    resources = _resources()
    module = resources.of_kind("module")["functionApp"]
    assert resources.body_keys(module, "params")["extraAppSettings"] == (
        "durableTaskSchedulerSettings"
    )
    app = BicepFile.load(INFRA / "modules" / "function-app.bicep")
    assert "union(appSettings, extraAppSettings)" in app.code
