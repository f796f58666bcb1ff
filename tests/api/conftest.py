"""Small limits so every rule is easy to hit."""

from __future__ import annotations

import pytest

from settings import SessionSettings


@pytest.fixture
def settings() -> SessionSettings:
    return SessionSettings(
        max_code_bytes=2000,
        max_input_bytes=1000,
        max_preamble_bytes=500,
        max_command_length=100,
        max_environment_variables=3,
        default_timeout_seconds=300,
        max_timeout_seconds=900,
        secret_settings_allow_list="ALLOWED_SECRET",
        session_identifier_key="k",
        auth_mode="none",
    )


@pytest.fixture(scope="session")
def live_functions():
    """function_app's registered functions, loaded once per process from a private copy.

    ``app.get_functions()`` may be called only once per app object, and other suites
    load ``function_app`` too, so this imports its own copy of the module.
    """
    import importlib.util
    import sys
    import uuid
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "function_app.py"
    name = f"function_app_openapi_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return list(module.app.get_functions())
