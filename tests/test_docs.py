"""The settings table users read matches the settings the code reads."""

from __future__ import annotations

import re
from pathlib import Path

from settings import ENV_PREFIX, SessionSettings

REPO = Path(__file__).resolve().parent.parent


def _settings_table(text: str) -> str:
    start = text.index("| Setting | Default | Meaning |")
    return text[start : text.index("\n\n", start)]


def test_readme_and_api_docs_show_the_same_settings_table() -> None:
    readme = (REPO / "README.md").read_text()
    api = (REPO / "docs" / "api.md").read_text()

    assert _settings_table(readme) == _settings_table(api)


def test_every_setting_is_documented_and_every_documented_setting_exists() -> None:
    table = _settings_table((REPO / "README.md").read_text())
    documented = set(re.findall(rf"`{ENV_PREFIX}(\w+)`", table))
    names = set()
    for field in SessionSettings.model_fields.values():
        aliases = field.validation_alias.choices  # AliasChoices("AzureSession__X", "X")
        names.add(aliases[1])

    assert documented == names


def test_security_limits_table_matches_the_emulator_defaults() -> None:
    from session_emulator.config import GIB, MIB, ResourceLimits

    text = (REPO / "docs" / "security.md").read_text()
    limits = ResourceLimits()
    rows = {
        "--session-memory-bytes": f"{limits.session_memory_bytes // GIB} GiB",
        "--tmp-bytes": f"{limits.tmp_bytes // MIB} MiB",
        "--disk-bytes": f"{limits.disk_bytes // GIB} GiB",
        "--disk-files": f"{limits.disk_entries:,}",
    }
    for flag, default in rows.items():
        row = next(line for line in text.splitlines() if f"`{flag}`" in line)
        assert f"| {default}" in row, (flag, row)
