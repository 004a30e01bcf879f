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

Usage (tests/interop/peers.py ``start_pjsua2`` runs it)::

    python tests/interop/pjsua2_peer.py --port 5080 --registrar 127.0.0.1:5060 \\
        --user bob --password bob123 --logdir DIR [--answer]

PJSIP's own log (every SIP message) goes to ``DIR/pjsua2.log``; only its
first few lines, written before that log is set up, come on stdout too.  No
sound card is used; without ``--answer`` no call is taken.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

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


class Peer:
    """What the account and its calls share: the objects kept alive."""

    def __init__(self) -> None:
        self.calls: list[Call] = []  # PJSUA2 calls must outlive their callbacks
        self.invites: set[str] = set()  # Call-IDs whose initial INVITE was reported


class Call(pj.Call):  # type: ignore[misc]
    """Reports its states and transfers; its audio goes to the null device."""

    def __init__(self, account: Account, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_id)
        self.account = account
        account.peer.calls.append(self)

    def _ids(self) -> dict[str, object]:
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

    def onCallTsxState(self, prm: pj.OnCallTsxStateParam) -> None:
        self._report_invite(self.getInfo(), sent_message(prm.e))

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
        manager = pj.Endpoint.instance().audDevManager()
        for index, media in enumerate(info.media):
            if (media.type == pj.PJMEDIA_TYPE_AUDIO
                    and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE):  # fmt: skip
                audio = self.getAudioMedia(index)
                audio.startTransmit(manager.getPlaybackDevMedia())
                manager.getCaptureDevMedia().startTransmit(audio)

    def onCallTransferRequest(self, prm: pj.OnCallTransferRequestParam) -> None:
        # PJSUA2's default: accepted (prm.statusCode stays 202), a new call
        # placed to prm.dstUri; ours only so that that call reports too.
        emit("transfer_request", **self._ids(), target=prm.dstUri, status=prm.statusCode)
        prm.newCall = Call(self.account)

    def onCallTransferStatus(self, prm: pj.OnCallTransferStatusParam) -> None:
        emit("transfer_status", **self._ids(), status=prm.statusCode, reason=prm.reason,
             final=prm.finalNotify)  # fmt: skip

    def onCallReplaceRequest(self, prm: pj.OnCallReplaceRequestParam) -> None:
        message = str(prm.rdata.wholeMsg)
        emit("replace_request", **self._ids(), status=prm.statusCode,
             replaces=header(message, "Replaces"), callid_new=header(message, "Call-ID", "i"),
             source=prm.rdata.srcAddress)  # fmt: skip

    def onCallReplaced(self, prm: pj.OnCallReplacedParam) -> None:
        emit("replaced", **self._ids(), new_call=prm.newCallId)
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
    args = parser.parse_args()
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
    peer = Peer()
    account = Account(peer, answer=args.answer)
    account.create(account_config)
    emit("ready", uri=account_config.idUri, port=args.port, pid=os.getpid())

    while not stopping:
        endpoint.libHandleEvents(20)
    endpoint.hangupAllCalls()
    for _ in range(25):  # half a second for the BYEs to go out
        endpoint.libHandleEvents(20)
    peer.calls.clear()  # each Call object goes while PJSUA still knows its id
    account.shutdown()
    endpoint.libDestroy()
    emit("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
