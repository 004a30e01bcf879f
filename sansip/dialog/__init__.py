"""Dialogs (RFC 3261 §12), sans-IO: the bookkeeping of the UA core.

:class:`Dialog` keeps the state of one dialog and builds the requests sent
within it; :func:`dialog_id_of` tells which dialog a message belongs to;
:func:`new_tag` and :func:`new_call_id` draw identifiers from an injected
random source.
"""

from __future__ import annotations

from sansip.dialog.dialog import MAX_CSEQ, MAX_FORWARDS, TARGET_REFRESH_METHODS, Dialog, DialogState
from sansip.dialog.errors import DialogGone, RequestOutOfOrder
from sansip.dialog.ids import DialogId, RandomSource, dialog_id_of, new_call_id, new_tag

__all__ = [
    "MAX_CSEQ",
    "MAX_FORWARDS",
    "TARGET_REFRESH_METHODS",
    "Dialog",
    "DialogGone",
    "DialogId",
    "DialogState",
    "RandomSource",
    "RequestOutOfOrder",
    "dialog_id_of",
    "new_call_id",
    "new_tag",
]
