"""The UA core, sans-IO: dialogs (RFC 3261 §12), calls, registrations and
the requests a user agent sends and answers.

:class:`Dialog` keeps the state of one dialog and builds the requests sent
within it; :func:`dialog_id_of` tells which dialog a message belongs to.
:class:`~sansip.dialog.ua.UserAgent` is the whole user agent: commands in,
one stream of :data:`~sansip.dialog.events.UAEvent` out.
"""

from __future__ import annotations

from sansip.dialog.dialog import MAX_CSEQ, MAX_FORWARDS, TARGET_REFRESH_METHODS, Dialog, DialogState
from sansip.dialog.errors import DialogGone, RequestOutOfOrder
from sansip.dialog.ids import DialogId, dialog_id_of

__all__ = [
    "MAX_CSEQ",
    "MAX_FORWARDS",
    "TARGET_REFRESH_METHODS",
    "Dialog",
    "DialogGone",
    "DialogId",
    "DialogState",
    "RequestOutOfOrder",
    "dialog_id_of",
]
