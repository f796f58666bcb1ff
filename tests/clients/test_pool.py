"""The pool the clients are tested against is the emulator as users run it: sandboxed."""

from __future__ import annotations


def test_the_clients_pools_run_code_in_the_sandbox(pool, tls_pool):
    for running in (pool, tls_pool):
        with running.http() as http:
            metadata = http.get("/metadata", params={"api-version": "2025-10-02-preview"})
        assert metadata.status_code == 200, metadata.text
        assert metadata.json()["emulator"]["isolation"].startswith("bwrap")
        assert metadata.json()["emulator"]["allowNetwork"] is False


def test_the_pool_requires_its_token(pool):
    with pool.http() as http:
        anonymous = http.get(
            "/files",
            params={"api-version": "2024-02-02-preview", "identifier": "anyone"},
            headers={"Authorization": ""},
        )
    assert anonymous.status_code == 401
