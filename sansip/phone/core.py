"""The phone, sans-IO: :class:`PhoneCore` owns one
:class:`~sansip.dialog.ua.UserAgent` and drives one
:class:`~sansip.media.engine.MediaEngine`, and decides everything a
softphone decides — the account's registration, lines 1..N, the call
states ``setup``/``ringing``/``connected``/``disconnected`` with their
reasons, offer/answer and the media of each call, policies (auto-accept,
reject on busy, blacklist, ring and setup timeouts, media timeout, auto
hold of the other line), DTMF after connect from a dial string, CDRs.

It has the SIP machine shape (``receive_datagram``/``receive_data``,
``datagrams_to_send``, ``get_timer``, ``handle_timer``), so a driver of
:mod:`sansip.io` runs it in place of the bare UA, with the engine beside
it; the front ends call :meth:`PhoneCore.process` when the driver reports
activity (the engine's events) and read :meth:`PhoneCore.next_event`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from sansip.audio.frames import NullSink, SilenceSource
from sansip.dialog.call import (
    Call,
    CallState,
    EarlyMediaReceived,
    IncomingCall,
    ModificationFailed,
    NotificationReceived,
    OfferReceived,
    ReferReceived,
    RequestArrived,
    RequestCompleted,
    SessionUpdated,
    SubscriptionEnded,
    TransferProgress,
)
from sansip.dialog.call import CallStateChanged as SipCallStateChanged
from sansip.dialog.register import (
    RegisterClient,
    Registered,
    RegistrationFailed,
    RegistrationStateChanged,
    Unregistered,
)
from sansip.dialog.ua import UserAgent
from sansip.errors import LocalProtocolError, RemoteProtocolError
from sansip.media import RecordingFailed
from sansip.media.engine import (
    MediaEngine,
    PortsFailed,
    PortsOpened,
    StreamFailed,
    StreamReported,
)
from sansip.media.security import EncryptionFailed
from sansip.message import SipURI
from sansip.message.ids import new_call_id
from sansip.phone.accounts import ExtraAccounts
from sansip.phone.conference import LocalConference
from sansip.phone.control import CallControl
from sansip.phone.coreconfig import PhoneConfig
from sansip.phone.dialing import no_media_sdp, route_of, target_uri
from sansip.phone.events import (
    DISC_LOCAL,
    DISC_REMOTE,
    DISC_TIMEOUT,
    INCOMING,
    OUTGOING,
    CallEnded,
    CallStateChanged,
    DtmfReceived,
    PhoneEvent,
    PhoneWarning,
)
from sansip.phone.incoming import auto_answer_delay, caller_identity, forward_rule
from sansip.phone.line import PhoneCall, merge_headers, offer_refusal, reason_text
from sansip.phone.messaging import Messaging
from sansip.phone.presence import PhonePresence
from sansip.phone.registration import Registrations
from sansip.phone.resolve import with_transport
from sansip.phone.siplog import RECEIVED, SENT, SipLog
from sansip.rtp import DtmfReceived as RtpDtmf
from sansip.rtp import MediaTimedOut, RandomSource
from sansip.transport.types import Address, Datagram

__all__ = ["AudioFactory", "PhoneConfig", "PhoneCore"]

#: Events kept for the front end before the oldest are dropped (and counted).
MAX_EVENTS: Final = 4096
#: Seconds after connecting before a dial string's digits go out.
DIGITS_DELAY: Final = 0.5

#: ``(call) -> (source, sink)``: what a call sends and plays.
AudioFactory = Callable[[PhoneCall], tuple[object, object]]
#: ``(call, what, engine, now)``: told when a call's audio has something to
#: do besides its stream (``ringing``, ``early``, ``media``, ``connected``,
#: ``ended``), for local tones and recordings.
AudioHook = Callable[[PhoneCall, str, MediaEngine, float], None]


class PhoneCore:
    """The phone's decisions (see the module docstring).  ``audio`` gives
    each call its source and sink (silence and nothing by default)."""

    def __init__(self, ua: UserAgent, engine: MediaEngine, config: PhoneConfig, *,
                 rng: RandomSource, audio: AudioFactory | None = None,
                 audio_hook: AudioHook | None = None) -> None:  # fmt: skip
        self.ua = ua
        self.engine = engine
        self.config = config
        self._rng = rng
        self._audio = audio
        self._audio_hook = audio_hook
        #: The last SIP messages sent and received.
        self.sip_log = SipLog()
        self._lines: dict[int, PhoneCall] = {}
        self._by_sip: dict[Call, PhoneCall] = {}
        self._by_port: dict[object, PhoneCall] = {}
        self._events: deque[tuple[PhoneEvent, PhoneCall | None]] = deque()
        self.events_dropped = 0
        #: The main account's registration and the extra accounts'.
        self.accounts = Registrations(ua, config, self._emit)
        #: Instant messages in and out.
        self.messaging = Messaging(ua, self._emit, rng)
        #: The local conference (its calls meet in one mixer).
        self.room = LocalConference(config.media.sample_rate if config.media else 16000)
        #: The commands on calls in progress, and what the peer does in them.
        self.control = CallControl(self)
        #: Presence and busy lamps, ours and the peers'.
        self.presence = PhonePresence(self)
        self.presence.offer_dialogs()
        self.history: deque[PhoneCall] = deque(maxlen=100)  # recent ended calls
        #: The line the line-less commands act on (0: the best one, see :meth:`line`).
        self.current_line = 0
        self.last_sent_invite = b""
        self._next_callid: str | None = None  # drawn by next_callid(), used by the next call
        self._now = 0.0  # the time of the event in hand (state changes act on it)
        self.last_received_invite = b""

    # -- the SIP machine shape (the driver runs the phone in place of the UA) -------------
    def receive_datagram(self, data: bytes, addr: Address, now: float) -> None:
        """A SIP datagram; then the phone's decisions."""
        self.sip_log.add(now, RECEIVED, addr, data)
        self.ua.receive_datagram(data, addr, now)
        self.process(now)

    def receive_data(self, data: bytes, addr: Address, now: float) -> None:
        """SIP octets from a connection; then the phone's decisions."""
        self.sip_log.add(now, RECEIVED, addr, data)
        self.ua.receive_data(data, addr, now)
        self.process(now)

    def transport_error(self, addr: Address, now: float) -> None:
        """Nothing listens at ``addr`` (ICMP): its transactions fail at once."""
        self.ua.transport_error(addr, now)
        self.process(now)

    def connection_lost(self, addr: Address, now: float) -> None:
        """A SIP connection went."""
        self.ua.connection_lost(addr, now)
        self.process(now)

    def connections_to_close(self) -> list[object]:
        """The SIP connections to close."""
        return list(self.ua.connections_to_close())

    def datagrams_to_send(self, now: float) -> list[Datagram]:
        """SIP to send."""
        out = self.ua.datagrams_to_send(now)
        for data, addr in out:
            self.sip_log.add(now, SENT, addr, data)
        return out

    def get_timer(self) -> float | None:
        """The UA's next deadline, or a call's (ring/setup timeout, digits)."""
        due = [self.ua.get_timer(), self.presence.publisher.get_timer()]
        for call in self._lines.values():
            due += [call.deadline, call.digits_at, call.answer_at]
        return min((d for d in due if d is not None), default=None)

    def handle_timer(self, now: float) -> None:
        """Fire the UA's timers and the calls' own."""
        self.ua.handle_timer(now)
        self.presence.publisher.handle_timer(now)
        for call in list(self._lines.values()):
            if call.answer_at is not None and now >= call.answer_at:
                call.answer_at = None
                if call.state == "ringing":
                    self.accept(call.line, now)
            if call.deadline is not None and now >= call.deadline:
                call.deadline = None
                forward = self.config.callforwardonnoanswer
                if call.direction == INCOMING and call.sip is not None and forward:
                    self.forward(call.line, forward, now, reason="forwardonnoanswer")
                elif call.direction == INCOMING and call.sip is not None:
                    # Nobody answered: 480 Temporarily Unavailable (RFC 3261 §21.4.18).
                    call.reason, call.discparty = call.reason or "ring timeout", DISC_TIMEOUT
                    self.ua.reject(call.sip, now, 480)
                else:
                    self._hang_up(call, now, "call setup timeout", DISC_TIMEOUT)
            if call.digits_at is not None and now >= call.digits_at:
                call.digits_at = None
                digits, call.digits = call.digits, ""
                if digits:
                    self.control.dtmf(call.line, digits, now)
        self.process(now)

    def next_event(self) -> PhoneEvent | None:
        """The next phone event, or None."""
        return self._events.popleft()[0] if self._events else None

    def next_call_event(self) -> tuple[PhoneEvent, PhoneCall | None] | None:
        """The next phone event with the call it is about (None for the
        account's), or None: a line number is taken again by the next call
        as soon as it is free, so the front ends go by the call."""
        return self._events.popleft() if self._events else None

    # -- the account -------------------------------------------------------------------
    @property
    def registration(self) -> RegisterClient | None:
        """The main account's registration (None before :meth:`register`)."""
        return self.accounts.registration

    @property
    def extra(self) -> ExtraAccounts:
        """The accounts registered beside the main one (``registerex``)."""
        return self.accounts.extra

    @property
    def reg_state(self) -> str:
        """The main account's state: ``unregistered``, ``registered`` or ``failed``."""
        return self.accounts.state

    @property
    def reg_reason(self) -> str:
        """Why the main account's registration failed (``""`` unless it did)."""
        return self.accounts.reason

    # -- lines -----------------------------------------------------------------------
    @property
    def calls(self) -> list[PhoneCall]:
        """The calls on the lines, by line number."""
        return [self._lines[n] for n in sorted(self._lines)]

    def line(self, line: int = -1) -> PhoneCall:
        """The call on ``line`` (-1: the current line set by :meth:`setline`,
        else the best one: connected, else ringing, else the newest);
        :class:`~sansip.errors.LocalProtocolError` if none."""
        if line < 0 and self.current_line in self._lines:
            line = self.current_line
        if line > 0:
            call = self._lines.get(line)
            if call is None:
                raise LocalProtocolError(f"no call on line {line}")
            return call
        order = {"connected": 0, "ringing": 1, "setup": 2}
        calls = sorted(self._lines.values(), key=lambda c: (order.get(c.state, 3), -c.started))
        if not calls:
            raise LocalProtocolError("no call")
        return calls[0]

    def setline(self, line: int | str) -> int:
        """Make ``line`` (a number, a Call-ID or a peer's user name) the one
        the line-less commands act on; -1/-2 go back to the best line.
        Returns the line chosen (0 when nothing matched)."""
        if isinstance(line, int) or str(line).lstrip("-").isdigit():
            number = int(line)
            self.current_line = number if number > 0 else 0
            return number
        for call in self._lines.values():
            if line in (call.callid, call.peername):
                self.current_line = call.line
                return call.line
        return 0

    def callid_to_line(self, callid: str) -> int:
        """The line of the call with ``callid``, or -1."""
        return next((c.line for c in self._lines.values() if c.callid == callid), -1)

    def _free_line(self) -> int | None:
        for number in range(1, self.config.maxlines + 1):
            if number not in self._lines:
                return number
        return None

    # -- registration -----------------------------------------------------------------
    def register(self, now: float) -> None:
        """Register the account at ``serveraddress`` (and keep it fresh)."""
        self.accounts.register(now)

    def set_headers(self, text: str) -> None:
        """The extra headers of every request sent from now on (see
        ``setsipheader``): ``"Name: value"`` items separated by ``;`` or line
        ends add or replace; ``"Name:"`` removes one; ``""`` removes all."""
        headers = merge_headers(self.ua.config.extra_headers, text)
        self.ua.config = replace(self.ua.config, extra_headers=headers)

    def unregister(self, now: float) -> None:
        """Remove the account's binding."""
        self.accounts.unregister(now)

    # -- calls -------------------------------------------------------------------------
    def call(
        self,
        target: str,
        now: float,
        *,
        targets: list[Address] | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        referred: bool = False,
    ) -> PhoneCall:
        """Call ``target``: a user at ``serveraddress``, or a ``sip:`` URI; a
        dial string ``number,digits`` sends the digits after connect;
        ``headers`` go in the INVITE; a ``referred`` call (a transfer's)
        is placed even to a peer we are in a call with.
        ``targets``: the addresses the URI's host name resolved to, tried in
        order (RFC 3263)."""
        number, _, digits = target.partition(",")
        uri = with_transport(self.target_uri(number.strip()), self.config.transport)
        if (
            self.config.disablesamecall
            and not referred
            and any(c.peername == (uri.user or "") for c in self._lines.values())
        ):
            raise LocalProtocolError(f"already in a call with {number}")
        line = self._free_line()
        if line is None:
            raise LocalProtocolError("all lines are busy")
        call = PhoneCall(line, OUTGOING, uri.user or str(uri), "", now=now)
        call.digits = digits.strip()
        call.target = uri
        call.targets = targets
        call.explicit_uri = number.strip().lower().startswith(("sip:", "sips:"))
        call.invite_headers = headers
        self._lines[line] = call
        self._emit_state(call, "setup")
        if self.config.media is None:
            self._invite(call, self._no_media_sdp(), now)
        else:
            self._open_media(call)
        return call

    def accept(self, line: int, now: float) -> None:
        """Answer the incoming call on ``line``."""
        call = self.line(line)
        if call.direction != INCOMING or call.sip is None or call.state != "ringing":
            raise LocalProtocolError(f"nothing to accept on line {call.line}")
        call.accept_requested = True
        if call.media is not None or self.config.media is None:
            self._answer(call, now)

    def reject(self, line: int, now: float, status: int = 486) -> None:
        """Refuse the incoming call on ``line`` (486 Busy Here by default)."""
        call = self.line(line)
        if call.direction != INCOMING or call.sip is None or call.sip.final is not None:
            raise LocalProtocolError(f"nothing to reject on line {call.line}")
        call.reason, call.discparty = "rejected", DISC_LOCAL
        self.ua.reject(call.sip, now, status)

    def forward(self, line: int, number: str, now: float, *, reason: str = "forward") -> None:
        """Send the unanswered incoming call on ``line`` to ``number`` (a
        number at the server or a URI): 302 with it as the Contact."""
        call = self.line(line)
        if call.direction != INCOMING or call.sip is None or call.sip.final is not None:
            raise LocalProtocolError(f"nothing to forward on line {call.line}")
        call.reason, call.discparty = reason, DISC_LOCAL
        self.ua.redirect(call.sip, [self.target_uri(number.strip())], now)

    def hangup(self, line: int, now: float) -> None:
        """End the call on ``line`` (-2: every call): BYE, CANCEL or 486."""
        calls = list(self._lines.values()) if line == -2 else [self.line(line)]
        for call in calls:
            self._hang_up(call, now, "User Hung Up", DISC_LOCAL)

    # -- events ------------------------------------------------------------------------
    def process(self, now: float) -> None:
        """Turn the UA's and the engine's events into decisions and phone events."""
        self._now = now
        while (event := self.ua.next_event()) is not None:
            if isinstance(event, IncomingCall):
                self._incoming(event.call, now)
            elif isinstance(event, SipCallStateChanged):
                self._sip_state(event.call, event.new, event.reason, now)
            elif isinstance(event, EarlyMediaReceived):
                self.control.early_media(event.call, event.sdp, now)
            elif isinstance(event, OfferReceived):
                self.control.offer(event.call, event.sdp, now)
            elif isinstance(event, SessionUpdated):
                self.control.updated(event.call, event.remote_sdp, event.by_peer, now)
            elif isinstance(event, ModificationFailed):
                call = self._by_sip.get(event.call)
                if call is not None and call.media is not None:
                    call.media.cancel_offer()  # the previous session stays
                    call.hold_pending = None
            elif isinstance(event, Registered | RegistrationFailed | Unregistered):
                self.accounts.handle(event)
            elif isinstance(event, RequestArrived):
                self.control.arrived(event, now)
            elif isinstance(event, ReferReceived | TransferProgress):
                self.control.transfers.on_event(event, now)
            elif isinstance(event, NotificationReceived | SubscriptionEnded):
                self.presence.on_event(event)
            elif isinstance(event, RequestCompleted):
                if not self.messaging.completed(event):
                    self.presence.publisher.completed(event, now)
            elif isinstance(event, RegistrationStateChanged):
                pass  # followed through Registered/Failed
            # MessageDropped: counted by the UA
        while (media_event := self.engine.next_event()) is not None:
            call = self._by_port.get(media_event.port)
            if call is None:
                continue
            if isinstance(media_event, PortsOpened):
                self._media_ready(call, now)
            elif isinstance(media_event, PortsFailed):
                self._emit(PhoneWarning(media_event.reason, call.line), call)
                self._hang_up(call, now, "cannot start media", DISC_LOCAL)
            elif isinstance(media_event, StreamFailed):
                call.media_failure = f"media stream failed: {media_event.reason}"
                self._emit(PhoneWarning(call.media_failure, call.line), call)
            elif isinstance(media_event, StreamReported):
                inner = media_event.event
                if isinstance(inner, RtpDtmf):
                    self._emit(DtmfReceived(call.line, call.callid, inner.digit), call)
                elif isinstance(inner, MediaTimedOut):
                    call.media_timed_out = True
                    self._hang_up(call, now, "media timeout", DISC_TIMEOUT)
                elif isinstance(inner, EncryptionFailed):  # DTLS-SRTP: no keys, no media
                    self._emit(PhoneWarning(f"DTLS-SRTP: {inner.reason}", call.line), call)
                    self._hang_up(call, now, "srtp fail", DISC_LOCAL)
                elif isinstance(inner, RecordingFailed):  # the recording stops; the call goes on
                    call.recording_failure = f"{inner.path}: {inner.reason}"
                    self._emit(PhoneWarning(f"recording stopped: {call.recording_failure}",
                                            call.line), call)  # fmt: skip

    # -- internals: call flow -------------------------------------------------------------
    def next_callid(self) -> str:
        """The Call-ID the next outgoing call will have."""
        if self._next_callid is None:
            self._next_callid = new_call_id(self._rng, self.ua.endpoint.config.sent_by[0])
        return self._next_callid

    def destination(self, number: str, now: float) -> tuple[SipURI, Address | None]:
        """The URI of ``number`` (a number at the server, or a ``sip:`` URI)
        and where a request to it outside any call goes (None: the UA's
        choice, the outbound proxy or the URI's own address)."""
        number = number.strip()
        uri = with_transport(self.target_uri(number), self.config.transport)
        probe = PhoneCall(-1, OUTGOING, uri.user or "", "", now=now)
        probe.explicit_uri = number.lower().startswith(("sip:", "sips:"))
        dest, targets = route_of(
            self.config, probe, proxied=self.ua.config.outbound_proxy is not None
        )
        return uri, (targets[0] if targets else dest)

    def target_uri(self, number: str) -> SipURI:
        """The URI a call to ``number`` (a number, or a ``sip:`` URI) goes to."""
        return target_uri(self.config, number)

    def _open_media(self, call: PhoneCall) -> None:
        options = self.config.media
        if options is None:
            raise LocalProtocolError("the phone has no media options")
        port = self.engine.open_ports(options.host)
        call.port = port
        self._by_port[port] = call

    def _media_ready(self, call: PhoneCall, now: float) -> None:
        options = self.config.media
        assert options is not None and call.port is not None
        source, sink = self._audio(call) if self._audio is not None else (None, None)
        if source is None or sink is None:
            source = source or SilenceSource(options.sample_rate)
            sink = sink or NullSink()
        call.build_media(options, call.port, self._rng, source, sink)
        if call.direction == OUTGOING and call.sip is None and call.state == "setup":
            assert call.media is not None
            self._invite(call, call.media.offer(), now)
        elif call.direction == INCOMING and call.sip is not None:
            self._hook(call, "ringing", now)
            if call.accept_requested:
                self._answer(call, now)
            elif self.config.earlymedia >= 3 and call.state == "ringing":
                self._early_answer(call, call.sip, now)

    def _invite(self, call: PhoneCall, sdp: bytes, now: float) -> None:
        """Send the INVITE of an outgoing call: through the proxy's or the
        server's addresses, or the URI's own (resolved) ones."""
        assert isinstance(call.target, SipURI)
        config = self.config
        dest, targets = route_of(config, call, proxied=self.ua.config.outbound_proxy is not None)
        call_id, self._next_callid = self._next_callid, None
        sip = self.ua.call(call.target, now, sdp=sdp, dest=dest, targets=targets, call_id=call_id,
                           headers=call.invite_headers)  # fmt: skip
        self.last_sent_invite = bytes(sip.invite)
        self._bind(call, sip)
        if config.calltimeout > 0:
            call.deadline = now + config.calltimeout

    def _no_media_sdp(self) -> bytes:
        return no_media_sdp(self.ua.endpoint.config.local[0])

    def _early_answer(self, call: PhoneCall, sip: Call, now: float) -> None:
        """``earlymedia`` 3+: answer the offer in a 183 now, so media flows while it rings."""
        try:
            call.early_sdp = call.answer_sdp(sip.invite.body, now)
        except RemoteProtocolError:
            return  # refused when accepted (488), not while ringing
        self.ua.progress(sip, now, sdp=call.early_sdp)
        self._start_media(call, now)

    def _start_media(self, call: PhoneCall, now: float) -> None:
        if call.start_media(self.engine, now):
            self._hook(call, "media", now)

    def _hook(self, call: PhoneCall, what: str, now: float) -> None:
        if self._audio_hook is not None:
            self._audio_hook(call, what, self.engine, now)

    def _bind(self, call: PhoneCall, sip: Call) -> None:
        call.sip = sip
        self._by_sip[sip] = call

    def _incoming(self, sip: Call, now: float) -> None:
        self.last_received_invite = bytes(sip.invite)
        peer = sip.peer_name
        if peer in self.config.blacklist:
            self.ua.reject(sip, now, 603)
            return
        busy = any(c.state in ("connected", "ringing", "setup") for c in self._lines.values())
        line = self._free_line()
        rule = forward_rule(self.config, busy=busy)
        if line is None or (busy and self.config.rejectonbusy and rule is None):
            self.ua.reject(sip, now, 486)
            return
        asserted = caller_identity(sip.invite)  # P-Asserted-Identity, Remote-Party-ID
        peer, display = asserted if asserted is not None else (peer, sip.peer_display_name)
        call = PhoneCall(line, INCOMING, peer, display, now=now)
        self._lines[line] = call
        self._bind(call, sip)
        replaced = self._by_sip.get(sip.replaces) if sip.replaces is not None else None
        if rule is not None:
            self.forward(line, rule[0], now, reason=rule[1])
            return
        media = self.config.media
        refusal = offer_refusal(sip.invite.body, media, self._host) if (
            media is not None and media.encryption and sip.invite.body) else None  # fmt: skip
        if refusal is not None:  # e.g. SRTP required, plain RTP offered: no ringing
            call.reason, call.discparty = PhoneCall.refusal(refusal), DISC_LOCAL
            self.ua.reject(sip, now, refusal.status, warning=PhoneCall.warning(refusal, self._host))
            return
        self.ua.ring(sip, now)
        self._emit_state(call, "ringing")
        config = self.config
        if config.callforwardonnoanswer:
            call.deadline = now + config.callforwardonnoanswertimeout
        elif config.ringtimeout > 0:
            call.deadline = now + config.ringtimeout
        delay = 0.0 if config.autoaccept or replaced else auto_answer_delay(sip.invite, config)
        call.replacing = replaced  # RFC 3891: answered at once, the old call ends then
        call.accept_requested = delay == 0.0
        if delay:
            call.answer_at = now + delay
        if self.config.media is None:
            if call.accept_requested:
                self._answer(call, now)
        else:
            self._open_media(call)

    def _answer(self, call: PhoneCall, now: float) -> None:
        sip = call.sip
        assert sip is not None
        if call.media is None:  # signalling only
            self.ua.answer(sip, now, sdp=self._no_media_sdp())
            return
        try:
            sdp = call.early_sdp or call.answer_sdp(sip.invite.body, now)
        except RemoteProtocolError as exc:
            call.reason, call.discparty = PhoneCall.refusal(exc), DISC_LOCAL
            self.ua.reject(sip, now, exc.status, warning=PhoneCall.warning(exc, self._host))
            return
        if self.config.autohold:
            for other in self._lines.values():
                if other is not call and other.state == "connected" and not other.on_hold:
                    self.control.hold(other.line, now)
        self.ua.answer(sip, now, sdp=sdp)
        self._start_media(call, now)

    def _sip_state(self, sip: Call, new: CallState, reason: str, now: float) -> None:
        call = self._by_sip.get(sip)
        if call is None:
            return
        if new is CallState.RINGING:
            self._emit_state(call, "ringing")
            if call.direction == OUTGOING:
                self._hook(call, "ringing", now)
        elif new is CallState.CONNECTED:
            call.deadline = None
            call.connected_at = now
            if call.direction == OUTGOING and call.media is not None:
                if not call.media_started:
                    problem = call.take_answer(sip.remote_sdp, now)
                elif sip.remote_sdp and sip.remote_sdp != sip.early_sdp:
                    # The 2xx answers otherwise than the early media did (another fork).
                    problem = call.take_answer(sip.remote_sdp, now, replace=True)
                else:
                    problem = None
                if problem is not None:
                    self._emit(PhoneWarning(f"bad SDP answer: {problem}", call.line), call)
                    self._hang_up(call, now, PhoneCall.unusable(problem), DISC_LOCAL)
                    return
            self._start_media(call, now)
            self._hook(call, "connected", now)
            self._emit_state(call, "connected")
            if call.join_conference and call.to_peer is not None:
                self.room.join(call)
            if call.digits:
                call.digits_at = now + DIGITS_DELAY
        elif new is CallState.DISCONNECTED:
            self._ended(call, sip, reason, now)

    def _hang_up(self, call: PhoneCall, now: float, reason: str, party: int) -> None:
        if call.state == "disconnected":
            return
        call.reason = call.reason or reason
        call.discparty = call.discparty or party
        sip = call.sip
        if sip is None:  # no INVITE yet: the media was still being opened
            self._ended(call, None, reason, now)
            return
        self.ua.hangup(sip, now)
        if sip.cancel_pending:
            # Nothing came back yet: the UA CANCELs once a provisional response
            # arrives (RFC 3261 §9.1), or lets timer B end it; the line is free now.
            self._ended(call, sip, reason, now)

    def _ended(self, call: PhoneCall, sip: Call | None, sip_reason: str, now: float) -> None:
        if call.state == "disconnected":
            return
        call.ended_at = now
        call.deadline = call.digits_at = None
        if not call.discparty:
            call.discparty = DISC_REMOTE
        call.reason = reason_text(sip, call.reason or sip_reason)
        call.final_stats = call.stats(now)
        if call.port is not None:
            self.engine.close(call.port, now)
            self._by_port.pop(call.port, None)
        if sip is not None:
            self._by_sip.pop(sip, None)
        self._lines.pop(call.line, None)
        self.room.leave(call)
        self._hook(call, "ended", now)
        self._emit_state(call, "disconnected", call.reason)
        self.history.append(call)
        account = self.config.username
        self._emit(CallEnded(call.record(account, self.engine.wall_clock_offset)), call)

    @property
    def _host(self) -> str:
        return self.config.media.host if self.config.media is not None else "sansip"

    # -- internals: events ----------------------------------------------------------------
    def _emit_state(self, call: PhoneCall, state: str, reason: str = "") -> None:
        if call.state == state and state != "setup":
            return
        call.state = state
        if state != "setup":
            self.control.transfers.call_state(call, state, self._now)
        self.presence.call_changed(call, self._now)
        self._emit(CallStateChanged(state, call.direction, call.peername, call.peerdisplayname,
                                    call.line, call.callid, reason), call)  # fmt: skip

    def _emit(self, event: PhoneEvent, call: PhoneCall | None = None) -> None:
        if len(self._events) >= MAX_EVENTS:
            self._events.popleft()
            self.events_dropped += 1
        self._events.append((event, call))
