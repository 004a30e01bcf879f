"""The bookkeeping shared by the asyncio drivers.

:class:`AsyncioDriver` holds what :class:`~sansip.io.asyncio.AsyncioDatagramDriver`
and :class:`~sansip.io.asyncio_stream.AsyncioStreamDriver` have in common: the
machine and its pump on the loop's clock, ``attach``, ``pump`` and the one
timer (``_arm``/``_fire``).  A subclass supplies the pump (``_new_pump``),
``wake`` and what one batch of the pump's output does (``_output``: send it,
then :meth:`~AsyncioDriver._arm`); its ``start()`` calls :meth:`_begin` first
and :meth:`_bound` last, its ``close()`` calls :meth:`_stop_timer`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sansip.io._pump import _Pump
from sansip.transport.types import Address, Datagram

__all__ = ["AsyncioDriver"]

#: The machine type a driver runs.
M = TypeVar("M")
#: The pump type that feeds it.
P = TypeVar("P", bound="_Pump[Any]")


class AsyncioDriver(ABC, Generic[M, P]):
    """One machine, its pump and its timer in the running loop (see the subclasses)."""

    def __init__(
        self,
        machine: M | None,
        local: Address,
        *,
        on_activity: Callable[[], None] | None = None,
    ) -> None:
        self.machine = machine
        self.local = local
        self.errors = 0
        self._on_activity = on_activity
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pump: P | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._closed = False  # set by a driver that takes no input once closed

    @abstractmethod
    def _new_pump(self, machine: M, clock: Callable[[], float]) -> P:
        """A pump for ``machine`` on ``clock``."""

    @abstractmethod
    def wake(self) -> None:
        """Send what the machine has queued and re-arm its timer."""

    @abstractmethod
    def _output(self, datagrams: list[Datagram]) -> None:
        """Deal with one batch of the pump's output, then :meth:`_arm`."""

    def _begin(self) -> asyncio.AbstractEventLoop:
        """Take the running loop and pump the machine given, if any."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        if self.machine is not None:
            self._pump = self._new_pump(self.machine, loop.time)
        return loop

    def _bound(self, name: tuple[Any, ...]) -> Address:
        """Keep the bound address (a ``getsockname()``), wake the machine and return it."""
        self.local = (str(name[0]), int(name[1]))
        if self._pump is not None:
            self.wake()
        return self.local

    def _attach(self, machine: M, on_activity: Callable[[], None] | None) -> None:
        assert self._loop is not None, "start() first"
        self.machine = machine
        self._pump = self._new_pump(machine, self._loop.time)
        if on_activity is not None:
            self._on_activity = on_activity
        self.wake()

    @property
    def pump(self) -> P:
        """Counters of what went through (received, sent, faults)."""
        assert self._pump is not None, "start() first"
        return self._pump

    def _activity(self) -> None:
        if self._on_activity is not None:
            self._on_activity()

    # -- time ------------------------------------------------------------------
    def _fire(self) -> None:
        deadline = self._timer_at
        self._timer = self._timer_at = None
        if deadline is not None and not self._closed:
            self._output(self.pump.fire(deadline))
            self._activity()

    def _arm(self) -> None:
        deadline = None if self._closed else self.pump.deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None and self._loop is not None:
            self._timer = self._loop.call_at(deadline, self._fire)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None
