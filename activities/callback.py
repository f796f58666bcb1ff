"""Webhooks: where a run's final status may be sent, how it is signed, how it is delivered.

A caller may give ``callbackUrl``; when the run ends (completed, failed, timed out or
canceled) its status document, the same JSON as ``GET /api/workflowStatus/{id}``, is
POSTed there. The URL is a request for this service to connect somewhere, so it is
checked like one (server-side request forgery):

- ``https`` only, unless ``AzureSession__CallbackAllowHttp``; no user info in the URL;
- every address the host name resolves to must be global: private, loopback,
  link-local (cloud metadata), multicast, reserved and shared ranges are refused, as
  are Azure's platform addresses, unless ``AzureSession__CallbackAllowedHosts`` names the
  host, or an address or network holding every resolved address;
- checked when the run is submitted and again at every delivery, after resolving, and
  the connection goes to the address that was checked (the name is kept for TLS and
  ``Host``), so a name cannot be re-pointed into the network between check and use.

Each delivery is signed: ``X-ARO-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``
with the app's ``AzureSession__CallbackSigningSecret``, ``X-ARO-Timestamp`` (Unix seconds)
and ``X-ARO-Event-Id`` (the same for every attempt at one event). Receivers verify the
signature and refuse timestamps outside their replay window (docs/api.md, *Webhooks*).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

#: Longest accepted callbackUrl.
MAX_URL_LENGTH = 2048
#: Longest wait for a name to resolve (at submission and at delivery).
RESOLVE_TIMEOUT_SECONDS = 3.0
#: Addresses refused even though they are "global": Azure's platform endpoints.
PLATFORM_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("168.63.129.16", "169.254.169.254", "fd00:ec2::254")
)
SIGNATURE_HEADER = "X-ARO-Signature"
TIMESTAMP_HEADER = "X-ARO-Timestamp"
EVENT_ID_HEADER = "X-ARO-Event-Id"
ATTEMPT_HEADER = "X-ARO-Delivery-Attempt"
USER_AGENT = "agent-runtime-orchestrator-webhook/1"
#: Delivery answers that are worth another try (with network errors and timeouts).
RETRYABLE_STATUSES = frozenset({408, 429})

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]


class CallbackRefused(ValueError):
    """The URL may not be called: the message says why (shown to the caller as a 400)."""


@dataclass(frozen=True)
class Target:
    """A checked callback URL, split for pinning the connection to a checked address."""

    url: str
    scheme: str
    host: str
    port: int
    path: str


def parse_url(url: str, *, allow_http: bool) -> Target:
    """The URL's parts, or :class:`CallbackRefused` for what no resolution can fix."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise CallbackRefused(f"must be a URL of at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise CallbackRefused("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise CallbackRefused(f"is not a valid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_http):
        allowed = "https or http" if allow_http else "https (AzureSession__CallbackAllowHttp)"
        raise CallbackRefused(f"must use {allowed}")
    if parts.username is not None or parts.password is not None:
        raise CallbackRefused("must not carry a user name or password")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise CallbackRefused("has no host")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(
        url=url,
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        path=path,
    )


def _networks(allowed: Iterable[str]) -> tuple[set[str], list[ipaddress._BaseNetwork]]:
    names: set[str] = set()
    networks: list[ipaddress._BaseNetwork] = []
    for entry in allowed:
        entry = entry.strip().lower()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            names.add(entry.rstrip("."))
    return names, networks


def _plain(address: Address) -> Address:
    """An IPv4-mapped IPv6 address as the IPv4 address it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refused_reason(address: Address) -> str | None:
    """Why connecting to ``address`` is refused by default, or None if it is public."""
    address = _plain(address)
    if address in PLATFORM_ADDRESSES:
        return "a cloud platform address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if not address.is_global:
        return "a private or reserved address"
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (A and AAAA), bounded in time."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_SECONDS
    )
    return list(dict.fromkeys(info[4][0] for info in infos))


async def check_target(
    target: Target, *, allowed_hosts: Iterable[str], resolver: Resolver = system_resolver
) -> list[Address]:
    """Resolve and check ``target``; the addresses that may be connected to, in order.

    Refused (:class:`CallbackRefused`) when it does not resolve, or when any address is
    not public and the allow-list covers neither the name nor that address.
    """
    names, networks = _networks(allowed_hosts)
    try:
        literal: Address | None = ipaddress.ip_address(target.host.strip("[]"))
    except ValueError:
        literal = None
    if literal is not None:
        raw = [str(literal)]
    else:
        try:
            raw = await resolver(target.host, target.port)
        except (OSError, TimeoutError, UnicodeError) as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else "failed"
            raise CallbackRefused(f"host {target.host!r} cannot be resolved ({reason})") from None
    addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in raw]
    if not addresses:
        raise CallbackRefused(f"host {target.host!r} resolves to no address")
    if target.host in names:
        return addresses
    for address in addresses:
        why = refused_reason(address)
        if why is not None and not any(_plain(address) in net for net in networks):
            shown = "" if literal is not None else f" ({target.host!r} resolves to it)"
            raise CallbackRefused(
                f"points to {address}, {why}{shown}; allow it with "
                "AzureSession__CallbackAllowedHosts"
            )
    return addresses


# --- signing ---------------------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 over ``b"<timestamp>." + body`` with ``secret``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(
    secret: str,
    *,
    body: bytes,
    timestamp: str,
    signature_header: str,
    now: float | None = None,
    window_seconds: int = 300,
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    if not timestamp.isdigit():
        return False
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > window_seconds:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), signature_header)


def event_id(instance_id: str, runtime_status: str) -> str:
    """The same id for every attempt at one run's end (receivers deduplicate by it)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"aro:{instance_id}:{runtime_status}"))


# --- delivery --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One POST: delivered, or whether another try may succeed."""

    delivered: bool
    retry: bool
    status: int | None = None
    error: str | None = None


async def post_once(
    target: Target,
    addresses: list[Address],
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Attempt:
    """POST ``body`` to the first checked address (name kept for TLS and ``Host``)."""
    address = addresses[0]
    shown = f"[{address}]" if address.version == 6 else str(address)
    default_port = 443 if target.scheme == "https" else 80
    netloc = shown if target.port == default_port else f"{shown}:{target.port}"
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    request_headers = {
        "Host": host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **headers,
    }
    try:
        async with httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, trust_env=False, transport=transport
        ) as client:
            response = await client.post(
                f"{target.scheme}://{netloc}{target.path}",
                content=body,
                headers=request_headers,
                extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
            )
    except httpx.TimeoutException:
        return Attempt(delivered=False, retry=True, error="timed out")
    except httpx.HTTPError as exc:
        return Attempt(delivered=False, retry=True, error=type(exc).__name__)
    code = response.status_code
    if 200 <= code < 300:
        return Attempt(delivered=True, retry=False, status=code)
    retry = code >= 500 or code in RETRYABLE_STATUSES
    return Attempt(delivered=False, retry=retry, status=code, error=f"HTTP {code}")


def payload(document: dict[str, Any]) -> bytes:
    """The body: the status document as compact UTF-8 JSON."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
