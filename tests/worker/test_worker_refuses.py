"""Apps Azure's worker refuses: the worker names the function, and the local rules agree.

Each broken app is indexed by the worker in a fresh process (one app per worker process, as
on Azure), and checked by ``load_checks.check_functions`` (the local host's copy of the
worker's rules, used on Pythons that cannot run the worker) in this one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from local_runtime.errors import AppLoadError
from local_runtime.load_checks import check_functions, worker_verdict
from tests.support.broken_apps import (
    APP_FUNCTION_COUNT,
    BROKEN_APPS,
    BrokenApp,
    expected_error,
    load_app_module,
    write_broken_app,
)


@pytest.mark.parametrize("app", BROKEN_APPS, ids=lambda a: a.name)
def test_worker_refuses_and_names_the_function(app: BrokenApp, tmp_path: Path) -> None:
    directory = write_broken_app(app, tmp_path / app.name)
    with pytest.raises(AppLoadError) as refused:
        worker_verdict(worker_python=sys.executable, app_dir=directory)
    assert str(refused.value).endswith(expected_error(app))
    assert "the host would serve no function at all" in str(refused.value)


@pytest.mark.parametrize("app", BROKEN_APPS, ids=lambda a: a.name)
def test_local_rules_give_the_workers_verdict(app: BrokenApp, tmp_path: Path) -> None:
    directory = write_broken_app(app, tmp_path / app.name)
    module = load_app_module(directory)
    with pytest.raises(AppLoadError) as refused:
        check_functions(module.app.get_functions())
    assert str(refused.value).endswith(expected_error(app))


def test_the_real_app_passes_both(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    verdict = worker_verdict(worker_python=sys.executable, app_dir=repo)
    assert len(verdict.functions) == APP_FUNCTION_COUNT
    assert verdict.judge.startswith("azure-functions-runtime 1.3.0 on Python 3.13")
    module = load_app_module(repo)
    assert len(check_functions(module.app.get_functions()).functions) == APP_FUNCTION_COUNT
