"""A local stand-in for an Azure Container Apps code-interpreter session pool.

Serves the pool's data-plane REST API (executions, files, sessions) and runs the
code in an OS sandbox (bubblewrap), so ``AzureSessionClient`` talks to it unchanged.
"""

from .app import create_app
from .config import EmulatorConfig
from .testing import run_emulator

__all__ = ["EmulatorConfig", "create_app", "run_emulator"]
