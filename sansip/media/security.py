"""What protects a stream's packets: SRTP keyed by SDES (RFC 4568)."""

from __future__ import annotations

from sansip.rtp.srtp import SrtpTransform
from sansip.sdp import NegotiatedMedia

__all__ = ["srtp_transform"]


def srtp_transform(media: NegotiatedMedia) -> SrtpTransform | None:
    """The SRTP/SRTCP protection of ``media`` with the keys the offer/answer
    agreed (None: plain RTP).  Our key protects what we send, the peer's
    what we receive."""
    keys = media.srtp
    if keys is None:
        return None
    return SrtpTransform(keys.suite, keys.local_key, keys.remote_key)
