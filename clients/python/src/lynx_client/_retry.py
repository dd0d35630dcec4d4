"""When a request is sent again: a 503 that carries ``Retry-After``, after that many seconds.

lynxd sends ``Retry-After`` on the 503s that pass by themselves: a store recovering its log at start-up, an HNSW
store with ``--index-max-pending`` records still to link, request bodies past ``--max-body-memory``, and in a
cluster ``no-leader`` during an election or ``not-leader`` from a leader that lost its lease. A 503 without it
(a store that refuses writes after a failed fsync, ``replication-timeout``) is not retried: waiting does not
mend it. No other status is retried.
"""
from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Optional


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP-date (RFC 9110 10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` more attempts at most; each waits ``Retry-After``, capped at ``max_delay`` seconds."""

    retries: int = 3
    max_delay: float = 30.0

    def delay_before_retry(self, attempt: int, status: int, retry_after: Optional[str]) -> Optional[float]:
        """Seconds to wait before sending again after answer ``attempt`` (0 for the first), or None: raise."""
        if status != 503 or attempt >= self.retries:
            return None
        seconds = parse_retry_after(retry_after)
        if seconds is None:
            return None
        return min(seconds, self.max_delay)
