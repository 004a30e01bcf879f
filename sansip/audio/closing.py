"""Context management for the objects that hold a file or a codec open
(players, recorders): ``with`` closes them, and ``close`` is idempotent."""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["Closable"]


class Closable:
    """Closes on leaving a ``with`` block; subclasses define :meth:`close`."""

    def close(self) -> None:
        """Release what is held (idempotent)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
