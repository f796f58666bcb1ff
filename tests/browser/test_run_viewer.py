"""The run viewer in a real browser (Debian's Chromium driven by Playwright) on a real stack.

Each test uses the page as a person would: enter the key, submit, watch, open, cancel,
filter, page. Console errors (a script error, a Content-Security-Policy violation) fail
the test. Screenshots land in ``.local/artifacts/`` (not committed).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from e2e_support import REPO, StackClient, make_stack

from devstack.stack import LocalStack

pytestmark = pytest.mark.e2e

ARTIFACTS = REPO / ".local" / "artifacts"
#: .ci/run sets it: there a missing browser is a failure, not a skip.
REQUIRE_ENV = "ARO_REQUIRE_BROWSER"
HELLO = (REPO / "examples" / "hello" / "workflow.py").read_text(encoding="utf-8")
TIMEOUT_MS = 30_000


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        executable = None
    if executable is None:
        message = "needs Chromium (apt-get install chromium) and playwright (requirements-dev)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with make_stack(tmp_path_factory.mktemp("viewer")) as stack:
        yield stack


@pytest.fixture
def api(stack: LocalStack) -> Iterator[StackClient]:
    with StackClient(stack) as client:
        yield client


@pytest.fixture
def page(browser, stack: LocalStack) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{stack.base_url}/api/ui")
    page.get_by_label("Function key").fill(stack.function_key or "")
    page.get_by_role("button", name="Use key").click()
    yield page
    context.close()
    assert errors == [], errors


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _open_run(page, stack: LocalStack, instance: str) -> None:
    page.goto(f"{stack.base_url}/api/ui#/runs/{instance}")


def test_submit_the_hello_example_and_see_its_output(page, stack: LocalStack) -> None:
    page.get_by_role("link", name="New run").click()
    page.get_by_label("Workflow code").fill(HELLO)
    page.get_by_label("Input (JSON object)").fill('{"name": "Ada"}')
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(re.compile(r"#/runs/[A-Za-z0-9_-]+$"))
    badge = page.locator("#run-status")
    badge.filter(has_text="Completed").wait_for()
    output = json.loads(page.locator("#run-output").text_content())
    assert output == {"greeting": "Hello, Ada!"}
    assert page.locator("#run-cancel").is_disabled()
    assert "ephemeral session" in page.locator("#run-request").text_content()
    assert page.locator("#run-timings-box").is_visible()
    _shot(page, "run-detail")


def test_a_failing_run_shows_its_error(page, api: StackClient, stack: LocalStack) -> None:
    failed = api.run({"workflowCode": "def run(p):\n    raise ValueError('bad input')\n"})
    _open_run(page, stack, failed["instanceId"])
    page.locator("#run-status").filter(has_text="Failed").wait_for()
    assert page.locator("#run-error-type").text_content() == "ValueError"
    assert "bad input" in page.locator("#run-error-message").text_content()
    page.get_by_text("Traceback", exact=True).click()
    assert "ValueError" in page.locator("#run-error-traceback").text_content()


def test_cancel_a_long_run_from_the_page(page, api: StackClient, stack: LocalStack) -> None:
    instance = api.start({"workflowCode": "import time\n\ndef run(p):\n    time.sleep(60)\n"})
    _open_run(page, stack, instance)
    page.locator("#run-status").filter(has_text="Running").wait_for()
    cancel = page.get_by_role("button", name="Cancel run")
    cancel.wait_for()
    deadline = time.monotonic() + 10
    while cancel.is_disabled():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    page.once("dialog", lambda dialog: dialog.accept())
    cancel.click()
    page.locator("#run-status").filter(has_text="Terminated").wait_for()
    assert cancel.is_disabled()
    assert api.status(instance)["runtimeStatus"] == "Terminated"


def test_the_list_filters_and_pages(page, api: StackClient, stack: LocalStack) -> None:
    failed = api.start({"workflowCode": "def run(p):\n    raise RuntimeError('x')\n"})
    started = [api.start({"workflowCode": HELLO}) for _ in range(21)]
    for instance in [failed, *started]:
        api.wait(instance)
    page.get_by_role("link", name="Runs", exact=True).click()
    rows = page.locator("#runs-body tr")
    rows.nth(19).wait_for()
    assert rows.count() == 20  # a page
    _shot(page, "runs-list")
    older = page.get_by_role("button", name="Older")
    assert older.is_enabled()
    first_page = set(rows.locator("td.id").all_text_contents())
    older.click()
    page.locator("#page-number").filter(has_text="Page 2").wait_for()
    second_page = set(rows.locator("td.id").all_text_contents())
    assert second_page and not (second_page & first_page)
    page.get_by_role("button", name="Newer").click()
    page.get_by_label("Status").select_option("Failed")
    deadline = time.monotonic() + 10  # (the page's CSP forbids wait_for_function's eval)
    while not all("Failed" in row for row in rows.all_text_contents()):
        assert time.monotonic() < deadline, rows.all_text_contents()
        time.sleep(0.1)
    assert failed in page.locator("#runs-body").text_content()


def test_output_and_logs_are_text_never_html(page, api: StackClient, stack: LocalStack) -> None:
    hostile = "<img src=x onerror=\"window.__xss='output'\">"
    code = (
        "def run(p):\n"
        "    print('<script>window.__xss=\"stdout\"</script><img src=y onerror=alert(1)>')\n"
        f"    return {hostile!r}\n"
    )
    status = api.run({"workflowCode": code})
    _open_run(page, stack, status["instanceId"])
    page.locator("#run-status").filter(has_text="Completed").wait_for()
    assert json.loads(page.locator("#run-output").text_content()) == hostile
    assert "<script>" in page.locator("#run-stdout").text_content()
    assert page.evaluate("window.__xss") is None
    assert page.locator("#run-output img, #run-stdout img, #run-stdout script").count() == 0


def test_progress_trace_and_the_page_headers(page, api: StackClient, stack: LocalStack) -> None:
    code = (
        "import time\n\ndef run(p):\n"
        "    for i in range(3):\n        aro_progress('step', index=i)\n        time.sleep(0.2)\n"
        "    return 'done'\n"
    )
    status = api.run({"workflowCode": code})
    _open_run(page, stack, status["instanceId"])
    page.locator("#run-trace li").nth(2).wait_for()
    assert page.locator("#run-trace li").count() == 3
    assert "(3 spans)" in page.locator("#run-trace-count").text_content()
    answer = httpx.get(f"{stack.base_url}/api/ui")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{stack.base_url}/api/ui/nothing.js").status_code == 404


def test_accessible_and_readable_on_a_phone(browser, stack: LocalStack) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(f"{stack.base_url}/api/ui#/new")
    unlabeled = page.evaluate(
        "[...document.querySelectorAll('input, select, textarea')]"
        ".filter(e => !(e.labels && e.labels.length)).map(e => e.id)"
    )
    assert unlabeled == []
    first = page.evaluate(
        "document.querySelector('a[href], button, input, select, textarea').textContent"
    )
    assert first == "Skip to content"  # keyboard users can jump past the header
    for view in ("#/new", "#/runs"):
        page.goto(f"{stack.base_url}/api/ui{view}")
        time.sleep(0.3)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 376, (view, width)
    context.close()


CONTRAST = """
() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).slice(0, 4).map(Number);
  const background = (e) => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll(SELECTORS)]
    .filter((e) => e.offsetParent !== null && e.textContent.trim())
    .map((e) => [e.tagName + "." + e.className, rgb(getComputedStyle(e).color).slice(0, 3),
                 background(e)]);
}
"""


def _luminance(rgb: list[float]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_meets_wcag_aa(
    browser, api: StackClient, stack: LocalStack, scheme: str
) -> None:
    api.run({"workflowCode": "def run(p):\n    raise ValueError('x')\n"})
    api.run({"workflowCode": HELLO})
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    page.goto(f"{stack.base_url}/api/ui")
    page.get_by_label("Function key").fill(stack.function_key or "")
    page.get_by_role("button", name="Use key").click()
    page.locator("#runs-body tr").nth(1).wait_for()
    selectors = "body, h1 a, h2, th, td, td a, .hint, .badge, label, nav a, button"
    samples = page.evaluate(CONTRAST.replace("SELECTORS", repr(selectors)))
    assert len(samples) > 20, samples
    for name, fg, bg in samples:
        light, dark = sorted((_luminance(fg), _luminance(bg)), reverse=True)
        ratio = (light + 0.05) / (dark + 0.05)
        assert ratio >= 4.5, (scheme, name, fg, bg, round(ratio, 2))
    context.close()
