"""Transaction timer values (RFC 3261 §17 and Table 4; RFC 6026 timers L and M).

Every machine takes a :class:`TimerConfig` through its constructor; nothing
reads a module global at run time, so a simulation can shrink or stretch
time freely.  All values are seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from sansip.errors import LocalProtocolError

__all__ = ["TimerConfig"]


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """The base timers T1, T2, T4 and the values derived from them.

    ``t1`` is the RTT estimate (500 ms), ``t2`` the retransmission cap for
    non-INVITE requests and INVITE responses (4 s), ``t4`` how long a
    message may stay in the network (5 s).  ``timer_d`` is Timer D on
    unreliable transports ("at least 32 s").  ``trying_after`` is how long an
    INVITE server transaction waits for the TU before it sends a
    100 (Trying) itself (§17.2.1: 200 ms).
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    timer_d: float = 32.0
    trying_after: float = 0.2

    def __post_init__(self) -> None:
        if not (self.t1 > 0 and self.t2 >= self.t1 and self.t4 >= 0):
            raise LocalProtocolError("timers need t1 > 0, t2 >= t1 and t4 >= 0")
        if self.timer_d < 0 or self.trying_after < 0:
            raise LocalProtocolError("timer_d and trying_after must not be negative")

    # -- client transactions (§17.1) ----------------------------------------
    @property
    def a(self) -> float:
        """Timer A: first INVITE retransmission interval (T1, doubling)."""
        return self.t1

    @property
    def b(self) -> float:
        """Timer B: INVITE transaction timeout (64*T1)."""
        return 64 * self.t1

    def d(self, reliable: bool) -> float:
        """Timer D: wait for response retransmissions (``timer_d``, 0 if reliable)."""
        return 0.0 if reliable else self.timer_d

    @property
    def e(self) -> float:
        """Timer E: first non-INVITE retransmission interval (T1, doubling up to T2)."""
        return self.t1

    @property
    def f(self) -> float:
        """Timer F: non-INVITE transaction timeout (64*T1)."""
        return 64 * self.t1

    def k(self, reliable: bool) -> float:
        """Timer K: wait for response retransmissions (T4, 0 if reliable)."""
        return 0.0 if reliable else self.t4

    @property
    def m(self) -> float:
        """Timer M (RFC 6026): wait for 2xx retransmissions in ACCEPTED (64*T1)."""
        return 64 * self.t1

    # -- server transactions (§17.2) ----------------------------------------
    @property
    def g(self) -> float:
        """Timer G: first INVITE response retransmission interval (T1, doubling up to T2)."""
        return self.t1

    @property
    def h(self) -> float:
        """Timer H: wait for the ACK (64*T1)."""
        return 64 * self.t1

    def i(self, reliable: bool) -> float:
        """Timer I: wait for ACK retransmissions (T4, 0 if reliable)."""
        return 0.0 if reliable else self.t4

    def j(self, reliable: bool) -> float:
        """Timer J: wait for non-INVITE request retransmissions (64*T1, 0 if reliable)."""
        return 0.0 if reliable else 64 * self.t1

    @property
    def l(self) -> float:  # noqa: E743 - the RFC 6026 name
        """Timer L (RFC 6026): wait for INVITE retransmissions in ACCEPTED (64*T1)."""
        return 64 * self.t1
