"""sansip: a complete SIP softphone stack in pure Python.

The protocol engines are sans-IO state machines (``sansip.message``,
``sansip.transport``, ``sansip.transaction``, ``sansip.dialog``, ...) driven
by thin asyncio, trio and threading adapters in ``sansip.io``; the phone
API on top is ``sansip.AsyncPhone`` (asyncio), ``sansip.Phone`` (threads)
and ``sansip.TrioPhone`` (trio), with ``sansip.AudioPlan`` for what calls
play and record.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["AsyncPhone", "AudioPlan", "Phone", "TrioPhone", "__version__"]

if TYPE_CHECKING:
    from sansip.phone.aio import AsyncPhone
    from sansip.phone.audio import AudioPlan
    from sansip.phone.threads import Phone
    from sansip.phone.trio import TrioPhone

#: The phone API by name, imported when first used (``import sansip`` stays light).
_LAZY = {
    "AsyncPhone": "sansip.phone.aio",
    "Phone": "sansip.phone.threads",
    "TrioPhone": "sansip.phone.trio",
    "AudioPlan": "sansip.phone.audio",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sansip' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
