"""Callback URL checks (SSRF), signatures and single delivery attempts.

Names resolve through an injected resolver (this machine has no public DNS); the error
answers a real receiver cannot easily give (timeouts, redirects, 429) come from respx.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess

import httpx
import pytest
import respx

from activities.callback import (
    CallbackRefused,
    check_target,
    event_id,
    parse_url,
    post_once,
    refused_reason,
    signature,
    verify,
)


def resolver(table: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    return resolve


@pytest.mark.parametrize(
    ("url", "allow_http", "problem"),
    [
        ("http://example.com/x", False, "https"),
        ("https://user:pw@example.com/", False, "user name"),
        ("https:///nohost", False, "no host"),
        ("ftp://example.com/", True, "must use"),
        ("https://exa mple.com/", False, "spaces"),
        ("https://example.com:99999/", False, "valid URL"),
        ("https://" + "a" * 2100 + ".com/", False, "2048"),
    ],
)
def test_malformed_urls_are_refused(url: str, allow_http: bool, problem: str) -> None:
    with pytest.raises(CallbackRefused, match=problem):
        parse_url(url, allow_http=allow_http)


def test_a_url_keeps_its_query_and_default_port() -> None:
    target = parse_url("https://Hooks.Example.com./in?x=1", allow_http=False)
    assert (target.host, target.port, target.path) == ("hooks.example.com", 443, "/in?x=1")


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.8", "private"),
        ("172.16.5.4", "private"),
        ("192.168.0.1", "private"),
        ("100.64.0.1", "private"),  # shared address space (CGNAT)
        ("169.254.169.254", "platform"),
        ("168.63.129.16", "platform"),  # Azure's wireserver, a "global" address
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("::ffff:10.0.0.1", "private"),  # IPv4-mapped IPv6 is the IPv4 address
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "private"),
        ("93.184.216.34", None),
        ("2606:4700::6810:85e5", None),
    ],
)
def test_address_classes(address: str, why: str | None) -> None:
    reason = refused_reason(ipaddress.ip_address(address))
    assert (reason is None) if why is None else (why in reason), reason


async def test_a_name_that_resolves_into_the_network_is_refused() -> None:
    target = parse_url("https://hooks.example.com/x", allow_http=False)
    lookup = resolver({"hooks.example.com": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(CallbackRefused, match=r"10\.0\.0\.5.*resolves to it"):
        await check_target(target, allowed_hosts=[], resolver=lookup)


async def test_the_allow_list_takes_names_addresses_and_networks() -> None:
    lookup = resolver({"receiver.internal": ["10.1.2.3"], "other.internal": ["10.9.9.9"]})
    by_name = parse_url("https://receiver.internal/", allow_http=False)
    assert await check_target(by_name, allowed_hosts=["receiver.internal"], resolver=lookup)
    other = parse_url("https://other.internal/", allow_http=False)
    assert await check_target(other, allowed_hosts=["10.9.0.0/16"], resolver=lookup)
    with pytest.raises(CallbackRefused):
        await check_target(other, allowed_hosts=["10.1.0.0/16"], resolver=lookup)
    literal = parse_url("http://[::1]:8080/", allow_http=True)
    assert await check_target(literal, allowed_hosts=["::1"], resolver=lookup)


async def test_an_unresolvable_name_is_refused() -> None:
    target = parse_url("https://nowhere.example/", allow_http=False)
    with pytest.raises(CallbackRefused, match="cannot be resolved"):
        await check_target(target, allowed_hosts=[], resolver=resolver({}))


def test_signature_round_trip_and_replay_window() -> None:
    body = b'{"instanceId":"x"}'
    sig = signature("s3cret", 1_700_000_000, body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify("s3cret", body=body, timestamp="1700000000", signature_header=sig,
                  now=1_700_000_100)  # fmt: skip
    assert not verify("s3cret", body=body + b" ", timestamp="1700000000", signature_header=sig,
                      now=1_700_000_100)  # fmt: skip
    assert not verify("s3cret", body=body, timestamp="1700000000", signature_header=sig,
                      now=1_700_000_000 + 301)  # fmt: skip
    assert event_id("run-1", "Completed") == event_id("run-1", "Completed")
    assert event_id("run-1", "Completed") != event_id("run-1", "Failed")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl binary")
def test_the_signature_matches_openssl() -> None:
    """The documented shell check: printf '%s.%s' ts body | openssl dgst -sha256 -hmac secret."""
    body = b'{"runtimeStatus":"Completed"}'
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", "s3cret"],
        input=b"1700000000." + body,
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert signature("s3cret", 1_700_000_000, body) == "sha256=" + out.split()[-1]


def _target():
    return parse_url("https://hooks.example.com/in", allow_http=False)


@respx.mock
async def test_the_connection_goes_to_the_checked_address_with_the_name_for_tls() -> None:
    route = respx.post("https://93.184.216.34/in").mock(return_value=httpx.Response(204))
    attempt = await post_once(
        _target(), [ipaddress.ip_address("93.184.216.34")], body=b"{}", headers={}, timeout=5
    )
    assert attempt.delivered and attempt.status == 204
    request = route.calls.last.request
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"


@pytest.mark.parametrize(
    ("answer", "retry"),
    [
        (httpx.Response(500), True),
        (httpx.Response(503), True),
        (httpx.Response(429), True),
        (httpx.Response(408), True),
        (httpx.Response(400), False),
        (httpx.Response(404), False),
        (httpx.Response(302, headers={"location": "http://169.254.169.254/"}), False),
        (httpx.ConnectTimeout("slow"), True),
        (httpx.ConnectError("refused"), True),
    ],
)
@respx.mock
async def test_which_answers_are_tried_again(answer, retry: bool) -> None:
    route = respx.post("https://93.184.216.34/in")
    if isinstance(answer, Exception):
        route.mock(side_effect=answer)
    else:
        route.mock(return_value=answer)
    attempt = await post_once(
        _target(), [ipaddress.ip_address("93.184.216.34")], body=b"{}", headers={}, timeout=5
    )
    assert not attempt.delivered and attempt.retry is retry
    assert len(respx.calls) == 1  # a redirect is never followed
