"""The bookkeeping shared by the trio drivers.

:class:`TrioDriver` holds what :class:`~sansip.io.trio.TrioDatagramDriver`
and :class:`~sansip.io.trio_stream.TrioStreamDriver` have in common: the
machine and its pump on trio's clock, ``attach``, ``pump``, binding the
socket and the hidden nursery behind ``async with``.  A subclass supplies
the pump (``_new_pump``), ``run``, ``wake`` and ``close``; its
``__aenter__``/``__aexit__`` hand over to :meth:`_enter`/:meth:`_exit`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Generic, TypeVar

import trio

from sansip.io._pump import _Pump
from sansip.transport.types import Address

__all__ = ["HiddenNursery", "TrioDriver"]

#: The machine type a driver runs.
M = TypeVar("M")
#: The pump type that feeds it.
P = TypeVar("P", bound="_Pump[Any]")


class HiddenNursery(ABC):
    """``async with`` support: :meth:`run` in a nursery of its own, closed
    and awaited on leaving (the trio drivers and media ports share it)."""

    _stack: AsyncExitStack | None = None

    @abstractmethod
    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Report readiness through ``task_status``, then serve until closed."""

    @abstractmethod
    def close(self) -> None:
        """Ask the tasks to stop; returns at once."""

    async def _enter(self) -> None:
        """Open a nursery, start :meth:`run` in it and wait until it is bound."""
        async with AsyncExitStack() as stack:
            nursery = await stack.enter_async_context(trio.open_nursery())
            await nursery.start(self.run)
            self._stack = stack.pop_all()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        """Close, and wait for the tasks to finish.  An exception from the
        body is re-raised as it is (not wrapped in an ``ExceptionGroup`` by
        the hidden nursery); ``Cancelled`` is handed to the nursery so trio
        can route it to its cancel scope."""
        return await self._exit(exc_type, exc, tb)

    async def _exit(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        """Close, and wait for the driver's tasks; re-raise an exception from
        the body as it is (``Cancelled`` goes to the nursery)."""
        self.close()
        stack, self._stack = self._stack, None
        assert stack is not None
        if exc is None or isinstance(exc, trio.Cancelled):
            return bool(await stack.__aexit__(exc_type, exc, tb))
        await stack.__aexit__(None, None, None)
        return False


class TrioDriver(HiddenNursery, Generic[M, P]):
    """One machine and its pump, run by trio tasks (see the subclasses)."""

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
        self._pump: P | None = None
        self._closed = False
        self._stopped = trio.Event()
        self._stack: AsyncExitStack | None = None

    @abstractmethod
    def _new_pump(self, machine: M, clock: Callable[[], float]) -> P:
        """A pump for ``machine`` on ``clock``."""

    @abstractmethod
    async def run(
        self, *, task_status: trio.TaskStatus[Address] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Bind, report the bound address through ``task_status``, then serve."""

    @abstractmethod
    def wake(self) -> None:
        """Send what the machine has queued and re-arm its timer."""

    @abstractmethod
    def close(self) -> None:
        """Ask the driver's tasks to stop; returns at once."""

    async def _bind(self, socktype: int) -> trio.socket.SocketType:
        """A socket bound to ``local`` (a stream one listens); keeps the bound address."""
        host, port = self.local
        info = await trio.socket.getaddrinfo(
            host, port, type=socktype, flags=trio.socket.AI_PASSIVE
        )
        family, _, _, _, sockaddr = info[0]
        sock = trio.socket.socket(family, socktype)
        try:
            if socktype == trio.socket.SOCK_STREAM:
                sock.setsockopt(trio.socket.SOL_SOCKET, trio.socket.SO_REUSEADDR, 1)
            await sock.bind(sockaddr)
            if socktype == trio.socket.SOCK_STREAM:
                sock.listen()
        except BaseException:
            sock.close()
            raise
        name = sock.getsockname()
        self.local = (str(name[0]), int(name[1]))
        return sock

    def _pump_machine(self) -> None:
        """Pump the machine given to the constructor, unless one is attached."""
        if self.machine is not None and self._pump is None:
            self._pump = self._new_pump(self.machine, trio.current_time)

    def _attach(self, machine: M, on_activity: Callable[[], None] | None) -> None:
        self.machine = machine
        self._pump = self._new_pump(machine, trio.current_time)
        if on_activity is not None:
            self._on_activity = on_activity
        self.wake()

    @property
    def pump(self) -> P:
        """Counters of what went through (received, sent, faults)."""
        assert self._pump is not None, "start the driver and attach a machine first"
        return self._pump

    def _activity(self) -> None:
        if self._on_activity is not None:
            self._on_activity()
