"""Retrying optimistic transactions: jittered exponential backoff inside the request's budget.

One user's writes all condition on that user's counters item, so parallel writes by one user
collide by design; each loser re-reads and tries again. Full jitter (a random pause up to an
exponentially growing cap) spreads the retries so that colliding writers do not collide again.
"""

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from app import deadline

# Outside a request (no deadline: scripts, tests of the store alone) the attempts are bounded.
ATTEMPTS_WITHOUT_DEADLINE = 12


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 0.01
    cap_seconds: float = 0.4
    sleep: Callable[[float], None] = time.sleep
    uniform: Callable[[float, float], float] = field(default=random.uniform)

    def attempts(self) -> Iterator[int]:
        """Attempt numbers 0, 1, ...; pauses before each retry and stops when the next pause
        would not end before the deadline (or after ATTEMPTS_WITHOUT_DEADLINE outside a request)."""
        attempt = 0
        while True:
            yield attempt
            attempt += 1
            pause = self.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))
            left = deadline.remaining()
            if left is None and attempt >= ATTEMPTS_WITHOUT_DEADLINE:
                return
            if left is not None and pause >= left:
                return
            self.sleep(pause)
