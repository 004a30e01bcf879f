"""ICMP errors of the SIP UDP socket, read from its error queue (Linux).

An unconnected UDP socket hears nothing of the ICMP errors its datagrams
cause unless ``IP_RECVERR`` (``IPV6_RECVERR``) is set: then the kernel
queues each error with the destination of the datagram that failed
(``msg_name`` of ``recvmsg(..., MSG_ERRQUEUE)``) and the ICMP type and code
(a ``sock_extended_err`` in the ancillary data), marks the socket as in
error (the next ``recvfrom`` or ``sendto`` fails once with that errno, a
stale error that may name another destination) and reports it readable
(``EPOLLERR``) until the queue is empty.  :func:`enable_error_queue` sets
the options; :func:`read_error_queue` clears the pending error and drains
the queue.

Which errors fail the transactions to a destination (RFC 3261 §18.4):
host, network, port or protocol unreachable and parameter problems;
source quench, time exceeded and "fragmentation needed" / "packet too
big" (path MTU discovery: the retransmission goes out fragmented) do not.

Elsewhere (no ``IP_RECVERR``) the kernel reports no ICMP error on an
unconnected socket, or reports one without its destination (a
``ConnectionRefusedError`` from ``recvfrom`` on some systems): such errors
are only counted and the transactions wait for their timers.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
import sys
from typing import Final

from sansip.transport.types import Address

__all__ = ["SEND_UNREACHABLE", "enable_error_queue", "read_error_queue"]

_LINUX: Final = sys.platform.startswith("linux")
# The option numbers of <linux/in.h> and <linux/in6.h> (Python names them from 3.12 on).
_IP_RECVERR: Final = getattr(socket, "IP_RECVERR", 11 if _LINUX else None)
_IPV6_RECVERR: Final = getattr(socket, "IPV6_RECVERR", 25 if _LINUX else None)
_MSG_ERRQUEUE: Final = getattr(socket, "MSG_ERRQUEUE", None)
#: ``sock_extended_err``: ee_errno, ee_origin, ee_type, ee_code (then pad, info, data).
_EXTENDED_ERR: Final = struct.Struct("=IBBB")
_ORIGIN_LOCAL, _ORIGIN_ICMP, _ORIGIN_ICMP6 = 1, 2, 3
_ICMP_DEST_UNREACH, _ICMP_FRAG_NEEDED, _ICMP_PARAMETERPROB = 3, 4, 12
_ICMP6_DEST_UNREACH, _ICMP6_PARAMPROB = 1, 4
#: Room for a ``sock_extended_err`` and the offender's address.
_ANCILLARY: Final = 256
#: Errors read per call (the queue is bounded by the receive buffer).
_MAX_READ: Final = 256

#: The errnos of a send (or a locally made error) that name its
#: destination as unreachable.
SEND_UNREACHABLE: Final = frozenset(
    {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}
)


def enable_error_queue(sock: socket.socket) -> bool:
    """Ask for the ICMP errors of UDP socket ``sock`` on its error queue;
    whether the system has one (Linux) and took the option."""
    if _MSG_ERRQUEUE is None or _IP_RECVERR is None:
        return False
    options = [(socket.IPPROTO_IP, _IP_RECVERR)]
    if sock.family == socket.AF_INET6 and _IPV6_RECVERR is not None:
        # IPv6, and IPv4-mapped destinations of a dual-stack socket.
        options.insert(0, (socket.IPPROTO_IPV6, _IPV6_RECVERR))
    enabled = False
    for level, option in options:
        try:
            sock.setsockopt(level, option, 1)
        except OSError:
            continue
        enabled = True
    return enabled


def _fails_destination(ancillary: list[tuple[int, int, bytes]]) -> bool:
    """Whether a queued error fails its destination (RFC 3261 §18.4)."""
    for level, kind, data in ancillary:
        ours = (level, kind) in ((socket.IPPROTO_IP, _IP_RECVERR),
                                 (socket.IPPROTO_IPV6, _IPV6_RECVERR))  # fmt: skip
        if not ours or len(data) < _EXTENDED_ERR.size:
            continue
        fields: tuple[int, int, int, int] = _EXTENDED_ERR.unpack_from(data)
        code_errno, origin, icmp_type, code = fields
        if origin == _ORIGIN_ICMP:
            unreachable = icmp_type == _ICMP_DEST_UNREACH and code != _ICMP_FRAG_NEEDED
            return unreachable or icmp_type == _ICMP_PARAMETERPROB
        if origin == _ORIGIN_ICMP6:
            return icmp_type in (_ICMP6_DEST_UNREACH, _ICMP6_PARAMPROB)
        return origin == _ORIGIN_LOCAL and code_errno in SEND_UNREACHABLE
    return False


def read_error_queue(sock: socket.socket) -> tuple[list[tuple[Address, bool]], bool]:
    """Clear the pending error of ``sock`` and drain its error queue: the
    destination of each failed datagram and whether the error fails it
    (see the module docstring), oldest first; and whether more may be
    queued (the read stopped at its bound)."""
    with contextlib.suppress(OSError):
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)  # first: nothing is missed
    errors: list[tuple[Address, bool]] = []
    if _MSG_ERRQUEUE is None:
        return errors, False
    for _ in range(_MAX_READ):
        try:
            _, ancillary, _, name = sock.recvmsg(0, _ANCILLARY, _MSG_ERRQUEUE)
        except OSError:  # BlockingIOError: empty
            return errors, False
        if isinstance(name, tuple) and len(name) >= 2:
            errors.append(((str(name[0]), int(name[1])), _fails_destination(ancillary)))
    return errors, True
