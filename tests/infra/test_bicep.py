"""Static checks of infra/ (no Bicep compiler here): resources, roles, wiring, settings names.

A real compile runs too when a ``bicep`` binary is on PATH (test_bicep_compiles).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest
from pydantic import AliasChoices

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bicep_text import BicepFile, BicepSyntaxError

import settings as app_settings

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

# Built-in role definition ids (names as in the Azure built-in roles reference).
SESSION_EXECUTOR = "0fb8eba5-a2bb-4abe-b1c1-49dfad359bb0"  # Azure ContainerApps Session Executor
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
DURABLE_TASK_DATA_CONTRIBUTOR = "0ad04412-c4d5-4796-b79c-f76d14c8d402"
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"

#: Settings the deployed app must get (names exactly as settings.py reads them).
REQUIRED_APP_SETTINGS = {
    "AzureSession__PoolManagementEndpoint",
    "AzureSession__AuthMode",
    "AzureSession__ManagedIdentityClientId",
    "AzureSession__SessionIdentifierKey",
    "AzureSession__ApiVersion",
    "AzureSession__ExecutionPollIntervalSeconds",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}
#: Flex Consumption rejects these (the runtime comes from functionAppConfig), and a plain
#: AzureWebJobsStorage connection string would need shared keys, which are disabled.
FORBIDDEN_APP_SETTINGS = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "AzureWebJobsStorage",
}


def load(relative: str) -> BicepFile:
    return BicepFile.load(INFRA / relative)


def settings_aliases() -> set[str]:
    """Every ``AzureSession__*`` name that settings.SessionSettings reads."""
    names: set[str] = set()
    for info in app_settings.SessionSettings.model_fields.values():
        alias = info.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        for choice in choices:
            if isinstance(choice, str) and choice.startswith(app_settings.ENV_PREFIX):
                names.add(choice)
    return names


def app_settings_keys() -> dict[str, str]:
    return load("modules/function-app.bicep").var_object_keys("appSettings")


def role_assignments(bicep: BicepFile) -> list[str]:
    return [
        bicep.body_text(d)
        for d in bicep.declarations
        if d.resource_type == "Microsoft.Authorization/roleAssignments"
    ]


# --- the reader itself -------------------------------------------------------------------


def test_reader_keeps_urls_and_nested_interpolations_intact() -> None:
    text = (
        "// a comment with { brace\n"
        "var url = 'https://x.example/${toLower(last(split(id, '/')))}' // tail {\n"
        "resource r 'A.B/c@2024-01-01' = {\n"
        "  name: 'n{'\n"
        "  properties: {\n"
        "    k: 'v'\n"
        "  }\n"
        "}\n"
    )
    path = Path("inline.bicep")
    bicep = BicepFile(path=path, text=text)
    assert "https://x.example/" in bicep.code
    assert "a comment" not in bicep.code
    resource = bicep.of_kind("resource")["r"]
    assert resource.resource_type == "A.B/c"
    assert resource.api_version == "2024-01-01"
    assert set(bicep.body_keys(resource)) == {"name", "properties"}
    assert bicep.body_keys(resource, "properties") == {"k": "'v'"}


@pytest.mark.parametrize(
    "text",
    [
        "resource r 'A/b@1' = {\n  name: 'x'\n",
        "var x = 'unterminated\n",
        "var x = [1, 2}\n",
    ],
)
def test_reader_rejects_broken_text(text: str) -> None:
    bicep = BicepFile(path=Path("broken.bicep"), text=text)
    with pytest.raises(BicepSyntaxError):
        _ = bicep.declarations


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_every_file_scans_with_balanced_brackets(path: Path) -> None:
    bicep = BicepFile.load(path)
    assert bicep.declarations, f"{path} declares nothing"
    for declaration in bicep.declarations:
        if declaration.kind in ("resource", "module"):
            assert declaration.body is not None, declaration.line


# --- resources and api versions ----------------------------------------------------------


def all_resource_types() -> dict[str, set[str]]:
    types: dict[str, set[str]] = {}
    for path in BICEP_FILES:
        for declaration in BicepFile.load(path).declarations:
            if declaration.kind == "resource" and declaration.api_version:
                types.setdefault(declaration.resource_type, set()).add(declaration.api_version)
    return types


def test_required_resources_exist() -> None:
    types = all_resource_types()
    for required in (
        "Microsoft.Web/sites",
        "Microsoft.Web/serverfarms",
        "Microsoft.Storage/storageAccounts",
        "Microsoft.Insights/components",
        "Microsoft.OperationalInsights/workspaces",
        "Microsoft.App/sessionPools",
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "Microsoft.Authorization/roleAssignments",
        "Microsoft.KeyVault/vaults",
        "Microsoft.KeyVault/vaults/secrets",
        "Microsoft.DurableTask/schedulers",
    ):
        assert required in types, f"no {required} resource in infra/"


def test_api_versions_are_dates() -> None:
    for resource_type, versions in all_resource_types().items():
        for version in versions:
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", version), (
                resource_type,
                version,
            )


# --- session pools -------------------------------------------------------------------------


def test_code_interpreter_pool_shape() -> None:
    pools = load("modules/session-pools.bicep")
    pool = pools.of_kind("resource")["codeInterpreterPool"]
    props = pools.body_keys(pool, "properties")
    assert props["poolManagementType"] == "'Dynamic'"
    assert props["containerType"] == "'PythonLTS'"
    assert pools.body_keys(pool, "properties", "scaleConfiguration") == {
        "maxConcurrentSessions": "maxConcurrentSessions"
    }
    assert pools.body_keys(pool, "properties", "dynamicPoolConfiguration") == {
        "lifecycleConfiguration": "lifecycle"
    }
    assert pools.var_object_keys("lifecycle") == {
        "lifecycleType": "'Timed'",
        "cooldownPeriodInSeconds": "cooldownSeconds",
    }
    assert pools.body_keys(pool, "properties", "sessionNetworkConfiguration") == {
        "status": "networkStatus"
    }
    network = pools.of_kind("var")["networkStatus"].line
    assert "egressEnabled ? 'EgressEnabled' : 'EgressDisabled'" in network
    outputs = pools.of_kind("output")
    assert "codeInterpreterPool.properties.poolManagementEndpoint" in (
        outputs["codeInterpreterPoolManagementEndpoint"].line
    )


def test_custom_container_pool_is_optional_and_isolated() -> None:
    pools = load("modules/session-pools.bicep")
    custom = pools.of_kind("resource")["customPool"]
    assert "if (deployCustomContainerPool)" in custom.line
    props = pools.body_keys(custom, "properties")
    assert props["containerType"] == "'CustomContainer'"
    assert props["environmentId"] == "environment.id"
    assert "readySessionInstances" in pools.body_keys(custom, "properties", "scaleConfiguration")
    # The pool pulls with its own identity, never exposed to (untrusted) session code.
    body = pools.body_text(custom)
    assert "pullIdentity.id" in body
    assert "appIdentity" not in body
    assert "lifecycle: 'None'" in body
    registry = pools.code[pools.of_kind("var")["registryCredentials"].start :].split("\n\n")[0]
    assert "identity: pullIdentity.id" in registry
    main = load("main.bicep")
    assert main.param_default("deployCustomContainerPool") == "false"


def test_session_executor_role_on_every_pool() -> None:
    pools = load("modules/session-pools.bicep")
    assert f"var sessionExecutorRoleId = '{SESSION_EXECUTOR}'" in pools.code
    bodies = role_assignments(pools)
    for pool in ("codeInterpreterPool", "customPool"):
        matching = [
            body
            for body in bodies
            if f"scope: {pool}\n" in body
            and "sessionExecutorRoleId" in body
            and "principalId: executorPrincipalId" in body
        ]
        assert matching, f"no Session Executor assignment for the app identity on {pool}"


def test_resources_wire_the_app_identity_to_every_role() -> None:
    resources = load("resources.bicep")
    modules = resources.of_kind("module")
    for module, param in (
        ("monitoring", "metricsPublisherPrincipalId"),
        ("storage", "dataPrincipalId"),
        ("keyVault", "secretsUserPrincipalId"),
        ("sessionPools", "executorPrincipalId"),
        ("durableTaskScheduler", "dataContributorPrincipalId"),
    ):
        params = resources.body_keys(modules[module], "params")
        assert params[param] == "appIdentity.properties.principalId", module


@pytest.mark.parametrize(
    ("relative", "role_ids", "scope"),
    [
        (
            "modules/storage.bicep",
            [
                STORAGE_BLOB_DATA_OWNER,
                STORAGE_QUEUE_DATA_CONTRIBUTOR,
                STORAGE_TABLE_DATA_CONTRIBUTOR,
            ],
            "storageAccount",
        ),
        ("modules/monitoring.bicep", [MONITORING_METRICS_PUBLISHER], "applicationInsights"),
        ("modules/key-vault.bicep", [KEY_VAULT_SECRETS_USER], "vault"),
        ("modules/durable-task-scheduler.bicep", [DURABLE_TASK_DATA_CONTRIBUTOR], "scheduler"),
        ("modules/acr-pull.bicep", [ACR_PULL], "registry"),
    ],
)
def test_role_assignments(relative: str, role_ids: list[str], scope: str) -> None:
    bicep = load(relative)
    for role_id in role_ids:
        assert f"'{role_id}'" in bicep.code, f"{relative} lacks role {role_id}"
    bodies = role_assignments(bicep)
    assert bodies, f"{relative} assigns no role"
    for body in bodies:
        assert f"scope: {scope}\n" in body
        assert "subscriptionResourceId('Microsoft.Authorization/roleDefinitions'" in body
        assert re.search(r"name: guid\(\w+\.id, \w+, \w+\)", body), "names must be deterministic"


# --- the Function App and its settings ---------------------------------------------------


def test_flex_consumption_python_app() -> None:
    app = load("modules/function-app.bicep")
    plan = app.of_kind("resource")["plan"]
    assert app.body_keys(plan, "sku") == {"name": "'FC1'", "tier": "'FlexConsumption'"}
    site = app.of_kind("resource")["site"]
    assert app.body_keys(site)["kind"] == "'functionapp,linux'"
    runtime = app.body_keys(site, "properties", "functionAppConfig", "runtime")
    assert runtime == {"name": "'python'", "version": "pythonVersion"}
    auth = app.body_keys(
        site, "properties", "functionAppConfig", "deployment", "storage", "authentication"
    )
    assert auth["type"] == "'UserAssignedIdentity'"
    assert app.body_keys(site, "identity")["type"] == "'UserAssigned'"
    assert app.body_keys(site, "properties")["keyVaultReferenceIdentity"] == "identityResourceId"
    assert "'azd-service-name': 'api'" in app.body_text(site)


def test_app_settings_include_what_the_app_reads() -> None:
    keys = app_settings_keys()
    missing = REQUIRED_APP_SETTINGS - set(keys)
    assert not missing, f"app settings lack {sorted(missing)}"
    assert not FORBIDDEN_APP_SETTINGS & set(keys)
    assert keys["AzureWebJobsStorage__credential"] == "'managedidentity'"
    assert keys["AzureSession__PoolManagementEndpoint"] == "poolManagementEndpoint"
    assert keys["AzureSession__ManagedIdentityClientId"] == "identityClientId"
    resources = load("resources.bicep")
    endpoint = resources.code[resources.of_kind("var")["appPoolEndpoint"].start :]
    assert "sessionPools.outputs.codeInterpreterPoolManagementEndpoint" in endpoint.split("\n\n")[0]


def test_every_azure_session_name_is_a_settings_alias() -> None:
    aliases = settings_aliases()
    assert "AzureSession__PoolManagementEndpoint" in aliases  # the reader works
    sources = [*BICEP_FILES, INFRA / "main.parameters.json", REPO / "docs" / "azure.md"]
    for path in sources:
        if not path.exists():
            continue
        for name in set(re.findall(r"\bAzureSession__\w+", path.read_text(encoding="utf-8"))):
            assert name in aliases, f"{path.relative_to(REPO)} uses {name}, unknown to settings.py"


def test_app_setting_values_validate_with_settings() -> None:
    keys = app_settings_keys()
    auth_mode = keys["AzureSession__AuthMode"].strip("'")
    assert auth_mode in typing.get_args(app_settings.AuthMode)
    app = load("modules/function-app.bicep")
    values = {
        "AzureSession__PoolManagementEndpoint": (
            "https://eastus.dynamicsessions.io/subscriptions/s/resourceGroups/r/sessionPools/p"
        ),
        "AzureSession__AuthMode": auth_mode,
        "AzureSession__ManagedIdentityClientId": "00000000-0000-0000-0000-000000000000",
        "AzureSession__ApiVersion": app.param_default("sessionApiVersion").strip("'"),
        "AzureSession__ExecutionPollIntervalSeconds": app.param_default(
            "executionPollIntervalSeconds"
        ),
        "AzureSession__SessionIdentifierKey": "k" * 48,
    }
    assert set(values) == {k for k in keys if k.startswith(app_settings.ENV_PREFIX)}
    parsed = app_settings.SessionSettings(**values)
    assert parsed.pool_endpoint == values["AzureSession__PoolManagementEndpoint"]
    assert parsed.auth_mode == "managed-identity"
    assert parsed.execution_poll_interval_seconds == float(
        values["AzureSession__ExecutionPollIntervalSeconds"]
    )


def test_defaults_agree_with_settings() -> None:
    defaults = app_settings.SessionSettings.model_fields
    for path in ("main.bicep", "resources.bicep", "modules/function-app.bicep"):
        bicep = load(path)
        assert bicep.param_default("sessionApiVersion") == f"'{app_settings.DEFAULT_API_VERSION}'"
        assert float(bicep.param_default("executionPollIntervalSeconds")) == (
            defaults["execution_poll_interval_seconds"].default
        )


def test_session_identifier_key_is_secret_and_read_from_key_vault() -> None:
    for path in ("main.bicep", "resources.bicep", "modules/key-vault.bicep"):
        bicep = load(path)
        param = bicep.of_kind("param")["sessionIdentifierKey"]
        decorators = bicep.decorators(param)
        assert "@secure()" in decorators, path
        assert "@minLength(32)" in decorators, path
        assert bicep.param_required("sessionIdentifierKey"), "no generated default: keep it stable"
    value = app_settings_keys()["AzureSession__SessionIdentifierKey"]
    assert value.startswith("'@Microsoft.KeyVault(SecretUri=")
    for path in BICEP_FILES:
        bicep = BicepFile.load(path)
        for output in bicep.of_kind("output").values():
            assert "sessionIdentifierKey'" not in output.line
            assert "sessionIdentifierKey " not in output.line
            assert "listKeys" not in output.line


def test_parameter_ranges() -> None:
    for path in ("main.bicep", "resources.bicep"):
        bicep = load(path)
        params = bicep.of_kind("param")
        cooldown = bicep.decorators(params["sessionPoolCooldownSeconds"])
        assert "@minValue(300)" in cooldown
        assert "@maxValue(3600)" in cooldown
        assert "@maxValue(600)" in bicep.decorators(params["sessionPoolMaxConcurrentSessions"])
        assert params["sessionPoolEgressEnabled"].line.split()[2] == "bool"
        assert bicep.param_default("sessionPoolEgressEnabled") == "false"
        assert "executionPollIntervalSeconds" in params
        assert "location" in params


# --- cross-file wiring -----------------------------------------------------------------------


def module_targets() -> list[tuple[BicepFile, str, BicepFile]]:
    found = []
    for path in BICEP_FILES:
        bicep = BicepFile.load(path)
        for module in bicep.of_kind("module").values():
            target = (path.parent / module.type_string).resolve()
            assert target.exists(), f"{path}: module {module.name} -> missing {target}"
            found.append((bicep, module.name, BicepFile.load(target)))
    return found


def test_module_params_match_target_params() -> None:
    checked = 0
    for bicep, name, target in module_targets():
        passed = set(bicep.body_keys(bicep.of_kind("module")[name], "params"))
        declared = set(target.of_kind("param"))
        unknown = passed - declared
        assert not unknown, f"{bicep.path.name}: module {name} passes unknown {sorted(unknown)}"
        required = {p for p in declared if target.param_required(p)}
        missing = required - passed
        assert not missing, f"{bicep.path.name}: module {name} misses {sorted(missing)}"
        checked += 1
    assert checked >= 7


def test_module_outputs_exist() -> None:
    for bicep, name, target in module_targets():
        used = set(re.findall(rf"\b{name}!?\.outputs\.(\w+)", bicep.code))
        unknown = used - set(target.of_kind("output"))
        assert not unknown, f"{bicep.path.name}: {name}.outputs.{sorted(unknown)} not declared"


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_params_and_vars_are_used(path: Path) -> None:
    bicep = BicepFile.load(path)
    for declaration in bicep.declarations:
        if declaration.kind not in ("param", "var"):
            continue
        uses = len(re.findall(rf"(?<![\w.]){declaration.name}\b", bicep.code))
        assert uses >= 2, f"{path.name}: {declaration.kind} {declaration.name} is never used"


def test_main_parameters_file_matches_main_bicep() -> None:
    main = load("main.bicep")
    params = main.of_kind("param")
    document = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    given = document["parameters"]
    assert not set(given) - set(params), "parameters file names unknown params"
    required = {p for p in params if main.param_required(p)}
    assert required <= set(given), f"parameters file misses {sorted(required - set(given))}"
    for name, entry in given.items():
        value = entry["value"]
        match = re.fullmatch(r"\$\{(\w+)(?:=(.*))?\}", value)
        assert match, f"{name}: expected an azd ${{VAR}} or ${{VAR=default}} value, got {value}"
        default = match.group(2)
        kind = params[name].line.split()[2]
        if default is None:
            continue
        if kind == "int":
            assert re.fullmatch(r"-?\d+", default), (name, default)
        elif kind == "bool":
            assert default in ("true", "false"), (name, default)
        declared = main.param_default(name)
        if declared is not None and default:
            assert default == declared.strip("'"), f"{name}: {default} != Bicep default {declared}"


# --- azure.yaml --------------------------------------------------------------------------------


def read_simple_yaml(text: str) -> dict:
    """Mappings-only YAML (what azure.yaml uses): indentation-nested ``key: value`` lines."""
    root: dict = {}
    stack: list[tuple[int, dict]] = [(-1, root)]
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        key, _, value = line.strip().partition(":")
        assert _, f"not a mapping line: {raw!r}"
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if value.strip():
            parent[key] = value.strip()
        else:
            parent[key] = {}
            stack.append((indent, parent[key]))
    return root


def test_azure_yaml_structure() -> None:
    document = read_simple_yaml((REPO / "azure.yaml").read_text(encoding="utf-8"))
    assert document["name"]
    infra = document["infra"]
    assert infra["provider"] == "bicep"
    assert (REPO / infra["path"] / f"{infra['module']}.bicep").exists()
    assert (REPO / infra["path"] / f"{infra['module']}.parameters.json").exists()
    service = document["services"]["api"]
    assert service == {"project": ".", "language": "python", "host": "function"}
    project = REPO / service["project"]
    assert (project / "requirements.txt").exists()
    assert (project / "host.json").exists()


def test_simple_yaml_reader() -> None:
    text = "a: 1\nb:\n  c: x # note\n  d:\n    e: y\nf: z\n"
    assert read_simple_yaml(text) == {"a": "1", "b": {"c": "x", "d": {"e": "y"}}, "f": "z"}


# --- a real compile, where a compiler exists ----------------------------------------------------


@pytest.mark.skipif(shutil.which("bicep") is None, reason="no bicep binary on PATH")
def test_bicep_compiles() -> None:
    for entry in ("main.bicep", "resources.bicep"):
        result = subprocess.run(
            ["bicep", "build", str(INFRA / entry), "--stdout"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["resources"]
