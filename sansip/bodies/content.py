"""Parsing a body by its Content-Type.

:func:`parse_body` picks the parser for a media type and raises
:class:`BodyError` with status 415 (Unsupported Media Type) for a type no
parser here handles, so a UAS can answer with it directly.
"""

from __future__ import annotations

from collections.abc import Callable

from sansip.bodies.dialoginfo import DialogInfo, parse_dialog_info
from sansip.bodies.dtmfinfo import Dtmf, parse_dtmf, parse_dtmf_relay
from sansip.bodies.errors import BodyError
from sansip.bodies.iscomposing import IsComposing, parse_iscomposing
from sansip.bodies.mwi import MessageSummary, parse_message_summary
from sansip.bodies.pidf import Presence, parse_pidf
from sansip.bodies.sipfrag import SipFrag, parse_sipfrag

__all__ = [
    "DIALOG_INFO",
    "DTMF",
    "DTMF_RELAY",
    "IS_COMPOSING",
    "MESSAGE_SUMMARY",
    "PARSERS",
    "PIDF",
    "SIPFRAG",
    "Body",
    "parse_body",
]

PIDF = "application/pidf+xml"
DIALOG_INFO = "application/dialog-info+xml"
MESSAGE_SUMMARY = "application/simple-message-summary"
IS_COMPOSING = "application/im-iscomposing+xml"
SIPFRAG = "message/sipfrag"
DTMF_RELAY = "application/dtmf-relay"
DTMF = "application/dtmf"

#: A parsed body of any type handled here.
Body = Presence | DialogInfo | MessageSummary | IsComposing | SipFrag | Dtmf

#: The parser of each media type (lower case, without parameters).
PARSERS: dict[str, Callable[[bytes], Body]] = {
    PIDF: parse_pidf,
    DIALOG_INFO: parse_dialog_info,
    MESSAGE_SUMMARY: parse_message_summary,
    IS_COMPOSING: parse_iscomposing,
    SIPFRAG: parse_sipfrag,
    DTMF_RELAY: parse_dtmf_relay,
    DTMF: parse_dtmf,
}


def parse_body(content_type: str, data: bytes) -> Body:
    """Parse ``data`` by its Content-Type value (parameters such as
    ``;version=2.0`` are ignored).  Raises :class:`BodyError`: 415 for an
    unsupported type, else what the type's parser raises."""
    media_type = content_type.partition(";")[0].strip(" \t").lower()
    parser = PARSERS.get(media_type)
    if parser is None:
        raise BodyError("Unsupported Media Type", 415)
    return parser(data)
