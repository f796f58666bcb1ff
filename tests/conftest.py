"""Collection rules for the whole suite.

``tests/worker`` runs Azure's Python worker, which needs Python 3.13: ``make test`` runs it
with ``.venv-worker/bin/python -m pytest tests/worker`` after this suite. Other Pythons
leave the folder out here (``tests/worker/conftest.py`` fails loudly if it is run on one).
"""

from __future__ import annotations

import sys

collect_ignore = [] if sys.version_info >= (3, 13) else ["worker"]
