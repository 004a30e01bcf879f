"""What the phone's front ends (asyncio, threads, trio) share: building the
:class:`~sansip.phone.core.PhoneCore` and its driver from the parameters,
one call object per line, the reference client's callbacks, and turning
the core's events into call-object updates.  A front end supplies only how
its loop runs a command and waits."""

from __future__ import annotations

import os
import random
import secrets
import ssl
import threading
from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Generic, TypeVar

from sansip.dialog.ua import UserAgent
from sansip.dtls import generate_certificate
from sansip.io.driver import Driver
from sansip.io.tls import sip_client_context, sip_server_context
from sansip.media.engine import MediaEngine
from sansip.message import SipURI
from sansip.phone.audio import AudioPlan, PlannedAudio
from sansip.phone.config import PhoneSetup, parameters_of, phone_setup
from sansip.phone.core import PhoneCore
from sansip.phone.events import (
    INCOMING,
    CallEnded,
    CallRecord,
    CallStateChanged,
    DtmfReceived,
    PhoneEvent,
    RegistrationUpdated,
    RegStateChanged,
)
from sansip.phone.history import History, default_history_path
from sansip.phone.line import PhoneCall
from sansip.phone.notify import ReferenceCallbacks
from sansip.phone.params import Parameters
from sansip.phone.resolve import Resolved, is_numeric, resolve_hostport, resolve_uri
from sansip.phone.vocabulary import Vocabulary
from sansip.sdp.sdes import Encryption
from sansip.transaction.endpoint import EndpointConfig
from sansip.transport.types import Address, Transport

__all__ = ["CallHandle", "FrontEnd"]

P = TypeVar("P", bound="FrontEnd[Any]")
T = TypeVar("T")
#: Where a phone keeps its history: a path, True (the default file), a store, or None.
HistoryOption = str | os.PathLike[str] | History | bool | None


def _open_history(option: HistoryOption) -> History | None:
    if option is None or option is False:
        return None
    if isinstance(option, History):
        return option
    return History(default_history_path() if option is True else option)


C = TypeVar("C", bound="CallHandle")


class CallHandle:
    """A call as the user holds it: the reference client's call commands
    on one line.  The front ends add waiting (``connected()``, ``ended()``)
    and audio queues their loop can use."""

    def __init__(self, phone: FrontEnd[Any], call: PhoneCall) -> None:
        self._phone = phone
        self._call = call
        self.record: CallRecord | None = None
        self.dtmf_received = ""

    @property
    def line(self) -> int:
        """The line number (1..N)."""
        return self._call.line

    @property
    def state(self) -> str:
        """``setup``, ``ringing``, ``connected`` or ``disconnected``."""
        return self._call.state

    @property
    def direction(self) -> int:
        """1 outgoing, 2 incoming."""
        return self._call.direction

    @property
    def callid(self) -> str:
        """The SIP Call-ID."""
        return self._call.callid

    @property
    def peername(self) -> str:
        """Who the other party is (the user part of its URI)."""
        return self._call.peername

    @property
    def peerdisplayname(self) -> str:
        """The other party's display name (``""`` if none)."""
        return self._call.peerdisplayname

    @property
    def on_hold(self) -> bool:
        """Whether the last negotiation put the call on hold."""
        return self._call.on_hold

    @property
    def holds(self) -> int:
        """How many of our hold re-offers the peer accepted."""
        return self._call.holds

    @property
    def resumes(self) -> int:
        """How many of our resume re-offers the peer accepted."""
        return self._call.resumes

    @property
    def media_timed_out(self) -> bool:
        """Whether the call ended because no RTP came for ``mediatimeout`` seconds."""
        return self._call.media_timed_out

    @property
    def media_failure(self) -> str:
        """Why the call's media stream failed (``""`` if it did not)."""
        return self._call.media_failure

    @property
    def recording_failure(self) -> str:
        """Why the call's recording stopped early (``""`` if it did not)."""
        return self._call.recording_failure

    def stats(self) -> dict[str, Any]:
        """The call's media figures now: codec, RTP packets sent, received
        and lost, jitter, round-trip time and MOS, frames concealed, packets
        rejected (``{}`` before its media starts)."""
        if self._call.final_stats is not None:
            return dict(self._call.final_stats)
        return dict(self._phone._command(lambda core, now: self._call.stats(now)))

    def accept(self) -> None:
        """Answer this incoming call."""
        self._phone._command(lambda core, now: core.accept(self.line, now))

    def reject(self, status: int = 486) -> None:
        """Refuse this incoming call (486 Busy Here by default)."""
        self._phone._command(lambda core, now: core.reject(self.line, now, status))

    def hangup(self) -> None:
        """End the call (BYE, CANCEL or a refusal, as fits)."""
        if self.state != "disconnected":
            self._phone._command(lambda core, now: core.hangup(self.line, now))

    def hold(self) -> None:
        """Put the call on hold (a sendonly re-offer)."""
        self._phone._command(lambda core, now: core.control.hold(self.line, now))

    def resume(self) -> None:
        """Take the call off hold."""
        self._phone._command(lambda core, now: core.control.hold(self.line, now, resume=True))

    def dtmf(self, digits: str) -> None:
        """Send RFC 4733 digits."""
        self._phone._command(lambda core, now: core.control.dtmf(self.line, digits, now))

    def _event(self, event: PhoneEvent) -> None:
        """The phone tells the call what happened to it."""
        if isinstance(event, CallStateChanged) and event.state == "connected":
            self._connected()
        elif isinstance(event, DtmfReceived):
            self.dtmf_received += event.digit
        elif isinstance(event, CallEnded):
            self.record = event.record
            self._ended()

    # Set by each front end with its loop's primitives (an Event-like object
    # with set(), a frame sink with close(), an outbound frame queue).
    _is_connected: Any
    _is_ended: Any
    _settled: Any  # set once connected or ended: what connected() waits for
    _audio_in: Any
    audio_out: Any

    def _connected(self) -> None:
        """The call is connected: wake the waiters."""
        self._is_connected.set()
        self._settled.set()

    def _ended(self) -> None:
        """The call ended: wake the waiters, end the audio iteration."""
        self._is_ended.set()
        self._settled.set()
        self._audio_in.close()

    def _audio(self) -> tuple[object, object]:
        """The call's source and sink."""
        return self.audio_out, self._audio_in


class FrontEnd(Vocabulary, Generic[C]):
    """The loop-independent part of a phone (see the module docstring),
    configured with the reference client's parameter names, as keywords or
    ``params``."""

    def __init__(self, params: Mapping[str, object] | None = None, *,
                 rng: random.Random | None = None, history: HistoryOption = None,
                 nameservers: list[Address] | None = None,
                 tls_client: ssl.SSLContext | None = None, tls_server: ssl.SSLContext | None = None,
                 audio: AudioPlan | None = None, **kwargs: object) -> None:  # fmt: skip
        #: The call history, contacts and persisted parameters (``history``:
        #: a path, True for the default file, a History, or None for none).
        self.history: History | None = _open_history(history)
        self._own_history = self.history is not None and not isinstance(history, History)
        self._history_lock = threading.Lock()  # the store is used from one thread at a time
        persisted = self.history.load_parameters() if self.history is not None else {}
        #: The parameters in force (checked: a bad name or value raises
        #: :class:`~sansip.phone.params.ParameterError` here).
        self.parameters: Parameters = parameters_of({**persisted, **(params or {}), **kwargs})
        self.setup: PhoneSetup = phone_setup(self.parameters)
        self._rng = rng if rng is not None else secrets.SystemRandom()
        self._nameservers = nameservers or self.setup.nameservers  # None: the system's
        #: What each call sends and hears instead of its frame queues.
        self.audio_plan = audio
        if audio is not None:
            audio.check()
        self._tls_names: dict[str, str] = {}  # address -> the name its certificate must have
        self._planned: PlannedAudio | None = None  # the plan at work, once started
        # TLS (transport 2): how the peers' certificates are checked (default:
        # the system's trust store, or ``tlscafile``; host names verified) and
        # this phone's own certificate for connections made to it
        # (``tlscertfile``; none: it listens on plain TCP).
        self._tls_client = tls_client
        self._tls_server = tls_server
        #: Our own client context checks names the SIP way (RFC 5922); one
        #: given by the caller checks what it was made to check.
        self._tls_sip_names = tls_client is None
        if self.setup.transport is Transport.TLS:
            cert = self.parameters.get_str("tlscertfile")
            key = self.parameters.get_str("tlskeyfile") or None
            self._tls_client = tls_client or sip_client_context(
                self.parameters.get_str("tlscafile") or None, cert or None, key
            )
            if tls_server is None and cert:
                self._tls_server = sip_server_context(cert, key)
        self._driver: Driver | None = None
        self._core: PhoneCore | None = None
        self._calls: dict[PhoneCall, C] = {}  # the calls going on, by the core's call
        self._callbacks = ReferenceCallbacks()
        self.reg_state = "unregistered"
        self.reg_reason = ""
        self._init_loop()

    def _init_loop(self) -> None:
        """What the front end's loop needs besides (queues, events)."""

    @property
    def core(self) -> PhoneCore:
        """The sans-IO phone (its lines, configuration, recent calls)."""
        assert self._core is not None, "start() first"
        return self._core

    # -- what a loop supplies ------------------------------------------------------------
    @abstractmethod
    def _new_call(self, call: PhoneCall) -> C:
        """The loop's call object for ``call``."""

    def _incoming_call(self, handle: C) -> None:
        """An incoming call rings (front ends queue it for ``incoming()``)."""

    # -- building ------------------------------------------------------------------------
    def _build(self, driver_type: type[Driver]) -> Driver:
        """The engine and the (not yet started) driver of this phone."""
        self._engine = MediaEngine(rng=self._rng)
        if self.setup.transport is Transport.TLS:
            self._driver = driver_type(None, self.setup.local, media=self._engine,  # type: ignore[call-arg]
                                       tls_client=self._tls_client, tls_server=self._tls_server,
                                       tls_hostnames=self._tls_names,
                                       check_sip_domain=self._tls_sip_names)  # fmt: skip
        else:
            self._driver = driver_type(None, self.setup.local, media=self._engine)
        return self._driver

    @property
    def _names_to_resolve(self) -> bool:
        """Whether ``serveraddress`` or ``proxyaddress`` is a host name."""
        return self.setup.resolve is not None or bool(self.setup.resolve_proxy)

    async def _resolve_names(self) -> None:
        """A ``serveraddress`` or ``proxyaddress`` that is a name: its
        addresses by RFC 3263 (NAPTR/SRV, then A/AAAA) on asyncio, tried in
        order; the URIs keep the name.  Raises
        :class:`~sansip.phone.resolve.TargetError`."""
        setup = self.setup
        core, ua = setup.core, setup.ua
        if setup.resolve_proxy:
            found = await self._resolve(resolve_hostport(
                setup.resolve_proxy, setup.transport, setup.local, self._nameservers))  # fmt: skip
            core = replace(core, proxy_targets=tuple(found.addresses))
            ua = replace(ua, outbound_proxy=found.addresses[0])
        if setup.resolve is not None and not core.proxy_targets:
            found = await self._resolve(resolve_uri(setup.resolve, setup.transport, setup.local,
                                                    self._nameservers))  # fmt: skip
            core = replace(core, serveraddress=found.addresses[0],
                           server_targets=tuple(found.addresses))  # fmt: skip
        self.setup = replace(setup, core=core, ua=ua)

    async def _resolve(self, resolving: Any) -> Resolved:
        found: Resolved | None = await resolving
        assert found is not None  # only names are resolved
        self._tls_names.update(found.hostnames)
        return found

    def _needs_targets(self, target: str) -> SipURI | None:
        """The URI of a call to ``target`` when its host is a name to
        resolve (a ``sip:`` URI, no outbound proxy), else None."""
        number = target.partition(",")[0].strip()
        if not number.lower().startswith(("sip:", "sips:")) or self.setup.ua.outbound_proxy:
            return None
        uri = self.core.target_uri(number)
        return None if is_numeric(uri.params.get("maddr") or uri.host) else uri

    async def _call_targets(self, uri: SipURI, local: Address) -> list[Address]:
        """The addresses a call to ``uri`` tries, in order (RFC 3263)."""
        found = await self._resolve(resolve_uri(uri, self.setup.transport, local,
                                                self._nameservers))  # fmt: skip
        return found.addresses

    def _attach_core(self, local: Address) -> PhoneCore:
        """Once the driver is bound on ``local``: the UA and the core, run by the driver."""
        assert self._driver is not None
        ua = UserAgent(EndpointConfig(local, self.setup.transport), self.setup.ua, rng=self._rng)
        planned = None
        if self.audio_plan is not None:
            rate = self.rate
            planned = PlannedAudio(self.audio_plan, self.parameters, rate)
        self._planned = planned
        config = self.setup.core
        media = config.media
        if media is not None and media.encryption is Encryption.DTLS and not media.certificate:
            media = replace(media, certificate=generate_certificate(self._rng))
            config = replace(config, media=media)  # DTLS-SRTP: this phone's certificate
        core = self._core = PhoneCore(
            ua, self._engine, config, rng=self._rng,
            audio=planned.open if planned else self._audio_for,
            audio_hook=planned.changed if planned else None,
        )  # fmt: skip
        self._driver.attach(core, self._on_activity)
        self._callbacks.app_state("started")
        return core

    def _command(self, action: Callable[[PhoneCore, float], Any]) -> Any:
        """Run ``action(core, now)`` now (an event loop's front end runs in the
        loop, where the core lives), then hand out the events it made."""
        driver, core = self._driver, self.core
        assert driver is not None, "start the phone first"
        result = driver._on_owner(lambda: action(core, driver.now()))
        self._on_activity()
        return result

    def _on_activity(self) -> None:
        """The driver reports input or engine events: the core's decisions,
        then its events to the call objects and callbacks (in the loop; the
        threaded front end does this on its dispatcher thread)."""
        core, driver = self._core, self._driver
        if core is None or driver is None:
            return
        for event, handle in self._drain(core, driver.now()):
            self._dispatch(event, handle)
        self._woken()
        driver.wake()

    def _woken(self) -> None:
        """Events were handed out (front ends wake their waiters)."""

    def _registration_settled(self) -> None:
        """The main account's registration state changed (front ends wake ``register()``)."""

    def _stored(self, action: Callable[[History], T]) -> T | None:
        """Run ``action`` on the history store, if there is one."""
        if self.history is None:
            return None
        with self._history_lock:
            return action(self.history)

    def _close_history(self) -> None:
        """The phone stopped: tell the callbacks; close the history file if the phone opened it."""
        self._callbacks.app_state("stopped")
        if self.history is not None and self._own_history:
            with self._history_lock:
                self.history.close()

    @property
    def rate(self) -> int:
        """The rate of the frames calls play and hear (``samplerate``, 16000 by default)."""
        media = self.setup.core.media
        return media.sample_rate if media is not None else 16000

    @property
    def udp(self) -> bool:
        """Whether SIP goes over UDP (else TCP or TLS)."""
        return self.setup.transport is Transport.UDP

    # -- the reference callbacks (each list accumulates; None clears it) -----------------
    def on_app_state_change(self, callback: Callable[[str], object] | None) -> None:
        """``callback(state)``: ``started`` once the phone runs, ``stopped`` after."""
        self._callbacks.add("app", callback)

    def on_reg_state_change(self, callback: Callable[[str, str], object] | None) -> None:
        """``callback(state, reason)`` on ``registered``/``unregistered``/``failed``."""
        self._callbacks.add("reg", callback)

    def on_call_state_change(self, callback: Callable[..., object] | None) -> None:
        """``callback(event, direction, peername, peerdisplayname, line, callid)``."""
        self._callbacks.add("call", callback)

    def on_dtmf(self, callback: Callable[[str, int], object] | None) -> None:
        """``callback(dtmf, line)`` for each digit received."""
        self._callbacks.add("dtmf", callback)

    def on_chat(self, callback: Callable[[str, str, int, str], object] | None) -> None:
        """``callback(from, msg, line, group)`` for each message received
        (``line`` -1 outside a call; ``group`` is ``""``: no group chats)."""
        self._callbacks.add("chat", callback)

    def on_presence_state_change(self, callback: Callable[..., object] | None) -> None:
        """``callback(peername, presence, displayname, email)`` for each
        presence a ``checkpresence`` subscription reports."""
        self._callbacks.add("presence", callback)

    def on_blf_state_change(self, callback: Callable[..., object] | None) -> None:
        """``callback(peername, direction, state, callid)`` for each busy
        lamp a ``checkblf`` subscription reports."""
        self._callbacks.add("blf", callback)

    def on_cdr(self, callback: Callable[..., object] | None) -> None:
        """``callback(caller, called, connecttime, duration, direction,
        peerdisplayname, reason, line, callid)`` when a call ends (times in ms)."""
        self._callbacks.add("cdr", callback)

    def on_event(self, callback: Callable[[str, str], object] | None) -> None:
        """``callback(type, message)``: type ``event`` with a notification
        string (``STATUS,...``, ``REGISTER,...``, ``DTMF,...``, ``CDR,...``,
        ``EVENT,WARNING,...``, ``START,sip``)."""
        self._callbacks.add("event", callback)

    def on_phone_event(self, callback: Callable[[PhoneEvent], object] | None) -> None:
        """``callback(event)`` with every phone event as its dataclass."""
        self._callbacks.add("phone", callback)

    # -- dispatch (never with a lock held) -------------------------------------------------
    def _audio_for(self, call: PhoneCall) -> tuple[object, object]:
        return self._handle(call)._audio()

    def _handle(self, call: PhoneCall) -> C:
        handle = self._calls.get(call)
        if handle is None:
            handle = self._calls[call] = self._new_call(call)
        return handle

    def _drain(self, core: PhoneCore, now: float) -> list[tuple[PhoneEvent, C | None]]:
        """Where the core lives: its decisions, and the events they made,
        each with the call object it is about."""
        core.process(now)
        events: list[tuple[PhoneEvent, C | None]] = []
        while (item := core.next_call_event()) is not None:
            event, call = item
            events.append((event, None if call is None else self._handle(call)))
        return events

    def _dispatch(self, event: PhoneEvent, handle: C | None) -> None:
        """Hand one event to its call object and the callbacks."""
        self._callbacks.fire(event, self.setup.core.username)
        if isinstance(event, RegStateChanged | RegistrationUpdated):
            # The main account's: every REGISTER answer settles a register()
            # (a refresh changes no state but is an answer all the same).
            if event.account == self.setup.core.username:
                reason = event.reason
                if isinstance(event, RegistrationUpdated) and event.state == "failed":
                    reason = f"{event.status} {event.reason}"
                self.reg_state, self.reg_reason = event.state, reason
                self._registration_settled()
            return
        ringing = isinstance(event, CallStateChanged) and event.state == "ringing"
        if handle is not None and ringing and handle.direction == INCOMING:
            self._incoming_call(handle)
        if isinstance(event, CallEnded):
            self._stored(lambda store: store.add_call(event.record))
        if handle is not None:
            handle._event(event)
            if isinstance(event, CallEnded):
                self._calls.pop(handle._call, None)
