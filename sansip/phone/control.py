"""The commands on a phone's calls in progress and what the peer does in
them, sans-IO, for :class:`~sansip.phone.core.PhoneCore`: hold and resume
(``holdtype``), DTMF (``dtmfmode``: RFC 4733 or SIP INFO), mute, playing
and recording, the local conference, instant messages; and the peer's side:
early media, re-offers and their outcome, MESSAGE and INFO."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sansip.dialog.call import Call, RequestArrived
from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.phone.events import INCOMING, DtmfReceived, PhoneWarning
from sansip.phone.line import PhoneCall
from sansip.phone.messaging import DTMF_INFO_TYPES, dtmf_digit, dtmf_relay_body
from sansip.phone.transfer import PhoneTransfers

if TYPE_CHECKING:
    from sansip.phone.core import PhoneCore

__all__ = ["CallControl"]


class CallControl:
    """What is done to the calls of ``core`` once they exist (see the module docstring)."""

    def __init__(self, core: PhoneCore) -> None:
        self.core = core
        #: Transfers, ours and the peers'.
        self.transfers = PhoneTransfers(core)

    def hold(self, line: int, now: float, *, resume: bool = False) -> None:
        """Put the call on ``line`` on hold or resume it: a re-offer that is
        sendonly (``holdtype`` -1 or 2; 3, recvonly, is sent as sendonly too)
        or inactive (4); ``holdtype`` 0 turns hold off."""
        core = self.core
        call = core.line(line)
        if call.sip is None or call.media is None or call.state != "connected":
            raise LocalProtocolError(f"no connected call on line {call.line}")
        if core.config.holdtype == 0 and not resume:
            raise LocalProtocolError("hold is off (holdtype 0)")
        inactive = core.config.holdtype == 4
        sdp = call.media.resume() if resume else call.media.hold(inactive=inactive)
        try:
            core.ua.reinvite(call.sip, sdp, now)
        except LocalProtocolError:
            call.media.cancel_offer()
            raise
        call.hold_pending = "resume" if resume else "hold"

    def dtmf(self, line: int, digits: str, now: float) -> None:
        """Send ``digits`` on the call on ``line`` as ``dtmfmode`` says: RFC
        4733 events (4), SIP INFO (1), both (3), or RFC 4733 when the peer
        took telephone-event and INFO otherwise (2, the default)."""
        core = self.core
        call = core.line(line)
        mode = core.config.dtmfmode
        if mode == 0:
            raise LocalProtocolError("DTMF is off (dtmfmode 0)")
        stream = call.media.stream if call.media is not None else None
        rtp = mode in (3, 4) or (mode == 2 and stream is not None and stream.dtmf_supported)
        info = mode in (1, 3) or (mode == 2 and not rtp)
        if rtp:
            if call.port is None or not call.media_started:
                raise LocalProtocolError(f"no media on line {call.line} yet")
            core.engine.command(call.port, lambda s: s.send_dtmf(digits, now), now)
        if info:
            if call.sip is None or call.state != "connected":
                raise LocalProtocolError(f"no connected call on line {call.line}")
            for digit in digits.replace(" ", ""):
                core.ua.send_in_dialog(call.sip, "INFO", now, body=dtmf_relay_body(digit),
                                       content_type="application/dtmf-relay")  # fmt: skip

    def conference(self, number: str, now: float, *, add: bool = True) -> PhoneCall | None:
        """The reference's ``conference(number, add)``: ``""`` joins every
        connected call (two at least) into the local conference, a line
        number 1-9 in use joins that call, anything else is called and joins
        once connected (that call is returned); with ``add`` False, ``""``
        dissolves the conference (the calls go on) and a line leaves it."""
        core = self.core
        number = number.strip()
        line = int(number) if number.isdigit() and 1 <= int(number) <= 9 else 0
        if not add:
            if not number:
                core.room.dissolve()
            else:
                core.room.leave(core.line(line or core.setline(number) or -3))
            return None
        if not number:
            calls = [c for c in core._lines.values() if c.state == "connected"]
            if len(calls) < 2:
                raise LocalProtocolError("a conference needs two connected calls at least")
            for call in calls:
                self._join(call, now)
            return None
        if line in core._lines:
            self._join(core._lines[line], now)
            return None
        placed = core.call(number, now)
        placed.join_conference = True
        return placed

    def _join(self, call: PhoneCall, now: float) -> None:
        core = self.core
        if call.state != "connected":
            raise LocalProtocolError(f"no connected call on line {call.line}")
        if call.on_hold and call.hold_pending is None:
            self.hold(call.line, now, resume=True)  # held by the auto-hold of a new call
        core.room.join(call)

    def sendchat(self, target: str, text: str, now: float, *,
                 headers: tuple[tuple[str, str], ...] = ()) -> None:  # fmt: skip
        """Send ``text`` to ``target`` (a number at the server, or a ``sip:``
        URI) in a MESSAGE; :class:`ChatReport` events follow."""
        uri, dest = self.core.destination(target, now)
        self.core.messaging.send(uri, text, now, dest=dest, headers=headers)

    def composing(self, target: str, active: bool, now: float) -> None:
        """Tell ``target`` we are typing a message (``active``) or stopped."""
        uri, dest = self.core.destination(target, now)
        self.core.messaging.composing(uri, active, now, dest=dest)

    def ignore(self, line: int, now: float) -> None:
        """Stop alerting for the incoming call on ``line`` without answering
        the peer (it ends when the caller gives up or the ring timeout passes)."""
        core = self.core
        call = core.line(line)
        if call.direction != INCOMING or call.state != "ringing":
            raise LocalProtocolError(f"nothing ringing on line {call.line}")
        call.reason = "ignored"

    def mute(self, line: int, muted: bool = True, direction: int = 0) -> None:
        """Mute the call on ``line``: 0 both ways, 1 what we hear, 2 what we
        send (silence goes out and is played instead)."""
        core = self.core
        call = core.line(line)
        call.mute_out = muted and direction in (0, 2)
        call.mute_in = muted and direction in (0, 1)

    def play(self, line: int, source: object | None, *, to_peer: bool = True) -> None:
        """Play ``source`` (a frame source: a file player, a tone) into what
        the call on ``line`` sends (``to_peer``) or into what we hear; None
        stops what plays there."""
        core = self.core
        core.line(line).play(source, to_peer=to_peer)

    def record(self, line: int, recorder: object | None) -> object | None:
        """Record both directions of the call on ``line`` with ``recorder``
        (a call recorder); None stops.  Returns the recorder that was in use."""
        core = self.core
        return core.line(line).set_recorder(recorder)

    def arrived(self, event: RequestArrived, now: float) -> None:
        """A MESSAGE or an INFO: the phone answers it."""
        core = self.core
        call = core._by_sip.get(event.call) if event.call is not None else None
        request = event.request
        if request.method == "NOTIFY":  # unsolicited message waiting (RFC 3842 §6)
            changed = core.presence.summary(request.body)
            core.ua.respond(event, 200 if changed is not None else 489, now)
            if changed is not None:
                core._emit(changed)
        elif request.method == "MESSAGE":
            peer = str(getattr(request.from_.uri, "user", "") or "")
            line = call.line if call is not None else -1
            core.messaging.arrived(event, now, line=line, blocked=peer in core.config.blacklist)
        elif call is not None:
            self._info(call, event, now)
        else:
            core.ua.respond(event, 481, now)

    def _info(self, call: PhoneCall, event: RequestArrived, now: float) -> None:
        """An INFO in a call: DTMF (application/dtmf-relay, application/dtmf)
        is reported like RFC 4733 digits; other bodies get 415."""
        core = self.core
        kind = str(event.request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        digit = dtmf_digit(kind, event.request.body)
        if digit is None:
            core.ua.respond(event, 415, now, headers=[("Accept", ", ".join(DTMF_INFO_TYPES))])
            return
        core.ua.respond(event, 200, now)
        if digit:
            core._emit(DtmfReceived(call.line, call.callid, digit), call)

    def early_media(self, sip: Call, sdp: bytes, now: float) -> None:
        core = self.core
        call = core._by_sip.get(sip)
        if call is None or call.media_started or call.media is None:
            return
        if call.take_answer(sdp, now) is None:
            core._hook(call, "early", now)
            core._start_media(call, now)

    def offer(self, sip: Call, sdp: bytes, now: float) -> None:
        core = self.core
        call = core._by_sip.get(sip)
        if call is None or call.media is None:
            core.ua.reject_offer(sip, now, 488)
            return
        try:
            answer = call.answer_sdp(sdp, now)
        except RemoteProtocolError as exc:
            core.ua.reject_offer(sip, now, exc.status, PhoneCall.warning(exc, core._host))
            return
        core.ua.accept_offer(sip, answer, now)
        call.on_hold = call.media.on_hold
        core._start_media(call, now)

    def updated(self, sip: Call, remote_sdp: bytes, by_peer: bool, now: float) -> None:
        core = self.core
        call = core._by_sip.get(sip)
        if call is None or call.media is None:
            return
        if by_peer and call.answer_in_ack:
            call.answer_in_ack = False
            if call.take_answer(remote_sdp, now) is not None:
                core._emit(PhoneWarning("bad SDP answer in the ACK", call.line), call)
            core._start_media(call, now)
        elif not by_peer:
            if call.take_answer(remote_sdp, now) is None:
                call.on_hold = call.hold_pending == "hold"
                if call.hold_pending == "hold":
                    call.holds += 1
                elif call.hold_pending == "resume":
                    call.resumes += 1
            call.hold_pending = None
