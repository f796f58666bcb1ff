"""The one place HTTP function authorization is decided.

Functions declare an auth level (`anonymous`, `function`, `admin`). Locally every request
is accepted, like Core Tools. To enforce keys later, implement `authorize` (e.g. compare
the `x-functions-key` header or `code` query parameter with a key from local settings)
and return False; the host answers 401 without calling the function.
"""

from __future__ import annotations

from collections.abc import Mapping


def authorize(*, auth_level: str, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
    """Whether a request may call a function with this auth level (always, for now)."""
    del auth_level, headers, query
    return True
