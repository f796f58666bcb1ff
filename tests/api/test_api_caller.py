"""caller_owner: the trusted owner header, the function key hash, or anonymous."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from activities.identity import derive_identifier
from api.caller import ANONYMOUS_OWNER, caller_owner, key_owner
from api.problems import ApiProblem
from orchestrator.models import SessionRef


def test_the_function_key_header_is_hashed_never_kept():
    key = f"key-{uuid.uuid4().hex}"
    owner = caller_owner({"x-functions-key": key}, {}, owner_header=None)
    assert owner == "key-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    assert key not in owner
    assert len(owner) == 4 + 16


def test_the_code_query_parameter_counts_like_the_header():
    key = uuid.uuid4().hex
    assert caller_owner({}, {"code": key}, owner_header=None) == key_owner(key)


def test_the_header_wins_over_the_query_and_lookup_ignores_case():
    owner = caller_owner({"X-Functions-Key": "h"}, {"code": "q"}, owner_header=None)
    assert owner == key_owner("h")


def test_no_key_is_anonymous():
    assert caller_owner({}, {}, owner_header=None) == ANONYMOUS_OWNER


def test_a_trusted_owner_header_names_the_owner_and_ignores_the_key():
    headers = {"x-aro-owner": "tenant-42", "x-functions-key": "k"}
    assert caller_owner(headers, {}, owner_header="X-ARO-Owner") == "tenant-42"


@pytest.mark.parametrize("headers", [{}, {"X-ARO-Owner": ""}, {"X-ARO-Owner": "a b"}])
def test_a_configured_owner_header_is_required(headers):
    with pytest.raises(ApiProblem) as info:
        caller_owner({**headers, "x-functions-key": "k"}, {}, owner_header="X-ARO-Owner")
    assert info.value.status == 401
    assert "X-ARO-Owner" in info.value.detail


def test_two_callers_with_the_same_session_id_get_different_sessions():
    name = f"shared-{uuid.uuid4().hex[:8]}"
    first = caller_owner({"x-functions-key": "key-one"}, {}, owner_header=None)
    second = caller_owner({"x-functions-key": "key-two"}, {}, owner_header=None)
    assert first != second

    def identifier(owner: str) -> str:
        return derive_identifier(SessionRef(strategy="reuse", name=name, owner=owner), "i", b"k")

    assert identifier(first) != identifier(second)
    # the same caller gets the same session every time, whatever the run
    assert identifier(first) == derive_identifier(
        SessionRef(strategy="reuse", name=name, owner=first), "another-run", b"k"
    )
