"""The reference client's functions under their own names, on every front
end (they run where the phone's core lives and return at once).

Most act on the *current line* (``-1``; see :meth:`Vocabulary.setline`), as
in the reference; ``-2`` means every line where that makes sense.  Where
the reference hands a result to a callback, these return it.  Functions
for features sansip does not have yet are not here (the reference mapping
in the docs lists them)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

from sansip.audio.player import FilePlayer
from sansip.audio.recorder import RecordingMode
from sansip.errors import LocalProtocolError
from sansip.io.file_writer import open_call_recorder
from sansip.message import parse
from sansip.phone.accounts import parse_accounts
from sansip.phone.audio import PlannedAudio
from sansip.phone.core import PhoneCore
from sansip.phone.events import INCOMING
from sansip.phone.history import Contact, History
from sansip.phone.params import ParameterError, Parameters
from sansip.phone.siplog import SipLogEntry
from sansip.transport.types import Transport

__all__ = ["Vocabulary"]

T = TypeVar("T")


class Vocabulary(ABC):
    """Mixed into the front ends; ``_command`` runs an action on the core."""

    parameters: Parameters

    def _rate(self) -> int:
        """The rate of the calls' audio frames."""
        return int(getattr(self, "rate", 16000))

    @abstractmethod
    def _command(self, action: Callable[[PhoneCore, float], Any]) -> Any:
        """Run ``action(core, now)`` where the core lives; its result."""

    # -- settings --------------------------------------------------------------------
    def setparameter(self, name: str, value: object) -> None:
        """Set a parameter at run time (checked; ``""``, ``NULL`` or ``DEF``
        clear it; it applies to what starts next) and keep it in the history
        file, if there is one, for the next session."""
        self.parameters.set(name, value)
        changed = {k: v for k, v in self.parameters.as_text().items()
                   if k in self.parameters.changed()}  # fmt: skip
        self._stored(lambda store: store.save_parameters(changed))

    def getparameter(self, name: str) -> str:
        """A parameter's value in force, as text (its default when unset;
        ``""`` for a name sansip does not know, as the reference answers)."""
        try:
            return self.parameters.text(name)
        except ParameterError:
            return ""

    def registerex(self, accounts: str) -> None:
        """Register more accounts beside the main one:
        ``server,usr,pwd,ival,proxy,realm,authuser`` items separated by ``;``
        (the server an IP address with an optional port).  Calls to any of
        them ring this phone; their states come with their AOR as the account."""
        parsed = parse_accounts(accounts)
        self._command(lambda core, now: core.extra.add(parsed, now))

    def unregister(self) -> None:
        """Remove the account's binding (REGISTER with Expires 0)."""
        self._command(lambda core, now: core.unregister(now))

    def getenginename(self) -> str:
        """The engine's name: always ``sansip``."""
        return "sansip"

    def getregfailreason(self) -> str:
        """Why the last registration failed (``""`` if it did not)."""
        return str(self._command(lambda core, _now: core.reg_reason))

    def delsettings(self, level: int = 1) -> None:
        """Forget persisted data: 1 the parameters; 2 also calls and contacts."""

        def forget(store: History) -> None:
            store.save_parameters({})
            if level >= 2:
                store.clear_calls()
                for contact in store.contacts():
                    store.delete_contact(contact.number)

        self._stored(forget)

    def setsipheader(self, header: str) -> None:
        """Add ``"Name: value"`` (several separated by ``;`` or line ends) to
        every request the phone sends from now on; ``""`` removes them all,
        ``"Name:"`` removes one."""
        self._command(lambda core, _now: core.set_headers(header))

    # -- calls on a line ---------------------------------------------------------------
    def hangup(self, line: int = -1) -> None:
        """End the call on ``line`` (-2: all of them); an unanswered incoming
        call is refused."""
        self._command(lambda core, now: core.hangup(line, now))

    def accept(self, line: int = -1) -> None:
        """Answer the ringing incoming call on ``line``."""
        self._command(lambda core, now: core.accept(line, now))

    def reject(self, line: int = -1) -> None:
        """Decline the ringing incoming call on ``line`` (486)."""
        self._command(lambda core, now: core.reject(line, now))

    def ignore(self, line: int = -1) -> None:
        """Stop alerting for the incoming call on ``line`` without answering."""
        self._command(lambda core, now: core.control.ignore(line, now))

    def hold(self, state: bool = True, line: int = -1) -> None:
        """Put the call on ``line`` on hold (``False``: resume)."""
        self._command(lambda core, now: core.control.hold(line, now, resume=not state))

    def mute(self, state: bool = True, direction: int = 0, line: int = -1) -> None:
        """Mute the call on ``line``: direction 0 both, 1 what we hear, 2 what we send."""
        self._command(lambda core, _now: core.control.mute(line, state, direction))

    def dtmf(self, msg: str, line: int = -1) -> None:
        """Send DTMF ``msg`` (RFC 4733) on the call on ``line``."""
        self._command(lambda core, now: core.control.dtmf(line, msg, now))

    def play(self, start: bool, file: str = "", looping: bool = False,
             toremotepeer: bool = True, line: int = -1) -> None:  # fmt: skip
        """Play a WAV or Ogg Opus ``file`` into the call on ``line`` (to the
        peer, or only locally); ``start=False`` stops it."""
        player = FilePlayer(file, self._rate(), loop=looping) if start else None
        self._command(lambda core, _now: core.control.play(line, player, to_peer=toremotepeer))

    def voicerecord(self, start: bool, path: str = "", line: int = -1,
                    stereo: bool = False) -> None:  # fmt: skip
        """Record both directions of the call on ``line`` to ``path`` (WAV or
        Ogg Opus by extension; ``stereo``: we are left, the peer right);
        ``start=False`` stops and closes the file.  The file is written by a
        thread of its own, so a slow disk never delays the call."""
        recorder = None
        if start:
            mode: RecordingMode = "stereo" if stereo else "mixed"
            recorder = open_call_recorder(path, self._rate(), mode=mode, max_duration=4 * 3600)
        previous = self._command(lambda core, _now: core.control.record(line, recorder))
        if previous is not None:
            previous.close()

    # -- lines and state ---------------------------------------------------------------
    def setline(self, line: int | str) -> int:
        """Make ``line`` (a number, Call-ID or peer user name) the current
        line; -1/-2 go back to the best line.  Returns the line (0: none matched)."""
        result: int = self._command(lambda core, _now: core.setline(line))
        return result

    def getline(self) -> int:
        """The current line: the one set, else the best call's, else 0."""

        def current(core: PhoneCore, _now: float) -> int:
            try:
                return core.line(-1).line
            except LocalProtocolError:
                return core.current_line

        result: int = self._command(current)
        return result

    def nextcallid(self) -> str:
        """The Call-ID the next outgoing call will have (to match it with a
        server's records before the call is placed)."""
        return str(self._command(lambda core, _now: core.next_callid()))

    def transfer(self, number: str, line: int = -1) -> None:
        """Transfer the call on ``line`` to ``number`` (blind: a REFER; the
        call ends once the target answers), or with ``""`` and two connected
        calls connect their peers to each other (attended, with Replaces).
        Progress comes as :class:`~sansip.phone.events.TransferStatus`."""
        self._command(lambda core, now: core.control.transfers.transfer(line, number, now))

    def forward(self, number: str, line: int = -1) -> None:
        """Send the ringing incoming call on ``line`` to ``number`` (302 Moved
        Temporarily with it as the Contact)."""
        self._command(lambda core, now: core.forward(line, number, now))

    def conference(self, number: str = "", add: bool = True) -> None:
        """Local conference: ``""`` joins every connected call (two at least),
        a line number 1-9 joins that call, any other number or URI is called
        and joins once it connects; ``add=False`` takes a line out, or with
        ``""`` dissolves the conference (the calls go on).  Each party hears
        the others and us, never itself."""
        self._command(lambda core, now: core.control.conference(number, now, add=add))

    def sendchat(self, number: str, msg: str) -> None:
        """Send the text ``msg`` to ``number`` (a number at the server, or a
        ``sip:`` URI) in a SIP MESSAGE; the result comes as a
        :class:`~sansip.phone.events.ChatReport` (``CHATREPORT`` notification)."""
        self._command(lambda core, now: core.control.sendchat(number, msg, now))

    def setpresencestatus(self, status: str, note: str = "") -> None:
        """Our presence for the watchers: ``Online``, ``Away``, ``DND``,
        ``Invisible`` or ``Offline`` (a PIDF document, RFC 3863)."""
        self._command(lambda core, now: core.presence.set_status(status, now, note))

    def checkpresence(self, userlist: str) -> None:
        """Watch the presence of the comma-separated users (SUBSCRIBE
        presence); it comes to ``on_presence_state_change`` and as ``PRESENCE``."""
        self._command(lambda core, now: core.presence.check(userlist, "presence", now))

    def checkblf(self, userlist: str) -> None:
        """Watch the calls of the comma-separated users (SUBSCRIBE dialog,
        their busy lamps); it comes to ``on_blf_state_change`` and as ``BLF``."""
        self._command(lambda core, now: core.presence.check(userlist, "dialog", now))

    def checkvoicemail(self) -> None:
        """Watch our mailbox (SUBSCRIBE message-summary to our account at the
        server); message waiting comes as ``MWI,waiting,new,old`` and
        :class:`~sansip.phone.events.VoicemailChanged` (unsolicited NOTIFYs too)."""
        self._command(lambda core, now: core.presence.watch_voicemail(now))

    def sendcomposing(self, number: str, composing: bool = True) -> None:
        """Tell ``number`` we are typing a message (or stopped): an RFC 3994
        isComposing MESSAGE; the peer's come as ``CHATCOMPOSING``."""
        self._command(lambda core, now: core.control.composing(number, composing, now))

    def sendsms(self, number: str, msg: str, from_: str = "") -> None:
        """Send ``msg`` as an SMS through the server: a MESSAGE marked
        ``X-Sms: yes`` (and ``X-Sms-From`` with our own number, if given)
        for a gateway to deliver to the mobile ``number``."""
        headers = (("X-Sms", "yes"), *((("X-Sms-From", from_),) if from_ else ()))
        self._command(lambda core, now: core.control.sendchat(number, msg, now, headers=headers))

    def linetocallid(self, line: int) -> str:
        """The Call-ID of the call on ``line``, ``""`` if none."""
        return str(self._command(lambda core, _now: _or(lambda: core.line(line).callid, "")))

    def callidtoline(self, callid: str) -> int:
        """The line of the call with ``callid``, -1 if none."""
        return int(self._command(lambda core, _now: core.callid_to_line(callid)))

    def getlinedetails(self, line: int = -1) -> str:
        """``LINEDETAILS,line,state,callid,remoteusername,localusername,type,
        localaddress,serveraddress,mute,hold,remotefullname`` (``""`` if no call)."""

        def details(core: PhoneCore, _now: float) -> str:
            try:
                call = core.line(line)
            except LocalProtocolError:
                return ""
            local = core.ua.endpoint.config.local
            server = core.config.serveraddress
            return ",".join(str(v) for v in (
                "LINEDETAILS", call.line, call.state, call.callid, call.peername,
                core.config.username, "in" if call.direction == INCOMING else "out",
                f"{local[0]}:{local[1]}", f"{server[0]}:{server[1]}" if server else "",
                int(call.muted), int(call.on_hold), call.peerdisplayname,
            ))  # fmt: skip

        return str(self._command(details))

    def getlastcalldetails(self) -> str:
        """A report of the last call that ended (``""`` if none)."""

        def report(core: PhoneCore, _now: float) -> str:
            if not core.history:
                return ""
            record = core.history[-1].record(core.config.username, core.engine.wall_clock_offset)
            rtp = (
                f"sent {record.rtp_sent}, received {record.rtp_received}, "
                f"lost {record.rtp_lost}, jitter {record.jitter_ms} ms, mos {record.mos}"
            )
            return (f"direction: {'incoming' if record.direction == INCOMING else 'outgoing'}\n"
                    f"caller: {record.caller}\ncalled: {record.called}\n"
                    f"duration: {record.duration:.1f} s\nreason: {record.reason}\n"
                    f"disconnected by: {record.discparty}\ncodec: {record.codec}\n"
                    f"rtp: {rtp}")  # fmt: skip

        return str(self._command(report))

    def getcallerdisplayfull(self, line: int = -1) -> str:
        """``"callerid\\ncallername"`` of the call on ``line`` (``""`` if none)."""

        def display(core: PhoneCore, _now: float) -> str:
            call = _or(lambda: core.line(line), None)
            return "" if call is None else f"{call.peername}\n{call.peerdisplayname}"

        return str(self._command(display))

    def isregistered(self) -> bool:
        """Whether the account is registered."""
        return bool(self._command(lambda core, _now: core.reg_state == "registered"))

    def isincall(self) -> bool:
        """Whether any line has a call being set up, ringing or connected."""
        return bool(self._command(lambda core, _now: bool(core.calls)))

    def ismuted(self, line: int = -1) -> bool:
        """Whether the call on ``line`` is muted."""
        return bool(self._command(lambda core, _now: _or(lambda: core.line(line).muted, False)))

    def isencrypted(self, line: int = -1) -> int:
        """How the call on ``line`` is protected: -1 no call, 0 not at all,
        1 partly (SRTP media or TLS signalling, not both), 2 both."""

        def level(core: PhoneCore, _now: float) -> int:
            call = _or(lambda: core.line(line), None)
            if call is None:
                return -1
            media = call.media is not None and call.media.encrypted
            signalling = core.config.transport is Transport.TLS
            return int(media) + int(signalling)

        return int(self._command(level))

    def isonhold(self, line: int = -1) -> bool:
        """Whether the call on ``line`` is on hold."""
        return bool(self._command(lambda core, _now: _or(lambda: core.line(line).on_hold, False)))

    # -- sound devices and volumes (with ``audio=AudioPlan(devices=True)``) --------------
    def getdevicelist(self, dev: int = 0) -> str:
        """The sound devices of ``dev`` (0 capture, 1 playback and ringer), CRLF-separated."""
        return "\r\n".join(self._sound().device_list(dev))

    def getdevice(self, dev: int = 0) -> str:
        """The device in use for ``dev`` (0 capture, 1 playback, 2 ringer)."""
        return self._sound().get_device(dev)

    def setdevice(self, dev: int, devicename: str, immediate: int = 0) -> None:
        """Use ``devicename`` for ``dev`` (0 capture, 1 playback, 2 ringer)
        from the next call on; ``immediate`` 2: in the calls going on too."""
        sound = self._sound()
        self._command(lambda _core, _now: sound.set_device(dev, devicename,
                                                            active=immediate == 2))  # fmt: skip

    def getvolume(self, dev: int = 1) -> int:
        """The volume of ``dev`` (0 microphone, 1 speaker, 2 ringer), 0..100."""
        return self.parameters.get_int(("volumein", "volumeout", "volumering")[dev])

    def setvolume(self, dev: int, volume: int) -> None:
        """Set the volume of ``dev`` (0 microphone, 1 speaker, 2 ringer) to
        ``volume`` 0..100 (50: as the system has it; 0: muted), in the calls
        going on too."""
        sound = self._sound()
        self._command(lambda _core, _now: sound.set_volume(dev, int(volume)))

    def _sound(self) -> PlannedAudio:
        planned: PlannedAudio | None = getattr(self, "_planned", None)
        if planned is None:
            raise LocalProtocolError(
                "the sound functions need a started phone with "
                "audio=AudioPlan(...), devices=True for the sound card"
            )
        return planned

    # -- raw SIP ------------------------------------------------------------------------
    def getlastrecinvite(self) -> str:
        """The last INVITE received, as text (``""`` if none)."""
        return str(self._command(
            lambda core, _now: core.last_received_invite.decode("utf-8", "replace")))  # fmt: skip

    def getlastsentinvite(self) -> str:
        """The last INVITE sent, as text (``""`` if none)."""
        return str(self._command(
            lambda core, _now: core.last_sent_invite.decode("utf-8", "replace")))  # fmt: skip

    def getsipheader(self, header: str) -> str:
        """The value of ``header`` in the last INVITE received (``""`` if absent)."""

        def value(core: PhoneCore, _now: float) -> str:
            if not core.last_received_invite:
                return ""
            found = parse(core.last_received_invite).headers.get(header)
            return "" if found is None else str(found)

        return str(self._command(value))

    def getsipmessage(self, direction: int = -1, kind: int = 0) -> str:
        """The newest SIP message received (``direction`` 0), sent (1) or
        either (-1) of ``kind`` 0 any, 1 request, 2 response, 3 INVITE,
        4 200 OK, as text; ``"ERROR: no such message"`` when there is none."""

        def find(core: PhoneCore, _now: float) -> str:
            entry = core.sip_log.find(direction, kind)
            return "ERROR: no such message" if entry is None else entry.data.decode(
                "utf-8", "replace")  # fmt: skip

        return str(self._command(find))

    def sipmessages(self) -> list[SipLogEntry]:
        """The last SIP messages sent and received (up to 500), oldest first."""
        return list(self._command(lambda core, _now: list(core.sip_log.entries)))

    def getlogs(self) -> str:
        """The log: the last SIP messages sent and received, each under a
        line with the time and the peer's address."""
        return str(self._command(lambda core, _now: core.sip_log.text()))

    # -- history and contacts -------------------------------------------------------------
    def _stored(self, action: Callable[[History], T]) -> T | None:
        """Run ``action`` on the history store (None without one)."""
        return None

    def listcallhistory(self) -> str:
        """The calls, newest first, as rows of ``type, name, number, date,
        duration ms, reason`` separated by tabs, one per line (``""`` if
        none): from the history file, else this session's recent calls."""
        stored = self._stored(lambda store: store.calls(limit=500))
        if stored is None:
            stored = self._command(lambda core, _now: [
                call.record(core.config.username, core.engine.wall_clock_offset)
                for call in reversed(core.history)])  # fmt: skip
        rows = []
        for record in stored:
            kind = "incoming" if record.direction == INCOMING else "outgoing"
            date = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.started))
            fields = (kind, record.peerdisplayname, record.peer, date,
                      str(round(record.duration * 1000)), record.reason)  # fmt: skip
            rows.append("\t".join(fields))
        return "\r\n".join(rows)

    def addcontact(self, fullname: str, number: str, email: str = "", notes: str = "",
                   favorite: bool = False) -> bool:  # fmt: skip
        """Add (or update, by number) a contact in the history file; False without one."""
        contact = Contact(name=fullname, number=number, email=email, note=notes,
                          favourite=favorite)  # fmt: skip
        return self._stored(lambda store: store.save_contact(contact)) is not None

    def getcontact(self, name: str = "", number: str = "") -> str:
        """The contact with ``number`` (or whose name starts with ``name``)
        as ``name, number, favorite, email, notes`` separated by tabs; ``""`` if none."""

        def find(store: History) -> Contact | None:
            if number:
                return store.contact(number)
            found = store.find_contacts(name) if name else []
            return found[0] if found else None

        contact = self._stored(find)
        return "" if contact is None else _contact_row(contact)

    def listcontacts(self) -> str:
        """Every contact as a row (see :meth:`getcontact`), one per line."""
        contacts = self._stored(lambda store: store.contacts()) or []
        return "\r\n".join(_contact_row(c) for c in contacts)

    def delcontact(self, name: str = "", number: str = "") -> bool:
        """Delete the contact with ``number`` (or the first whose name starts with ``name``)."""

        def delete(store: History) -> bool:
            if not number:
                found = store.find_contacts(name) if name else []
                return bool(found) and store.delete_contact(found[0].number)
            return store.delete_contact(number)

        return bool(self._stored(delete))

    def delallcontacts(self) -> int:
        """Delete every contact; how many went."""

        def delete_all(store: History) -> int:
            gone = [store.delete_contact(c.number) for c in store.contacts()]
            return sum(gone)

        return int(self._stored(delete_all) or 0)


def _contact_row(contact: Contact) -> str:
    return "\t".join((contact.name, contact.number, str(int(contact.favourite)), contact.email,
                      contact.note))  # fmt: skip


def _or(getter: Callable[[], Any], default: Any) -> Any:
    try:
        return getter()
    except LocalProtocolError:
        return default
