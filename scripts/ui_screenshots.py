"""Regenerate docs/ui-runs.png and docs/ui-run.png: the run viewer on a fresh local stack.

Runs the Agent Builder example (against the offline model server, so the detail page has
an agent trace), a failing run and a few hello runs, then photographs the list and the
example's detail page in Debian's Chromium.

    .venv/bin/python scripts/ui_screenshots.py
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from e2e_support import StackClient, make_stack  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from model_server import run_model_server  # noqa: E402
from tests.support.fixture_scripts import RECIPES, model_env  # noqa: E402


def main() -> None:
    recipe = RECIPES["example:weather_desk"]
    hello = (REPO / "examples" / "hello" / "workflow.py").read_text()
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_model_server() as model,
        make_stack(Path(tmp), allow_network=True) as stack,
        StackClient(stack) as api,
    ):
        model.set_script(recipe.script)
        example = api.run(
            {
                "workflowCode": recipe.source().read_text(),
                "input": {"input_as_text": recipe.input_text},
                "environmentVariables": model_env(model.base_url),
            },
            timeout=90,
        )
        api.run({"workflowCode": "def run(p):\n    raise ValueError('no city given')\n"})
        for name in ("Ada", "Grace"):
            api.run({"workflowCode": hello, "input": {"name": name}})
        api.start({"workflowCode": "import time\n\ndef run(p):\n    time.sleep(20)\n"})
        time.sleep(1.0)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1200, "height": 760})
            page.goto(f"{stack.base_url}/api/ui")
            page.get_by_label("Function key").fill(stack.function_key or "")
            page.get_by_role("button", name="Use key").click()
            page.locator("#runs-body tr").nth(4).wait_for()
            page.screenshot(path=str(REPO / "docs" / "ui-runs.png"))
            page.goto(f"{stack.base_url}/api/ui#/runs/{example['instanceId']}")
            page.locator("#run-trace li").nth(5).wait_for()
            page.screenshot(path=str(REPO / "docs" / "ui-run.png"), full_page=True)
            browser.close()
    print(json.dumps({"written": ["docs/ui-runs.png", "docs/ui-run.png"]}))


if __name__ == "__main__":
    main()
