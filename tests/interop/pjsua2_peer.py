"""A PJSUA2 user agent (PJSIP's own Python binding, pip ``pjsua2-python``)
for the interop tests, on 127.0.0.1 only: it registers to a registrar and
prints what happens as one JSON object a line on stdout:

- ``{"event": "ready", "uri": ..., "port": ...}`` once its UDP transport is up;
- ``{"event": "registration", "code": 200, "reason": ..., "expires": ...}``
  for each answer to its REGISTER (``onRegState``);
- ``{"event": "message", "from": ..., "to": ..., "content_type": ...,
  "body": ..., "source": "127.0.0.1:5060"}`` for each MESSAGE received
  (``onInstantMessage``; PJSUA2 answers it 200 OK); ``source`` is the address
  it came from;
- ``{"event": "stopped"}`` after SIGTERM or SIGINT, which stop it.

Usage (tests/interop/peers.py ``start_pjsua2`` runs it)::

    python tests/interop/pjsua2_peer.py --port 5080 --registrar 127.0.0.1:5060 \\
        --user bob --password bob123 --logdir DIR

PJSIP's own log (every SIP message) goes to ``DIR/pjsua2.log``; only its
first few lines, written before that log is set up, come on stdout too.  No
sound device is used and no call is taken.
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


class Account(pj.Account):  # type: ignore[misc]
    """Reports registrations and received messages."""

    def onRegState(self, prm: pj.OnRegStateParam) -> None:
        emit("registration", code=prm.code, reason=prm.reason, expires=prm.expiration)

    def onInstantMessage(self, prm: pj.OnInstantMessageParam) -> None:
        emit("message", **{"from": prm.fromUri, "to": prm.toUri,
                           "content_type": prm.contentType, "body": prm.msgBody,
                           "source": prm.rdata.srcAddress})  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="SIP over UDP on 127.0.0.1")
    parser.add_argument("--registrar", required=True, metavar="HOST:PORT")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", default="")
    parser.add_argument("--logdir", default=".")
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
    account_config.idUri = f"sip:{args.user}@{args.registrar}"
    account_config.regConfig.registrarUri = f"sip:{args.registrar}"
    account_config.regConfig.timeoutSec = 300
    if args.password:
        account_config.sipConfig.authCreds.append(
            pj.AuthCredInfo("digest", "*", args.user, 0, args.password)
        )
    # loopback everywhere: nothing to learn from the registrar's Via received
    account_config.natConfig.contactRewriteUse = 0
    account_config.natConfig.viaRewriteUse = 0
    account_config.natConfig.sdpNatRewriteUse = 0
    account = Account()
    account.create(account_config)
    emit("ready", uri=account_config.idUri, port=args.port, pid=os.getpid())

    while not stopping:
        endpoint.libHandleEvents(20)
    account.shutdown()
    endpoint.libDestroy()
    emit("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
