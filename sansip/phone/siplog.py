"""The SIP messages a phone sent and received, kept for the reference
client's ``getsipmessage`` and ``getlogs`` and for call-flow ladders: a
bounded list, oldest dropped first."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

from sansip.transport.types import Address

__all__ = ["RECEIVED", "SENT", "SipLog", "SipLogEntry"]

#: ``direction`` of an entry (the reference's ``dir`` argument).
RECEIVED: Final = 0
SENT: Final = 1
#: How many messages are kept.
MAX_ENTRIES: Final = 500


@dataclass(frozen=True, slots=True)
class SipLogEntry:
    """One SIP message: when (the phone's clock), which way, to or from where."""

    at: float
    direction: int
    addr: Address
    data: bytes

    @property
    def first_line(self) -> str:
        """The request line or status line."""
        return self.data.split(b"\r\n", 1)[0].decode("utf-8", "replace")

    @property
    def is_request(self) -> bool:
        """Whether it is a request (else a response)."""
        return not self.data.startswith(b"SIP/2.0 ")


class SipLog:
    """The last :data:`MAX_ENTRIES` SIP messages (keep-alives left out)."""

    def __init__(self, size: int = MAX_ENTRIES) -> None:
        # Plain tuples while they are kept (cheap on every message); entries on reading.
        self._kept: deque[tuple[float, int, Address, bytes]] = deque(maxlen=size)

    @property
    def entries(self) -> list[SipLogEntry]:
        """The messages kept, oldest first."""
        return [SipLogEntry(*kept) for kept in self._kept]

    def add(self, at: float, direction: int, addr: Address, data: bytes) -> None:
        """Note one message (CRLF keep-alives are not kept)."""
        if data.strip():
            self._kept.append((at, direction, addr, bytes(data)))

    def find(self, direction: int = -1, kind: int = 0) -> SipLogEntry | None:
        """The newest message sent (``direction`` 1), received (0) or either
        (-1) of ``kind``: 0 any, 1 a request, 2 a response, 3 an INVITE,
        4 a 200 OK."""
        for entry in reversed(self.entries):
            if direction in (RECEIVED, SENT) and entry.direction != direction:
                continue
            line = entry.first_line
            if (kind == 1 and not entry.is_request) or (kind == 2 and entry.is_request):
                continue
            if kind == 3 and not line.startswith("INVITE "):
                continue
            if kind == 4 and not line.startswith("SIP/2.0 200"):
                continue
            return entry
        return None

    def text(self) -> str:
        """Every message kept, oldest first, each under a header line."""
        out = []
        for entry in self.entries:
            way = "sent to" if entry.direction == SENT else "received from"
            host, port = entry.addr[0], entry.addr[1]
            out.append(f"[{entry.at:.3f}] {way} {host}:{port}\n"
                       + entry.data.decode("utf-8", "replace"))  # fmt: skip
        return "\n".join(out)
