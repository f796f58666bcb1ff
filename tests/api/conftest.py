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
