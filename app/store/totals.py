"""The last group totals a store read, for random picks (EchoStore._draw): a guess of the total to
draw a slot from before the counters are read, checked against them in the same batch. Bounded
(the oldest forgotten first) and safe to share between the threads of concurrent requests."""

import threading

type GroupKey = tuple[str, str]  # (user id, group: "ALL" or an emotion)


class RecentTotals:
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._totals: dict[GroupKey, int] = {}
        self._lock = threading.Lock()

    def get(self, group: GroupKey) -> int | None:
        return self._totals.get(group)

    def remember(self, group: GroupKey, total: int) -> None:
        with self._lock:
            self._totals.pop(group, None)  # to the end: the most recent
            self._totals[group] = total
            if len(self._totals) > self._capacity:
                del self._totals[next(iter(self._totals))]
