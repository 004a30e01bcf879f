"""Message bodies for call control, messaging, presence, BLF and MWI, sans-IO:
parsers and builders with no I/O, clocks or randomness.

* :mod:`~sansip.bodies.pidf`: presence (RFC 3863 PIDF with RFC 4480 RPID)
* :mod:`~sansip.bodies.dialoginfo`: dialog state for BLF (RFC 4235)
* :mod:`~sansip.bodies.mwi`: message waiting summaries (RFC 3842)
* :mod:`~sansip.bodies.iscomposing`: typing indications (RFC 3994)
* :mod:`~sansip.bodies.sipfrag`: REFER progress (RFC 3420, RFC 3515)
* :mod:`~sansip.bodies.dtmfinfo`: DTMF in INFO (application/dtmf-relay, application/dtmf)
* :mod:`~sansip.bodies.xml`: the safe XML parser under the XML bodies

Every parser raises only :class:`BodyError` (a ``RemoteProtocolError`` whose
``status`` a UAS can answer with); builders raise ``LocalProtocolError`` for
values they cannot write.

>>> from sansip.bodies import build_sipfrag, parse_body
>>> frag = parse_body("message/sipfrag;version=2.0", build_sipfrag(180, "Ringing"))
>>> frag.status, frag.reason, frag.final
(180, 'Ringing', False)
"""

from __future__ import annotations

from sansip.bodies.content import (
    DIALOG_INFO,
    DTMF,
    DTMF_RELAY,
    IS_COMPOSING,
    MESSAGE_SUMMARY,
    PIDF,
    SIPFRAG,
    Body,
    parse_body,
)
from sansip.bodies.dialoginfo import (
    Dialog,
    DialogInfo,
    MergeResult,
    Participant,
    blf_state,
    build_dialog_info,
    merge_dialog_info,
    parse_dialog_info,
)
from sansip.bodies.dtmfinfo import Dtmf, build_dtmf, build_dtmf_relay, parse_dtmf, parse_dtmf_relay
from sansip.bodies.errors import BodyError
from sansip.bodies.iscomposing import IsComposing, build_iscomposing, parse_iscomposing
from sansip.bodies.mwi import (
    MessageCount,
    MessageSummary,
    build_message_summary,
    parse_message_summary,
)
from sansip.bodies.pidf import (
    Presence,
    Tuple,
    build_pidf,
    build_presence,
    parse_pidf,
    presence_for_status,
    presence_status,
)
from sansip.bodies.sipfrag import SipFrag, build_sipfrag, parse_sipfrag
from sansip.bodies.xml import parse_xml

__all__ = [
    "DIALOG_INFO",
    "DTMF",
    "DTMF_RELAY",
    "IS_COMPOSING",
    "MESSAGE_SUMMARY",
    "PIDF",
    "SIPFRAG",
    "Body",
    "BodyError",
    "Dialog",
    "DialogInfo",
    "Dtmf",
    "IsComposing",
    "MergeResult",
    "MessageCount",
    "MessageSummary",
    "Participant",
    "Presence",
    "SipFrag",
    "Tuple",
    "blf_state",
    "build_dialog_info",
    "build_dtmf",
    "build_dtmf_relay",
    "build_iscomposing",
    "build_message_summary",
    "build_pidf",
    "build_presence",
    "build_sipfrag",
    "merge_dialog_info",
    "parse_body",
    "parse_dialog_info",
    "parse_dtmf",
    "parse_dtmf_relay",
    "parse_iscomposing",
    "parse_message_summary",
    "parse_pidf",
    "parse_sipfrag",
    "parse_xml",
    "presence_for_status",
    "presence_status",
]
