"""A PJSUA2 user agent (PJSIP's own Python binding, pip ``pjsua2-python``)
for the interop tests, on 127.0.0.1 only: it registers to a registrar (if
given one) and prints what happens as one JSON object a line on stdout:

- ``{"event": "ready", "uri": ..., "port": ...}`` once its UDP transport is up;
- ``{"event": "registration", "code": 200, "reason": ..., "expires": ...}``
  for each answer to its REGISTER (``onRegState``);
- ``{"event": "message", "from": ..., "to": ..., "content_type": ...,
  "body": ..., "source": "127.0.0.1:5060"}`` for each MESSAGE received
  (``onInstantMessage``; PJSUA2 answers it 200 OK); ``source`` is the address
  it came from;
- ``{"event": "stopped"}`` after SIGTERM or SIGINT, which stop it.

With ``--answer`` it also takes calls (answered 200 at once, audio from and
to PJSIP's null sound device) and follows the REFERs it gets the way pjsua
does by default (RFC 3515: a new call to the Refer-To target, its URI
headers such as ``?Replaces=`` made header fields of that INVITE, RFC 3891;
its progress NOTIFYed back).  Each call's events have ``call`` (PJSUA's call
id, reused once a call is gone) and ``callid`` (its Call-ID):

- ``{"event": "incoming_call", "from": ..., "source": ..., "replaces": ...}``;
- ``{"event": "invite_sent", "to": ..., "request_uri": ..., "replaces": ...,
  "require": ..., "referred_by": ...}`` for each initial INVITE it sends, with
  those header fields as sent (None when absent), read from the message;
- ``{"event": "call_state", "state": "CALLING|EARLY|CONNECTING|CONFIRMED|
  DISCONNECTED", "role": "caller|callee", "remote": ..., "status": ...,
  "reason": ...}`` for each state change (``onCallState``; status and reason
  are the last SIP status of the call);
- ``{"event": "transfer_request", "target": ..., "status": 202}`` when a
  REFER asks it to call ``target`` (its Refer-To URI, headers and all);
  accepted as PJSUA2's default does, the new call followed like the others;
- ``{"event": "transfer_status", "status": ..., "reason": ..., "final": ...}``
  for the NOTIFYs about a REFER it sent;
- ``{"event": "replace_request", "replaces": ..., "callid_new": ...,
  "source": ...}`` (on the call named) and ``{"event": "replaced",
  "new_call": ...}`` when an INVITE with Replaces (whose Call-ID is
  ``callid_new``) replaces one of its calls (PJSUA answers it by itself).

With ``--call URI`` it calls ``URI`` once it is ready (the call's events
as above, ``role`` caller).  Once that call is CONFIRMED it sends the
``--dtmf-info`` digits by SIP INFO the way PJSUA2 does it
(``Call.sendDtmf`` with ``PJSUA_DTMF_METHOD_SIP_INFO``: one INFO a digit,
all at once, each with an application/dtmf-relay body
``Signal=<digit>\\r\\nDuration=<ms>``, which PJSUA2 gives no way to change);
then, once those are answered, each ``--dtmf-info-plain`` digit as an INFO
with an application/dtmf body (the digit alone; ``Call.sendRequest``, the
next one after the last is answered); ``--hangup-after SECONDS`` after the
last of them is answered (after CONFIRMED if none) it hangs up:

- ``{"event": "dtmf_info", "digits": ..., "content_type": ...}`` when it asks
  PJSUA2 to send ``digits`` so (``sendDtmf`` or ``sendRequest`` returned);
- ``{"event": "info_sent", "cseq": ..., "content_type": ..., "body": ...}``
  for each INFO the call sends, read from the request as sent, and
  ``{"event": "info_answered", "cseq": ..., "status": ..., "reason": ...}``
  for its final answer (408 if none came);
- ``{"event": "hangup"}`` when it hangs the call up.

Media: ``--codec NAME`` leaves PJSUA2 that one audio codec (all others
disabled); ``--tone HZ`` sends a steady tone from a PJMEDIA tone generator
instead of the null device's silence; ``--record WAV`` records what the
first call receives (16 kHz mono, closed when the peer stops).  ``--srtp
mandatory|optional|disabled`` sets the account's SDES-SRTP (RFC 4568;
``srtpUse``, with ``srtpSecureSignaling`` 0 so that its keys may go over
plain UDP SIP), ``--srtp-crypto SUITES`` (comma-separated) the only suites
it offers or takes.  For each audio stream:

- ``{"event": "media", "index": ..., "codec": ..., "proto": "RTP/AVP|RTP/SAVP",
  "remote_rtp": ...}`` each time it becomes active (``onCallMediaState``;
  ``getStreamInfo``);
- ``{"event": "stream", "index": ..., "rx_packets": ..., "rx_bytes": ...,
  "rx_discard": ..., "tx_packets": ..., "tx_bytes": ..., "srtp_status": ...,
  "srtp_suite": ..., "dump": ...}`` once, as the stream ends
  (``onStreamDestroyed``): its RTCP statistics (``getStreamStat``), and the
  "SRTP status: Active Crypto-suite: ..." of PJSUA's call dump (None when
  the dump has no such line: no SRTP), the dump itself in ``dump``.

Usage (tests/interop/peers.py ``start_pjsua2`` runs it)::

    python tests/interop/pjsua2_peer.py --port 5080 --registrar 127.0.0.1:5060 \\
        --user bob --password bob123 --logdir DIR [--answer]
    python tests/interop/pjsua2_peer.py --port 5080 --user alice --logdir DIR \\
        --call sip:bob@127.0.0.1:5060 --dtmf-info '1234#' [--dtmf-info-plain 5] \\
        --hangup-after 1
    python tests/interop/pjsua2_peer.py --port 5080 --user bob --logdir DIR --answer \
        --srtp mandatory --codec PCMU --tone 440 --record DIR/bob.wav

PJSIP's own log (every SIP message) goes to ``DIR/pjsua2.log``; only its
first few lines, written before that log is set up, come on stdout too.  No
sound card is used; without ``--answer`` no call is taken.  Every event
of a call has ``call`` and ``callid``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time

import pjsua2 as pj


def emit(event: str, **fields: object) -> None:
    """One event as a JSON line (ASCII only: non-ASCII text is escaped)."""
    print(json.dumps({"event": event, **fields}), flush=True)


STATES = {
    pj.PJSIP_INV_STATE_NULL: "NULL",
    pj.PJSIP_INV_STATE_CALLING: "CALLING",
    pj.PJSIP_INV_STATE_INCOMING: "INCOMING",
    pj.PJSIP_INV_STATE_EARLY: "EARLY",
    pj.PJSIP_INV_STATE_CONNECTING: "CONNECTING",
    pj.PJSIP_INV_STATE_CONFIRMED: "CONFIRMED",
    pj.PJSIP_INV_STATE_DISCONNECTED: "DISCONNECTED",
}


SRTP_USE = {
    "disabled": pj.PJMEDIA_SRTP_DISABLED,
    "optional": pj.PJMEDIA_SRTP_OPTIONAL,
    "mandatory": pj.PJMEDIA_SRTP_MANDATORY,
}
PROTOS = {pj.PJMEDIA_TP_PROTO_RTP_AVP: "RTP/AVP", pj.PJMEDIA_TP_PROTO_RTP_SAVP: "RTP/SAVP"}


def header(message: str, *names: str) -> str | None:
    """The value of the first header field called one of ``names`` (full
    or compact form, any case) in the SIP ``message`` text; None if none."""
    wanted = {name.lower() for name in names}
    head = message.replace("\r\n", "\n").split("\n\n", 1)[0]
    for line in head.split("\n")[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() in wanted:
            return value.strip()
    return None


def sent_message(event: pj.SipEvent) -> str:
    """The text of the message PJSIP sent that ``event`` is about, or ''."""
    try:
        if event.type == pj.PJSIP_EVENT_TX_MSG:
            return str(event.body.txMsg.tdata.wholeMsg)
        if event.type == pj.PJSIP_EVENT_TSX_STATE:
            return str(event.body.tsxState.src.tdata.wholeMsg)
    except (AttributeError, TypeError):
        pass
    return ""


def body(message: str) -> str:
    """The body of the SIP ``message`` text as sent, CRLFs and all ('' if none)."""
    separator = "\r\n\r\n" if "\r\n\r\n" in message else "\n\n"
    return message.partition(separator)[2]


def cseq(message: str) -> int | None:
    """The CSeq number of the SIP ``message`` text (None if unreadable)."""
    number = (header(message, "CSeq") or "").split(" ", 1)[0]
    return int(number) if number.isdigit() else None


class Peer:
    """What the account and its calls share: the objects kept alive."""

    def __init__(self) -> None:
        self.calls: list[Call] = []  # PJSUA2 calls must outlive their callbacks
        self.invites: set[str] = set()  # Call-IDs whose initial INVITE was reported
        self.dialer: Dialer | None = None  # --call
        self.infos_sent: set[tuple[str, int]] = set()  # (Call-ID, CSeq) of INFOs sent
        self.infos_answered: set[tuple[str, int]] = set()  # ... and finally answered
        self.tone: pj.ToneGenerator | None = None  # --tone: sent instead of the null device
        self.record_path = ""  # --record: the first call's received audio, as a WAV
        self.recorder: pj.AudioMediaRecorder | None = None
        self.streams: set[tuple[str, int]] = set()  # (Call-ID, index) reported as "stream"


class Dialer:
    """``--call``: the call placed, its DTMF INFOs and its hang-up, driven
    from the main loop (never from inside a PJSUA2 callback)."""

    def __init__(self, peer: Peer, relay: str, plain: str, hangup_after: float | None) -> None:
        self.peer = peer
        self.call: Call | None = None
        self.confirmed = False
        self.ended = False
        # what is still to send: sendDtmf's digits as one batch, then each plain digit
        self.batches: list[tuple[str, str]] = [("application/dtmf-relay", relay)] if relay else []
        self.batches += [("application/dtmf", digit) for digit in plain]
        self.hangup_after = hangup_after
        self.expected = 0  # INFOs asked for so far
        self.quiet_since: float | None = None  # all of them answered since
        self.hung_up = False

    def step(self) -> None:
        """Do what is due: the next INFO batch once the last is answered,
        the hang-up ``hangup_after`` seconds after the last answer."""
        call = self.call
        if call is None or not self.confirmed or self.ended or self.hung_up:
            return
        if len(self.peer.infos_answered) < self.expected:
            return  # INFOs in flight (an unanswered one ends as 408)
        now = time.monotonic()
        if self.batches:
            content_type, digits = self.batches.pop(0)
            self.expected += len(digits)
            if content_type == "application/dtmf-relay":
                param = pj.CallSendDtmfParam()
                param.method = pj.PJSUA_DTMF_METHOD_SIP_INFO
                param.digits = digits
                param.duration = 160
                call.sendDtmf(param)
            else:
                request = pj.CallSendRequestParam()
                request.method = "INFO"
                request.txOption.contentType = content_type
                request.txOption.msgBody = digits
                call.sendRequest(request)
            emit("dtmf_info", **call.ids(), digits=digits, content_type=content_type)
            self.quiet_since = None
            return
        if self.quiet_since is None:
            self.quiet_since = now
        if self.hangup_after is not None and now - self.quiet_since >= self.hangup_after:
            self.hung_up = True
            emit("hangup", **call.ids())
            call.hangup(pj.CallOpParam(True))


class Call(pj.Call):  # type: ignore[misc]
    """Reports its states and transfers; its audio goes to the null device."""

    def __init__(self, account: Account, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self.account = account
        account.peer.calls.append(self)

    def ids(self) -> dict[str, object]:
        """Its ``call`` and ``callid`` fields."""
        info = self.getInfo()
        return {"call": info.id, "callid": info.callIdString}

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        self._report_invite(info, sent_message(prm.e))
        role = "caller" if info.role == pj.PJSIP_ROLE_UAC else "callee"
        emit("call_state", call=info.id, callid=info.callIdString,
             state=STATES.get(info.state, str(info.state)), role=role,
             remote=info.remoteUri, status=info.lastStatusCode,
             reason=info.lastReason)  # fmt: skip
        dialer = self.account.peer.dialer
        if dialer is not None and dialer.call is self:
            if info.state == pj.PJSIP_INV_STATE_CONFIRMED:
                dialer.confirmed = True
            elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
                dialer.ended = True

    def onCallTsxState(self, prm: pj.OnCallTsxStateParam) -> None:
        self._report_invite(self.getInfo(), sent_message(prm.e))
        self._report_info(prm.e)

    def _report_info(self, event: pj.SipEvent) -> None:
        """An INFO this call sent (``info_sent``) and its final answer
        (``info_answered``), each once; noted for ``--call``'s dialer."""
        if event.type != pj.PJSIP_EVENT_TSX_STATE:
            return
        state = event.body.tsxState
        tsx = state.tsx
        if tsx.role != pj.PJSIP_ROLE_UAC or tsx.method != "INFO":
            return
        request = str(tsx.lastTx.wholeMsg) if tsx.lastTx is not None else ""
        number = cseq(request)
        if number is None:
            return
        key = (self.getInfo().callIdString, number)
        sent, answered = self.account.peer.infos_sent, self.account.peer.infos_answered
        if key not in sent:
            sent.add(key)
            emit("info_sent", **self.ids(), cseq=number,
                 content_type=header(request, "Content-Type", "c"), body=body(request))  # fmt: skip
        final = tsx.state in (pj.PJSIP_TSX_STATE_COMPLETED, pj.PJSIP_TSX_STATE_TERMINATED)
        if final and tsx.statusCode >= 200 and key not in answered:
            answered.add(key)
            emit("info_answered", **self.ids(), cseq=number, status=tsx.statusCode,
                 reason=tsx.statusText)  # fmt: skip

    def _report_invite(self, info: pj.CallInfo, message: str) -> None:
        """The first INVITE this call sent, as ``invite_sent``."""
        if not message.startswith("INVITE ") or info.callIdString in self.account.peer.invites:
            return
        if header(message, "To", "t") is None or ";tag=" in (header(message, "To", "t") or ""):
            return  # a re-INVITE
        self.account.peer.invites.add(info.callIdString)
        emit("invite_sent", call=info.id, callid=info.callIdString,
             request_uri=message.split(" ", 2)[1], to=header(message, "To", "t"),
             replaces=header(message, "Replaces"), require=header(message, "Require"),
             referred_by=header(message, "Referred-By", "b"))  # fmt: skip

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        info = self.getInfo()
        peer = self.account.peer
        manager = pj.Endpoint.instance().audDevManager()
        for index, media in enumerate(info.media):
            if (media.type == pj.PJMEDIA_TYPE_AUDIO
                    and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE):  # fmt: skip
                audio = self.getAudioMedia(index)
                audio.startTransmit(manager.getPlaybackDevMedia())
                source = peer.tone if peer.tone is not None else manager.getCaptureDevMedia()
                source.startTransmit(audio)
                if peer.record_path and peer.recorder is None:
                    peer.recorder = pj.AudioMediaRecorder()
                    peer.recorder.createRecorder(peer.record_path)
                    audio.startTransmit(peer.recorder)
                stream = self.getStreamInfo(index)
                emit("media", **self.ids(), index=index, codec=stream.codecName,
                     proto=PROTOS.get(stream.proto, str(stream.proto)),
                     remote_rtp=stream.remoteRtpAddress)  # fmt: skip

    def onStreamDestroyed(self, prm: pj.OnStreamDestroyedParam) -> None:
        self.report_stream(prm.streamIdx)

    def report_stream(self, index: int) -> None:
        """The ``stream`` event of the call's audio stream ``index``, once:
        RTP packets and bytes received and sent (its RTCP statistics), and
        whether PJSUA's call dump says SRTP is in use (and the suite)."""
        key = (self.getInfo().callIdString, index)
        if key in self.account.peer.streams:
            return
        self.account.peer.streams.add(key)
        stat = self.getStreamStat(index).rtcp
        dump = self.dump(True, "")
        srtp = re.search(r"SRTP status: (\S+) Crypto-suite: (\S+)", dump)
        emit("stream", **self.ids(), index=index,
             rx_packets=stat.rxStat.pkt, rx_bytes=stat.rxStat.bytes,
             rx_discard=stat.rxStat.discard, tx_packets=stat.txStat.pkt,
             tx_bytes=stat.txStat.bytes, srtp_status=srtp[1] if srtp else None,
             srtp_suite=srtp[2] if srtp else None, dump=dump)  # fmt: skip

    def onCallTransferRequest(self, prm: pj.OnCallTransferRequestParam) -> None:
        # PJSUA2's default: accepted (prm.statusCode stays 202), a new call
        # placed to prm.dstUri; ours only so that that call reports too.
        emit("transfer_request", **self.ids(), target=prm.dstUri, status=prm.statusCode)
        prm.newCall = Call(self.account)

    def onCallTransferStatus(self, prm: pj.OnCallTransferStatusParam) -> None:
        emit("transfer_status", **self.ids(), status=prm.statusCode, reason=prm.reason,
             final=prm.finalNotify)  # fmt: skip

    def onCallReplaceRequest(self, prm: pj.OnCallReplaceRequestParam) -> None:
        message = str(prm.rdata.wholeMsg)
        emit("replace_request", **self.ids(), status=prm.statusCode,
             replaces=header(message, "Replaces"), callid_new=header(message, "Call-ID", "i"),
             source=prm.rdata.srcAddress)  # fmt: skip

    def onCallReplaced(self, prm: pj.OnCallReplacedParam) -> None:
        emit("replaced", **self.ids(), new_call=prm.newCallId)
        prm.newCall = Call(self.account, prm.newCallId)


class Account(pj.Account):  # type: ignore[misc]
    """Reports registrations and received messages; with ``answer`` takes calls."""

    def __init__(self, peer: Peer, *, answer: bool) -> None:
        super().__init__()
        self.peer, self.answer = peer, answer

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        emit("registration", code=prm.code, reason=prm.reason, expires=prm.expiration)

    def onInstantMessage(self, prm: pj.OnInstantMessageParam) -> None:
        emit("message", **{"from": prm.fromUri, "to": prm.toUri,
                           "content_type": prm.contentType, "body": prm.msgBody,
                           "source": prm.rdata.srcAddress})  # fmt: skip

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        if not self.answer:
            return
        call = Call(self, prm.callId)
        info = call.getInfo()
        message = str(prm.rdata.wholeMsg)
        emit("incoming_call", call=info.id, callid=info.callIdString,
             **{"from": info.remoteUri}, source=prm.rdata.srcAddress,
             replaces=header(message, "Replaces"))  # fmt: skip
        answer = pj.CallOpParam(True)
        answer.statusCode = 200
        call.answer(answer)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="SIP over UDP on 127.0.0.1")
    parser.add_argument("--registrar", default="", metavar="HOST:PORT",
                        help="register there (default: no registration)")  # fmt: skip
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", default="")
    parser.add_argument("--logdir", default=".")
    parser.add_argument("--answer", action="store_true",
                        help="answer calls, follow REFERs (see the docstring)")  # fmt: skip
    parser.add_argument("--call", default="", metavar="URI", help="call URI once ready")
    parser.add_argument("--dtmf-info", default="", metavar="DIGITS",
                        help="--call: send DIGITS by SIP INFO once confirmed")  # fmt: skip
    parser.add_argument("--dtmf-info-plain", default="", metavar="DIGITS",
                        help="--call: then each digit in an application/dtmf INFO")  # fmt: skip
    parser.add_argument("--hangup-after", type=float, default=None, metavar="SECONDS",
                        help="--call: hang up SECONDS after the last INFO is answered")  # fmt: skip
    parser.add_argument("--srtp", choices=sorted(SRTP_USE), default="",
                        help="SDES-SRTP over plain UDP SIP: mandatory (RTP/SAVP), optional "
                             "(RTP/AVP with keys) or disabled (PJSUA's default)")  # fmt: skip
    parser.add_argument("--srtp-crypto", default="", metavar="SUITES",
                        help="--srtp: only these suites (comma-separated)")  # fmt: skip
    parser.add_argument("--codec", default="", metavar="NAME",
                        help="only this audio codec (e.g. PCMU), all others disabled")  # fmt: skip
    parser.add_argument("--tone", type=float, default=None, metavar="HZ",
                        help="send a steady tone of HZ, not the null device's silence")  # fmt: skip
    parser.add_argument("--record", default="", metavar="WAV",
                        help="record the audio the first call receives into WAV")  # fmt: skip
    args = parser.parse_args()
    if args.srtp_crypto and args.srtp in ("", "disabled"):
        parser.error("--srtp-crypto needs --srtp optional or mandatory")
    if (args.dtmf_info or args.dtmf_info_plain or args.hangup_after is not None) and not args.call:
        parser.error("--dtmf-info, --dtmf-info-plain and --hangup-after need --call")
    stopping: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: stopping.append(number))

    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0  # everything happens in libHandleEvents below
    config.uaConfig.mainThreadOnly = True
    config.uaConfig.maxCalls = 4
    config.uaConfig.userAgent = "sansip-interop-pjsua2"
    config.logConfig.level = 5
    config.logConfig.consoleLevel = 0
    config.logConfig.filename = os.path.join(os.path.abspath(args.logdir), "pjsua2.log")
    endpoint.libInit(config)
    transport = pj.TransportConfig()
    transport.port = args.port
    transport.boundAddress = "127.0.0.1"
    transport.publicAddress = "127.0.0.1"
    endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
    endpoint.libStart()
    endpoint.audDevManager().setNullDev()
    if args.codec:
        codecs = [codec.codecId for codec in endpoint.codecEnum2()]
        wanted = [c for c in codecs if c.split("/")[0].lower() == args.codec.lower()]
        if not wanted:
            parser.error(f"--codec {args.codec}: not among {codecs}")
        for codec in codecs:
            endpoint.codecSetPriority(codec, 255 if codec in wanted else 0)

    account_config = pj.AccountConfig()
    if args.registrar:
        account_config.idUri = f"sip:{args.user}@{args.registrar}"
        account_config.regConfig.registrarUri = f"sip:{args.registrar}"
        account_config.regConfig.timeoutSec = 300
    else:
        account_config.idUri = f"sip:{args.user}@127.0.0.1:{args.port}"
    if args.password:
        account_config.sipConfig.authCreds.append(
            pj.AuthCredInfo("digest", "*", args.user, 0, args.password)
        )
    # loopback everywhere: nothing to learn from the registrar's Via received
    account_config.natConfig.contactRewriteUse = 0
    account_config.natConfig.viaRewriteUse = 0
    account_config.natConfig.sdpNatRewriteUse = 0
    # RTP on loopback too, on any free port (not PJSUA's fixed 4000 and up)
    account_config.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    account_config.mediaConfig.transportConfig.publicAddress = "127.0.0.1"
    account_config.mediaConfig.transportConfig.port = 0
    if args.srtp:
        account_config.mediaConfig.srtpUse = SRTP_USE[args.srtp]
        account_config.mediaConfig.srtpSecureSignaling = 0  # SDES keys over plain UDP SIP
        if args.srtp_crypto:
            cryptos = pj.SrtpCryptoVector()
            for name in args.srtp_crypto.split(","):
                crypto = pj.SrtpCrypto()
                crypto.name = name.strip()
                cryptos.append(crypto)
            account_config.mediaConfig.srtpOpt.cryptos = cryptos
            keyings = pj.IntVector()
            keyings.append(pj.PJMEDIA_SRTP_KEYING_SDES)
            account_config.mediaConfig.srtpOpt.keyings = keyings
    peer = Peer()
    if args.tone is not None:
        tone = pj.ToneDesc()
        tone.freq1 = tone.freq2 = round(args.tone)
        tone.on_msec, tone.off_msec, tone.volume = 30000, 0, 0  # looped; volume 0: default
        tones = pj.ToneDescVector()
        tones.append(tone)
        peer.tone = pj.ToneGenerator()
        peer.tone.createToneGenerator(8000, 1)
        peer.tone.play(tones, True)
    peer.record_path = os.path.abspath(args.record) if args.record else ""
    account = Account(peer, answer=args.answer)
    account.create(account_config)
    emit("ready", uri=account_config.idUri, port=args.port, pid=os.getpid())
    if args.call:
        peer.dialer = Dialer(peer, args.dtmf_info, args.dtmf_info_plain, args.hangup_after)
        peer.dialer.call = Call(account)
        peer.dialer.call.makeCall(args.call, pj.CallOpParam(True))

    while not stopping:
        endpoint.libHandleEvents(20)
        if peer.dialer is not None:
            peer.dialer.step()
    endpoint.hangupAllCalls()
    for _ in range(25):  # half a second for the BYEs to go out
        endpoint.libHandleEvents(20)
    peer.recorder = None  # closes its WAV (the header gets the length)
    peer.tone = None
    peer.dialer = None  # its Call too: none may outlive libDestroy
    peer.calls.clear()  # each Call object goes while PJSUA still knows its id
    account.shutdown()
    endpoint.libDestroy()
    emit("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
