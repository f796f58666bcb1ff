"""The errors the API answers with; one handler renders them as the Azure error body.

EmulatorError            .status_code .code .message
├── BadRequest           400 (code given per case)
├── Unauthorized         401
├── NotFound             404
├── PayloadTooLarge      413
└── (500s come from the generic handler as InternalServerError)
"""

from __future__ import annotations


class EmulatorError(Exception):
    """An API error with the service's status, ``error.code`` and message."""

    status_code = 500
    default_code = "InternalServerError"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class BadRequest(EmulatorError):
    """400: a missing or invalid parameter or body."""

    status_code = 400
    default_code = "BadRequest"


class Unauthorized(EmulatorError):
    """401: missing or wrong bearer token."""

    status_code = 401
    default_code = "Unauthorized"


class NotFound(EmulatorError):
    """404: unknown route, session, execution or file (or no free session slot)."""

    status_code = 404
    default_code = "NotFound"


class PayloadTooLarge(EmulatorError):
    """413: an upload over the size cap."""

    status_code = 413
    default_code = "PayloadTooLarge"
