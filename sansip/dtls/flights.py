"""Flights and their retransmission (RFC 6347 §4.2.4): what a flight holds,
how it is cut into records and packed into datagrams of at most one MTU,
and the timer that resends it (1 s, doubling, at most 60 s by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sansip.dtls.fragments import HANDSHAKE_HEADER_LENGTH, split_message
from sansip.dtls.records import AEAD_OVERHEAD, RECORD_HEADER_LENGTH
from sansip.dtls.suites import ContentType

__all__ = ["FlightItem", "RetransmitTimer", "pack_flight"]

#: Seals one record: (content type, epoch, plaintext) -> the record's bytes.
Sealer = Callable[[int, int, bytes], bytes]


@dataclass(frozen=True)
class FlightItem:
    """One message of a flight: a whole handshake message (header included)
    or the ChangeCipherSpec byte, and the epoch it is sent in."""

    content_type: int
    epoch: int
    payload: bytes


def pack_flight(items: list[FlightItem], mtu: int, seal: Sealer) -> list[bytes]:
    """The datagrams of one (re)transmission of a flight.

    Handshake messages are fragmented so that each record fits in ``mtu``
    with its headers (and the AEAD overhead after epoch 0); records are
    packed several to a datagram while they fit.  Every call seals new
    records, so a retransmission gets new sequence numbers.
    """
    records: list[bytes] = []
    for item in items:
        if item.content_type != ContentType.HANDSHAKE:
            records.append(seal(item.content_type, item.epoch, item.payload))
            continue
        overhead = RECORD_HEADER_LENGTH + HANDSHAKE_HEADER_LENGTH
        overhead += AEAD_OVERHEAD if item.epoch else 0
        records.extend(
            seal(item.content_type, item.epoch, fragment)
            for fragment in split_message(item.payload, mtu - overhead)
        )
    datagrams: list[bytes] = []
    datagram = b""
    for record in records:
        if datagram and len(datagram) + len(record) > mtu:
            datagrams.append(datagram)
            datagram = b""
        datagram += record
    if datagram:
        datagrams.append(datagram)
    return datagrams


class RetransmitTimer:
    """The retransmission timer of the flight in flight (RFC 6347 §4.2.4.1).

    :meth:`start` arms it at ``initial``; each :meth:`back_off` doubles the
    timeout up to ``maximum``; after ``limit`` retransmissions
    :meth:`back_off` answers False: the handshake gives up.
    """

    def __init__(self, initial: float, maximum: float, limit: int) -> None:
        self.initial = initial
        self.maximum = maximum
        self.limit = limit
        self.at: float | None = None
        self.timeout = initial
        self.retransmissions = 0

    def start(self, now: float) -> None:
        """Arm the timer for a new flight."""
        self.timeout = self.initial
        self.retransmissions = 0
        self.at = now + self.timeout

    def stop(self) -> None:
        """Disarm the timer."""
        self.at = None

    def expired(self, now: float) -> bool:
        """Whether the timer is armed and due."""
        return self.at is not None and now >= self.at

    def back_off(self, now: float) -> bool:
        """Account one retransmission and re-arm; False (and disarmed) when
        the limit is reached."""
        if self.retransmissions >= self.limit:
            self.at = None
            return False
        self.retransmissions += 1
        self.timeout = min(self.timeout * 2, self.maximum)
        self.at = now + self.timeout
        return True
