"""Session identifiers: derived with HMAC, deterministic, unguessable, valid for the pool."""

from __future__ import annotations

import re

import pytest

from activities.identity import derive_identifier, identifier_key
from orchestrator.models import SessionRef
from settings import SessionSettings, SettingsError

VALID = re.compile(r"[A-Za-z0-9-]{4,128}")
KEY = b"k" * 32


def test_ephemeral_identifier_is_deterministic_per_instance():
    session = SessionRef(strategy="ephemeral")
    one = derive_identifier(session, "instance-a", KEY)
    assert one == derive_identifier(session, "instance-a", KEY)
    assert one != derive_identifier(session, "instance-b", KEY)
    assert one != derive_identifier(session, "instance-a", b"another key")
    assert VALID.fullmatch(one)
    assert "instance-a" not in one


def test_reuse_identifier_depends_on_owner_and_name_not_instance():
    mine = SessionRef(strategy="reuse", name="chat-1", owner="alice")
    assert derive_identifier(mine, "i1", KEY) == derive_identifier(mine, "i2", KEY)
    theirs = SessionRef(strategy="reuse", name="chat-1", owner="bob")
    other = SessionRef(strategy="reuse", name="chat-2", owner="alice")
    assert derive_identifier(mine, "i1", KEY) != derive_identifier(theirs, "i1", KEY)
    assert derive_identifier(mine, "i1", KEY) != derive_identifier(other, "i1", KEY)
    identifier = derive_identifier(mine, "i1", KEY)
    assert VALID.fullmatch(identifier)
    assert "chat-1" not in identifier and "alice" not in identifier


def test_owner_and_name_cannot_be_shifted_into_each_other():
    a = SessionRef(strategy="reuse", name="b-c", owner="a")
    b = SessionRef(strategy="reuse", name="c", owner="a-b")
    assert derive_identifier(a, "i", KEY) != derive_identifier(b, "i", KEY)


def test_strategies_never_collide():
    ephemeral = derive_identifier(SessionRef(strategy="ephemeral"), "x", KEY)
    reuse = derive_identifier(SessionRef(strategy="reuse", name="x"), "x", KEY)
    assert ephemeral != reuse


def test_missing_key_names_the_setting():
    settings = SessionSettings(session_identifier_key=None)
    with pytest.raises(SettingsError, match="AzureSession__SessionIdentifierKey"):
        identifier_key(settings)
    with pytest.raises(SettingsError, match="AzureSession__SessionIdentifierKey"):
        derive_identifier(SessionRef(strategy="ephemeral"), "i", b"")


# --- redaction of a secret's common encodings ------------------------------------------------

NASTY = "p+a/s=s'w\"o\\\\rd-é-123"


def test_every_common_encoding_of_a_secret_is_redacted() -> None:
    import base64
    import json
    import urllib.parse

    from activities.secrets import redact

    encodings = [
        NASTY,
        urllib.parse.quote(NASTY, safe=""),
        urllib.parse.quote_plus(NASTY),
        json.dumps(NASTY),
        json.dumps(NASTY, ensure_ascii=False),
        repr(NASTY),
        ascii(NASTY),
        base64.b64encode(NASTY.encode()).decode(),
        base64.urlsafe_b64encode(NASTY.encode()).decode().rstrip("="),
    ]
    for encoded in encodings:
        text = f"before {encoded} after"
        redacted = redact(text, [NASTY])
        assert "***" in redacted, encoded
        assert "p+a/s" not in redacted and "cCth" not in redacted, (encoded, redacted)


def test_the_value_is_always_redacted_but_short_encodings_are_not() -> None:
    from activities.secrets import redact

    # "ab" itself goes; its base64 "YWI=" (4 chars) too; "YWI" (3 chars) would blank out text
    assert redact("ab YWI= YWIx", ["ab"]) == "*** *** YWIx"
