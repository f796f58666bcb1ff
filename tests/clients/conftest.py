"""The conformance suite's harness: the emulator as its users run it, and the real clients.

Each agent framework's published session client runs, unpatched, in its own virtual
environment (``make clients`` builds ``.venv-clients/<name>`` from
``clients/requirements-<name>.txt``) behind a small driver (``drivers/<name>_driver.py``).
The emulator is the ``session-emulator`` console script in a subprocess, sandbox on,
token required, as a user would start it; for Semantic Kernel, which insists on https,
it serves TLS with a throwaway certificate made here. The only concessions to the
clients are their own arguments: a token provider, and for Semantic Kernel an httpx
client that trusts that certificate.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import queue
import signal
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.stack import SESSION_PYTHON

REPO = Path(__file__).resolve().parents[2]
DRIVERS = Path(__file__).resolve().parent / "drivers"
#: .ci/run sets it: there a missing client environment is a failure, not a skip.
REQUIRE_ENV = "ARO_REQUIRE_CLIENTS"
TOKEN = "conformance-token"
START_TIMEOUT_SECONDS = 60
CALL_TIMEOUT_SECONDS = 120


@dataclass
class Pool:
    """A running emulator: its pool management endpoint and how to reach it directly."""

    url: str
    process: subprocess.Popen[str]
    ca: Path | None = None

    def http(self) -> httpx.Client:
        """A plain client on the pool, for checking what the clients did."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {TOKEN}"},
            verify=ssl.create_default_context(cafile=str(self.ca)) if self.ca else True,
            timeout=30,
        )

    def session_exists(self, identifier: str) -> bool:
        with self.http() as http:
            response = http.get(
                "/session", params={"identifier": identifier, "api-version": "2025-10-02-preview"}
            )
        assert response.status_code in (200, 404), response.text
        return response.status_code == 200


def _console_script() -> list[str]:
    script = Path(sys.executable).parent / "session-emulator"
    if not script.exists():
        pytest.fail("the session-emulator console script is missing: run `make install`")
    return [str(script)]


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 (test only), as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def _start_pool(folder: Path, *, tls: bool) -> Pool:
    argv = [*_console_script(), "--port", "0", "--data-dir", str(folder / "data")]
    argv += ["--python", str(SESSION_PYTHON if SESSION_PYTHON.exists() else sys.executable)]
    ca = None
    if tls:
        ca, key = _self_signed(folder)
        argv += ["--tls-cert", str(ca), "--tls-key", str(key)]
    env = os.environ | {"SESSION_EMULATOR_TOKEN": TOKEN, "SESSION_EGRESS": "none"}
    log = (folder / "emulator.log").open("w")
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=log, text=True, env=env, start_new_session=True
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stdout], daemon=True).start()
    try:
        line = lines.get(timeout=START_TIMEOUT_SECONDS)
    except queue.Empty:
        process.kill()
        pytest.fail(f"the emulator did not start: {(folder / 'emulator.log').read_text()}")
    url = line.rsplit(" ", 1)[-1].strip()
    assert url.startswith("https://" if tls else "http://"), line
    return Pool(url=url, process=process, ca=ca)


def _stop(pool: Pool) -> None:
    pool.process.send_signal(signal.SIGTERM)
    try:
        pool.process.wait(15)
    except subprocess.TimeoutExpired:
        pool.process.kill()


@pytest.fixture(scope="session")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    """The emulator over http, as LangChain, LlamaIndex and AutoGen users point at it."""
    started = _start_pool(tmp_path_factory.mktemp("pool"), tls=False)
    yield started
    _stop(started)


@pytest.fixture(scope="session")
def tls_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    """The emulator over https with a throwaway certificate (for Semantic Kernel)."""
    started = _start_pool(tmp_path_factory.mktemp("tls-pool"), tls=True)
    yield started
    _stop(started)


class DriverError(Exception):
    """An operation raised inside the client: its type and message."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


class Driver:
    """One client's driver process: ``call(op, **args)`` returns what the client returned."""

    def __init__(self, name: str, pool: Pool, work: Path) -> None:
        python = REPO / ".venv-clients" / name / "bin" / "python"
        if not python.exists():
            message = f"no client environment for {name}: run `make clients`"
            if os.environ.get(REQUIRE_ENV):
                pytest.fail(message)
            pytest.skip(message)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work),
            "POOL": pool.url,
            "TOKEN": TOKEN,
            "WORK": str(work),
            "CA": str(pool.ca or ""),
        }
        self.stderr = (work / f"{name}-driver.log").open("w")
        self.process = subprocess.Popen(
            [str(python), str(DRIVERS / f"{name}_driver.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=env,
            cwd=work,
        )
        self.log = work / f"{name}-driver.log"

    def call(self, op: str, **args: Any) -> Any:
        assert self.process.stdin and self.process.stdout
        try:
            self.process.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise AssertionError(f"the driver is gone: {self.log.read_text()[-3000:]}") from None
        timer = threading.Timer(CALL_TIMEOUT_SECONDS, self.process.kill)
        timer.start()
        try:
            line = self.process.stdout.readline()
        finally:
            timer.cancel()
        if not line:
            raise AssertionError(f"the driver died during {op}: {self.log.read_text()[-3000:]}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise DriverError(answer["type"], answer["message"])
        return answer["value"]

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.stderr.close()


def driver_fixture(name: str, pool_fixture: str = "pool"):
    """A module-scoped fixture running ``name``'s driver against ``pool_fixture``."""

    @pytest.fixture(scope="module")
    def fixture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
        pool = request.getfixturevalue(pool_fixture)
        driver = Driver(name, pool, tmp_path_factory.mktemp(name))
        yield driver
        driver.close()

    return fixture
