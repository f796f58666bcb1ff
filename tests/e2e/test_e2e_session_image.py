"""Workflow code in the local sandbox sees the session image's Python and packages, nothing more.

On Azure the custom-container pool runs run.py with the image built from
session_image/ (its Dockerfile's Python, its requirements.txt). Locally the sandbox runs
.venv-session, made by `make session-venv` from the same files, so an import that works
only because the project's own tooling installed it fails here as it would there.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from e2e_support import REPO, StackClient

from devstack.stack import SESSION_PYTHON

pytestmark = pytest.mark.e2e

LIST_DISTRIBUTIONS = """
import importlib.metadata as metadata
import sys

def names():
    return sorted({d.metadata["Name"].lower().replace("_", "-") for d in metadata.distributions()})
"""


def test_the_sandbox_has_exactly_the_session_venvs_packages(api: StackClient) -> None:
    code = LIST_DISTRIBUTIONS + (
        "\ndef run(payload):\n"
        "    return {'packages': names(), 'python': '%d.%d' % sys.version_info[:2]}\n"
    )
    status = api.run({"workflowCode": code})
    assert status["runtimeStatus"] == "Completed", status
    seen = status["output"]
    expected = subprocess.run(
        [str(SESSION_PYTHON), "-c", LIST_DISTRIBUTIONS + "\nprint('\\n'.join(names()))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert seen["packages"] == expected
    dockerfile = (REPO / "session_image" / "Dockerfile").read_text()
    assert re.search(rf"^FROM python:{re.escape(seen['python'])}-", dockerfile, re.MULTILINE)
    for wanted in ("openai-agents", "openai-guardrails", "pydantic"):
        assert wanted in seen["packages"]
    for dev_only in ("python-dotenv", "pydantic-settings", "azure-identity", "pytest"):
        assert dev_only not in seen["packages"]


def test_an_import_only_the_dev_venv_has_fails_as_on_azure(api: StackClient) -> None:
    # the project's own environment has python-dotenv (pydantic-settings pulls it in) ...
    subprocess.run([sys.executable, "-c", "import dotenv"], check=True)
    assert "dotenv" not in (REPO / "session_image" / "requirements.txt").read_text()
    # ... the session image does not, so the workflow fails the way it would on Azure
    code = "import dotenv\n\ndef run(payload):\n    return dotenv.__name__\n"
    status = api.run({"workflowCode": code})
    assert status["runtimeStatus"] == "Failed", status
    error = status["error"]
    assert error["type"] == "ModuleNotFoundError"
    assert error["message"] == "No module named 'dotenv'"
    assert "lacks the package 'dotenv' (pip name python-dotenv)" in error["hint"]


def test_a_wrong_import_in_an_installed_package_names_the_missing_module(
    api: StackClient,
) -> None:
    code = "from openai.agents import Agent\n\ndef run(payload):\n    return 1\n"
    status = api.run({"workflowCode": code})
    error = status["error"]
    assert error["type"] == "ModuleNotFoundError"
    assert error["message"] == "No module named 'openai.agents'"
    assert "lacks the package" not in error["hint"]
    assert "Did you mean 'from agents import Agent'" in error["hint"]
