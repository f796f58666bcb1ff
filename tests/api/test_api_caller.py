"""caller_owner: the trusted owner header, the function key hash, or anonymous."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from activities.identity import derive_identifier
from api.caller import ANONYMOUS_OWNER, belongs_to, caller_owner, key_owner, owner_tag
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


# --- owner tags: every instance id starts with its owner's ------------------------------


def test_owner_tag_is_o_and_12_hex_digits_of_a_domain_separated_hash():
    owner = key_owner("some-key")
    expected = hashlib.sha256(b"aro-owner\0" + owner.encode()).hexdigest()[:12]
    assert owner_tag(owner) == "o" + expected
    assert owner_tag(owner) != "o" + hashlib.sha256(owner.encode()).hexdigest()[:12]
    assert owner_tag(owner) == owner_tag(owner)  # pure


@pytest.mark.parametrize("owner", [ANONYMOUS_OWNER, key_owner("k"), "tenant-42", "~" * 200])
def test_owner_tags_are_short_and_instance_id_safe(owner):
    tag = owner_tag(owner)
    assert len(tag) == 13
    assert tag.isalnum() and tag.isascii()
    assert owner not in tag


def test_different_owners_get_different_tags():
    owners = [ANONYMOUS_OWNER, *(key_owner(f"key-{i}") for i in range(200)), "tenant-a"]
    assert len({owner_tag(owner) for owner in owners}) == len(owners)


def test_belongs_to_checks_the_tag_and_its_separator():
    alice, bob = key_owner("alice"), key_owner("bob")
    mine = f"{owner_tag(alice)}-{uuid.uuid4().hex}"
    assert belongs_to(mine, alice)
    assert belongs_to(f"{owner_tag(alice)}-idem-abc", alice)
    assert not belongs_to(mine, bob)
    assert not belongs_to(mine, ANONYMOUS_OWNER)
    assert not belongs_to(owner_tag(alice), alice)  # the bare tag is no run
    assert not belongs_to(owner_tag(alice) + "x-1", alice)
    assert not belongs_to(mine.upper(), alice)
    assert not belongs_to("", alice)
    assert not belongs_to(uuid.uuid4().hex, alice)  # ids minted before owner tags
    assert not belongs_to("é" * 20, alice)
