"""The RTCP transmission interval (RFC 3550 §6.3.1, §A.7)."""

from __future__ import annotations

import math
from typing import Final

from sansip.rtp.types import RandomSource

__all__ = ["COMPENSATION", "RTCP_MIN_TIME", "random_unit", "rtcp_interval"]

#: Minimum average time between RTCP packets, in seconds (§6.2).
RTCP_MIN_TIME: Final = 5.0
#: Compensation for the "timer reconsideration" converging low (§6.3.1: e - 3/2).
COMPENSATION: Final = math.e - 1.5


def random_unit(rng: RandomSource) -> float:
    """A uniform draw in [0, 1) from ``rng``."""
    return rng.getrandbits(53) / 9007199254740992.0


def rtcp_interval(
    *,
    members: int,
    senders: int,
    rtcp_bandwidth: float,
    we_sent: bool,
    avg_rtcp_size: float,
    initial: bool,
    unit: float,
) -> float:
    """Seconds until the next RTCP packet (§A.7 ``rtcp_interval``).

    ``rtcp_bandwidth`` is in octets per second, ``avg_rtcp_size`` in octets
    (lower-layer headers included) and ``unit`` a uniform draw in [0, 1) that
    randomises the result over [0.5, 1.5] times the deterministic interval
    before the ``e - 3/2`` compensation.  The minimum is 5 s, halved for the
    first report.
    """
    minimum = RTCP_MIN_TIME / 2 if initial else RTCP_MIN_TIME
    n = max(members, 1)
    bandwidth = rtcp_bandwidth
    if senders <= members * 0.25:
        if we_sent:
            bandwidth *= 0.25
            n = senders
        else:
            bandwidth *= 0.75
            n -= senders
    deterministic = avg_rtcp_size * n / bandwidth if bandwidth > 0 else minimum
    deterministic = max(deterministic, minimum)
    return deterministic * (unit + 0.5) / COMPENSATION
