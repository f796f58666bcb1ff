"""Exceptions of the local runtime.

LocalRuntimeError            base
├── AppLoadError             the app could not be imported or indexed
├── ConfigError              bad host.json / local.settings.json / CLI option
└── InstanceExistsError      start_new with the id of an instance that is still running
"""

from __future__ import annotations


class LocalRuntimeError(Exception):
    """Base of every error raised by local_runtime."""


class AppLoadError(LocalRuntimeError):
    """The function app could not be imported or indexed."""


class ConfigError(LocalRuntimeError):
    """A configuration file or option is invalid."""


class InstanceExistsError(LocalRuntimeError):
    """An instance with this id exists and has not finished."""
