"""A local host for an unmodified Azure Functions Python v2 app, with a Durable engine.

`python -m local_runtime --app function_app:app` serves the app's HTTP functions like
`func start` and runs its orchestrations with azure-functions-durable's own replay code,
keeping history in SQLite. In tests use `local_runtime.testing.run_local_runtime`.
"""

from local_runtime.config import HostOptions, RuntimeConfig
from local_runtime.runtime import LocalRuntime

__all__ = ["HostOptions", "LocalRuntime", "RuntimeConfig"]
