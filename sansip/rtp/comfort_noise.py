"""Comfort noise payload (RFC 3389 §3): a noise level and optional spectral shape."""

from __future__ import annotations

from typing import NamedTuple

from sansip.errors import LocalProtocolError, RemoteProtocolError

__all__ = ["ComfortNoise", "parse_comfort_noise"]


class ComfortNoise(NamedTuple):
    """The noise ``level`` in -dBov (0-127) and the quantized reflection
    ``coefficients`` (one byte each, possibly none)."""

    level: int
    coefficients: bytes = b""

    def encode(self) -> bytes:
        """The RTP payload."""
        if not 0 <= self.level <= 127:
            raise LocalProtocolError("comfort noise level must be 0-127 (-dBov)")
        return bytes((self.level,)) + self.coefficients


def parse_comfort_noise(payload: bytes) -> ComfortNoise:
    """Decode a CN payload; raises :class:`RemoteProtocolError` if empty or the
    reserved top bit of the level is set."""
    if not payload:
        raise RemoteProtocolError("comfort noise payload is empty")
    if payload[0] & 0x80:
        raise RemoteProtocolError("comfort noise level has its reserved bit set")
    return ComfortNoise(payload[0], payload[1:])
