"""Call transfer in a phone, sans-IO, on the UA's REFER (RFC 3515, 5589)
and Replaces (RFC 3891):

- ``transfer(number)`` (blind): the call is held (``transfertype`` -1, 5
  or 6), then REFERred to ``number``; when the peer's new call connects
  (the final NOTIFY says 2xx) the call ends with ``transfer done``; when it
  fails the call is resumed and a :class:`~sansip.phone.events.PhoneWarning`
  says why.  ``transfertype`` 1 ends the call as soon as the REFER is
  accepted, 7 neither holds nor ends it; 0 turns transfers off.
- ``transfer("")`` with two connected calls (attended): the other call's
  peer is REFERred to the current call's peer with a Replaces naming the
  current call, so they end up talking to each other.
- A REFER from the peer (``allowreplace`` aside, always followed): a new
  call to its target on a free line, carrying Referred-By and the Replaces
  it asked for; its ringing, answer or failure go back to the peer as
  NOTIFYs (ending the REFERring call is the transferor's, RFC 5589).
- An INVITE with Replaces naming one of our calls is answered at once and
  the replaced call ends when it connects.

Every step is reported as a :class:`~sansip.phone.events.TransferStatus`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sansip.dialog.call import Call, ReferReceived, TransferProgress
from sansip.errors import LocalProtocolError
from sansip.message import SipURI
from sansip.phone.events import DISC_LOCAL, PhoneWarning, TransferStatus
from sansip.phone.line import PhoneCall

if TYPE_CHECKING:
    from sansip.phone.core import PhoneCore

__all__ = ["PhoneTransfers"]


class PhoneTransfers:
    """The transfers of ``core``'s calls, ours and the peers' (see the module docstring)."""

    def __init__(self, core: PhoneCore) -> None:
        self.core = core
        self._ours: dict[Call, PhoneCall] = {}  # the SIP call we REFERred -> its line
        self._held: set[PhoneCall] = set()  # held for a transfer: resumed if it fails
        self._referred: dict[PhoneCall, Call] = {}  # a call a REFER asked for -> that REFER's

    @property
    def _mode(self) -> int:
        mode = self.core.config.transfertype
        return 6 if mode == -1 else mode

    # -- ours -------------------------------------------------------------------------
    def transfer(self, line: int, number: str, now: float) -> None:
        """Transfer the call on ``line`` to ``number``, or with ``""`` join
        the two connected calls (see the module docstring)."""
        core = self.core
        if self._mode == 0:
            raise LocalProtocolError("transfers are off (transfertype 0)")
        if not number.strip():
            self._join_two(line, now)
            return
        call = core.line(line)
        if call.sip is None or call.state != "connected":
            raise LocalProtocolError(f"no connected call on line {call.line}")
        uri = core.target_uri(number.strip())
        if self._mode in (5, 6) and not call.on_hold and call.media is not None:
            core.control.hold(call.line, now)
            self._held.add(call)
        core.ua.refer(call.sip, uri, now)
        self._ours[call.sip] = call

    def _join_two(self, line: int, now: float) -> None:
        core = self.core
        calls = [c for c in core.calls if c.state == "connected" and c.sip is not None]
        if len(calls) != 2:
            raise LocalProtocolError("transfer('') joins two connected calls: there are "
                                     f"{len(calls)}")  # fmt: skip
        current = core.line(line) if line > 0 else max(calls, key=lambda c: c.started)
        other = calls[0] if calls[1] is current else calls[1]
        assert current.sip is not None and other.sip is not None
        dialog = current.sip.dialog
        target = dialog.remote_target if dialog is not None else None
        if not isinstance(target, SipURI):
            raise LocalProtocolError(f"the call on line {current.line} has no SIP target")
        core.ua.refer(other.sip, target, now, replacing=current.sip)
        self._ours[other.sip] = other

    # -- the UA's events ----------------------------------------------------------------
    def on_event(self, event: ReferReceived | TransferProgress, now: float) -> None:
        """A REFER from a peer, or news of one of ours."""
        if isinstance(event, ReferReceived):
            self._refer_received(event, now)
        else:
            self._progress(event, now)

    def _progress(self, event: TransferProgress, now: float) -> None:
        core = self.core
        call = self._ours.get(event.call)
        if call is None:
            return
        core._emit(TransferStatus(call.line, call.callid, event.status, event.reason,
                                  event.final), call)  # fmt: skip
        ended = call.state == "disconnected"
        if self._mode == 1 and not ended and event.status < 300:
            self._done(call, now)  # blind: the REFER was taken
        elif event.final:
            del self._ours[event.call]
            if 200 <= event.status < 300 and not ended and self._mode != 7:
                self._done(call, now)
            elif event.status >= 300 and not ended:
                core._emit(PhoneWarning(f"transfer failed: {event.status} {event.reason}",
                                        call.line), call)  # fmt: skip
                if call in self._held:
                    self._held.discard(call)
                    core.control.hold(call.line, now, resume=True)

    def _done(self, call: PhoneCall, now: float) -> None:
        self._held.discard(call)
        self.core._hang_up(call, now, "transfer done", DISC_LOCAL)

    def _refer_received(self, event: ReferReceived, now: float) -> None:
        core = self.core
        origin = core._by_sip.get(event.call)
        if origin is None:
            core.ua.transfer_progress(event.call, 481, "Call Does Not Exist", now)
            return
        headers: list[tuple[str, str]] = []
        if event.referred_by:
            headers.append(("Referred-By", event.referred_by))
        if event.replaces:
            headers.append(("Replaces", event.replaces))
        try:
            placed = core.call(str(event.target), now, headers=tuple(headers), referred=True)
        except LocalProtocolError as exc:
            core.ua.transfer_progress(event.call, 503, str(exc)[:60], now)
            return
        self._referred[placed] = event.call
        core._emit(TransferStatus(origin.line, origin.callid, 100, "Trying", False), origin)

    # -- the calls' states -------------------------------------------------------------
    def call_state(self, call: PhoneCall, state: str, now: float) -> None:
        """``call`` moved to ``state``: report it to the REFER that asked
        for it; end the call an INVITE with Replaces replaced."""
        core = self.core
        origin = self._referred.get(call)
        if origin is not None:
            if state == "ringing":
                core.ua.transfer_progress(origin, 180, "Ringing", now)
            elif state == "connected":
                del self._referred[call]
                core.ua.transfer_progress(origin, 200, "OK", now)  # the transferor ends it
            elif state == "disconnected":
                del self._referred[call]
                status = call.sip.status if call.sip is not None and call.sip.status else 487
                core.ua.transfer_progress(origin, status, call.reason[:60] or "failed", now)
        if state == "connected" and call.replacing is not None:
            old, call.replacing = call.replacing, None
            if old.state != "disconnected":
                core._hang_up(old, now, "replaced", DISC_LOCAL)
