"""Everything a user agent reports, as one union, from one bounded queue.

:data:`UAEvent` is the union :meth:`~sansip.dialog.ua.UserAgent.next_event`
returns: the call events of :mod:`sansip.dialog.call`, the registration
events of :mod:`sansip.dialog.register` (each naming its registration) and
:class:`~sansip.transaction.drops.MessageDropped`.  Dispatch on it with
``match`` and end with ``case _: assert_never(event)``.

:class:`UAEventQueue` keeps them in the order they happened.  Call and
registration events are never discarded: each follows a command of the
application or a message the peer had to get right, and the application
drains them as they come.  Drop events follow whatever a peer sends, so at
most :data:`MAX_PENDING_DROPS` of them wait at any time: a newer one
discards the oldest waiting (counted in
:attr:`~sansip.transaction.drops.DropStats.discarded_events`), and a run of
drops with no other event between them takes one slot in the queue.  The
counters themselves (:class:`~sansip.transaction.drops.DropCounters`) see
every drop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final, TypeAlias

from sansip.dialog.call import CallEvent
from sansip.dialog.register import RegisterEvent
from sansip.transaction.drops import DropCounters, MessageDropped

__all__ = ["MAX_PENDING_DROPS", "UAEvent", "UAEventQueue"]

#: Drop events waiting in a :class:`UAEventQueue` at most.
MAX_PENDING_DROPS: Final = 32

UAEvent: TypeAlias = CallEvent | RegisterEvent | MessageDropped
"""What :meth:`~sansip.dialog.ua.UserAgent.next_event` returns."""


@dataclass(slots=True)
class _Drops:
    """A run of drop events in the queue: those numbered up to ``last``."""

    last: int


class UAEventQueue:
    """The events of one UA, oldest first; drop events bounded (see the module)."""

    def __init__(self, counters: DropCounters, max_drops: int = MAX_PENDING_DROPS) -> None:
        if max_drops < 1:
            raise ValueError("max_drops must be at least 1")
        self._counters = counters
        self._max_drops = max_drops
        self._queue: deque[CallEvent | RegisterEvent | _Drops] = deque()
        self._drops: deque[tuple[int, MessageDropped]] = deque()  # numbered, oldest first
        self._numbered = 0

    def append(self, event: CallEvent | RegisterEvent) -> None:
        """Queue a call or registration event (never discarded)."""
        self._queue.append(event)

    def drop(self, event: MessageDropped) -> None:
        """Count a dropped message and queue its event; discards the oldest
        waiting drop event when :data:`MAX_PENDING_DROPS` wait already."""
        self._counters.record(event)
        if len(self._drops) >= self._max_drops:
            self._drops.popleft()
            self._counters.discarded_events += 1
        self._numbered += 1
        self._drops.append((self._numbered, event))
        tail = self._queue[-1] if self._queue else None
        if isinstance(tail, _Drops):
            tail.last = self._numbered
        else:
            self._queue.append(_Drops(self._numbered))

    def popleft(self) -> UAEvent | None:
        """The oldest event, or None."""
        queue, drops = self._queue, self._drops
        while queue:
            head = queue[0]
            if not isinstance(head, _Drops):
                queue.popleft()
                return head
            if drops and drops[0][0] <= head.last:
                number, event = drops.popleft()
                if number == head.last:
                    queue.popleft()
                return event
            queue.popleft()  # every drop of this run was discarded
        return None
