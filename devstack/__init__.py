"""The whole local stack in one command: session emulator + local Functions host.

``python -m devstack`` (what ``make run`` calls) starts both as child processes,
waits until they answer, prints the base URL and a ready-to-paste ``curl``,
and stops both cleanly on Ctrl-C. End-to-end tests use :class:`LocalStack`
directly, so the README command and the tests exercise the same wiring.
"""

from devstack.stack import LocalStack, StackConfig

__all__ = ["LocalStack", "StackConfig"]
