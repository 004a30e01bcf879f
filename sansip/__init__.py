"""sansip: a complete SIP softphone stack in pure Python.

The protocol engines are sans-IO state machines (``sansip.message``,
``sansip.transport``, ``sansip.transaction``, ``sansip.dialog``, ...) driven
by thin asyncio, trio and threading adapters in ``sansip.io``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
