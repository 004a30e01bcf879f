"""A local conference of a phone's calls, sans-IO: the calls joined meet in
one :class:`~sansip.audio.mixer.ConferenceMixer` (mix-minus: each party
hears the others, never itself).

The phone's own audio — what the first call joined had as its source and
sink (the microphone and speaker, the frame queues, an audio plan) — joins
as the local party; each call then sends the mix meant for it and hands
what it receives to the mixer.  Muting a call (``mute``) keeps working per
party: muted towards the peer it hears nothing, muted from the peer the
others do not hear it.  A call that leaves (or ends) gets its own audio
back and the others go on talking; when the call whose audio is the local
party leaves, the next call's takes its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sansip.audio.mixer import ConferenceMixer
from sansip.errors import LocalProtocolError
from sansip.phone.line import PhoneCall

__all__ = ["LocalConference"]

LOCAL = "local"


@dataclass(slots=True)
class _Member:
    call: PhoneCall
    source: Any  # the call's own source and sink, given back when it leaves
    sink: Any


class LocalConference:
    """The calls in the phone's conference, at the phone's audio ``rate``."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._mixer: ConferenceMixer | None = None
        self._members: dict[PhoneCall, _Member] = {}
        self._local: PhoneCall | None = None  # whose own audio is the local party

    @property
    def calls(self) -> list[PhoneCall]:
        """The calls in the conference, in the order they joined."""
        return list(self._members)

    def __contains__(self, call: object) -> bool:
        return call in self._members

    def join(self, call: PhoneCall) -> None:
        """Put ``call`` (its media built) into the conference."""
        if call in self._members:
            return
        to_peer, to_us = call.to_peer, call.to_us
        if to_peer is None or to_us is None:
            raise LocalProtocolError(f"no media on line {call.line} yet")
        if self._mixer is None:
            self._mixer = ConferenceMixer(rate=self.rate)
        member = _Member(call, to_peer.primary, to_us.sink)
        self._members[call] = member
        if self._local is None:
            self._make_local(member)
        port = self._mixer.add_party(call.line, rate=self.rate)
        to_peer.primary, to_us.sink = port.source, port.sink

    def leave(self, call: PhoneCall) -> None:
        """Take ``call`` out: it gets its own audio back; the others go on."""
        member = self._members.pop(call, None)
        if member is None or self._mixer is None:
            return
        self._mixer.remove_party(call.line)
        if call.to_peer is not None and call.to_us is not None:
            call.to_peer.primary, call.to_us.sink = member.source, member.sink
        if self._local is call:
            self._mixer.remove_party(LOCAL)
            self._local = None
            if self._members:
                self._make_local(next(iter(self._members.values())))
        if not self._members:
            self._mixer = None

    def dissolve(self) -> None:
        """Every call leaves; the calls go on, each with its own audio."""
        for call in list(self._members):
            self.leave(call)

    def _make_local(self, member: _Member) -> None:
        assert self._mixer is not None
        self._mixer.add_local_party(member.source, member.sink, party_id=LOCAL, rate=self.rate)
        self._local = member.call
