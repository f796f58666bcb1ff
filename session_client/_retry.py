"""When to retry a failed attempt and how long to wait before the next one."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from session_client.errors import (
    MAX_RETRY_AFTER_SECONDS,
    TRANSIENT_STATUS_CODES,
    SessionError,
    SessionHTTPError,
    SessionRequestError,
)

DEFAULT_MAX_RETRIES = 4
BASE_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 10.0
#: Statuses that prove a non-idempotent request was not processed.
NOT_PROCESSED_STATUS_CODES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter that honours ``Retry-After``."""

    max_retries: int = DEFAULT_MAX_RETRIES
    base_delay: float = BASE_DELAY_SECONDS
    max_delay: float = MAX_DELAY_SECONDS
    max_retry_after: float = MAX_RETRY_AFTER_SECONDS
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def delay(self, retry_number: int, *, retry_after: float | None = None) -> float:
        """Seconds to sleep before retry ``retry_number`` (0-based).

        ``Retry-After`` wins when present (capped); otherwise "equal jitter": half of
        ``min(max_delay, base_delay * 2**n)`` fixed plus up to the other half at random.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        ceiling = min(self.max_delay, self.base_delay * (2**retry_number))
        return ceiling / 2 + self.random() * ceiling / 2


def should_retry(exc: SessionError, *, idempotent: bool) -> bool:
    """Whether a failed attempt may be repeated.

    Idempotent requests retry on every transient failure (429, 500, 502, 503, 504,
    transport errors, timeouts). Non-idempotent ones retry only when the server
    certainly did not process the request: a connect failure, 429 or 503.
    """
    if isinstance(exc, SessionRequestError):
        return idempotent or not exc.request_sent
    if isinstance(exc, SessionHTTPError):
        codes = TRANSIENT_STATUS_CODES if idempotent else NOT_PROCESSED_STATUS_CODES
        return exc.status_code in codes
    return False
