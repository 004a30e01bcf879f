"""Calls between sansip and SIPp (sip-tester) over UDP on 127.0.0.1."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from tests.interop.peers import free_udp_port, require, sansip, start, stop, wait_listening

pytestmark = pytest.mark.interop


@pytest.mark.timeout(180)
def test_sipp_uac_against_sansip_answer(tmp_path: Path) -> None:
    sipp = require("sipp", "sip-tester")
    port, sipp_port = free_udp_port(), free_udp_port()
    calls = 1000
    answer = start(
        sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", str(calls), "--json"),
        tmp_path / "answer.log",
    )
    try:
        wait_listening(port, answer)
        done = subprocess.run(
            [sipp, "-sn", "uac", f"127.0.0.1:{port}", "-s", "sansip", "-m", str(calls),
             "-r", "100", "-i", "127.0.0.1", "-p", str(sipp_port), "-nostdin",
             "-timeout", "120", "-trace_stat", "-stf", str(tmp_path / "stat.csv")],
            capture_output=True, cwd=tmp_path, timeout=150, check=False,
        )  # fmt: skip
        answer.wait(30)
    finally:
        stop(answer)
    output = done.stdout.decode(errors="replace")
    assert done.returncode == 0, output[-2000:]  # SIPp exits 0 only when every call succeeded
    assert "Successful call" in output
    records = [json.loads(line) for line in (tmp_path / "answer.log").read_text().splitlines()
               if line.startswith("{")]  # fmt: skip
    assert len(records) == calls
    assert all(r["status"] == 200 and r["reason"] == "bye received" for r in records)
    assert answer.returncode == 0


@pytest.mark.timeout(60)
def test_sansip_call_against_sipp_uas(tmp_path: Path) -> None:
    sipp = require("sipp", "sip-tester")
    port = free_udp_port()
    uas = subprocess.Popen(
        [sipp, "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-nostdin", "-m", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    try:
        wait_listening(port, uas)  # type: ignore[arg-type]
        done = subprocess.run(
            sansip("call", f"sip:service@127.0.0.1:{port}", "--duration", "0.5", "--json"),
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        out, _ = uas.communicate(timeout=30)
    finally:
        if uas.poll() is None:
            uas.kill()
    assert done.returncode == 0, done.stderr.decode()
    record = json.loads(done.stdout)
    assert record["status"] == 200 and record["duration"] >= 500
    assert uas.returncode == 0, out.decode(errors="replace")[-2000:]


#: The fields of a request SIPp sends in the dialog after the 2xx.
IN_DIALOG = """Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]"""


def _bye(cseq: int) -> str:
    """The end of a SIPp scenario: BYE with CSeq ``cseq``, its 200."""
    return f"""  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
{IN_DIALOG}
CSeq: {cseq} BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" crlf="true"/>
</scenario>
"""


OFFERLESS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="offer-less INVITE, answer in the ACK">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]></send>
  <pause milliseconds="1500"/>
""" + _bye(2)


@pytest.mark.timeout(60)
def test_an_offerless_invite_gets_our_offer_and_the_answer_in_the_ack(tmp_path: Path) -> None:
    """SIPp sends an INVITE without SDP (RFC 3261 §13.2.1): sansip offers in
    its 200, takes SIPp's answer from the ACK and sends RTP to it."""
    sipp = require("sipp", "sip-tester")
    port = free_udp_port()
    scenario = tmp_path / "offerless.xml"
    scenario.write_text(OFFERLESS)
    answer = start(sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1", "--json",
                          "--tone", "500", "-p", "codec=pcmu"),
                   tmp_path / "answer.log")  # fmt: skip
    try:
        wait_listening(port, answer)
        done = subprocess.run(
            [sipp, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(free_udp_port()),
             "-mp", str(free_udp_port()), "-m", "1", "-nostdin", "-timeout", "20",
             f"127.0.0.1:{port}"],
            capture_output=True, timeout=40, check=False, cwd=tmp_path,
        )  # fmt: skip
        assert answer.wait(20) == 0
    finally:
        stop(answer)
    assert done.returncode == 0, done.stdout.decode(errors="replace")[-2000:]
    record = json.loads([x for x in (tmp_path / "answer.log").read_text().splitlines()
                         if x.startswith("{")][-1])  # fmt: skip
    assert record["status"] == 200 and record["reason"] == "bye received"
    assert record["codec"] == "PCMU" and record["rtp"]["sent"] > 40


PRACK_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="INVITE requiring 100rel: the 180 is PRACKed">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Require: 100rel
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" rrs="true">
    <action>
      <ereg regexp="RSeq: ([0-9]+)" search_in="msg" check_it="true" assign_to="rseq,num"/>
    </action>
  </recv>
  <send><![CDATA[
PRACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 PRACK
RAck: [$num] 1 INVITE
X-Seen: [$rseq]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" crlf="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
  <pause milliseconds="500"/>
""" + _bye(3)


@pytest.mark.timeout(60)
def test_a_180_sent_reliably_to_sipp_and_pracked(tmp_path: Path) -> None:
    """SIPp's INVITE requires 100rel: sansip's 180 carries RSeq and Require,
    SIPp PRACKs it (RAck), sansip answers the PRACK 200, then the INVITE."""
    sipp = require("sipp", "sip-tester")
    port = free_udp_port()
    scenario = tmp_path / "prack.xml"
    scenario.write_text(PRACK_UAC)
    answer = start(sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1", "--json",
                          "--ring", "0.5", "--no-media"), tmp_path / "answer.log")  # fmt: skip
    try:
        wait_listening(port, answer)
        done = subprocess.run(
            [sipp, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(free_udp_port()),
             "-m", "1", "-nostdin", "-timeout", "20", f"127.0.0.1:{port}"],
            capture_output=True, timeout=40, check=False, cwd=tmp_path,
        )  # fmt: skip
        assert answer.wait(20) == 0
    finally:
        stop(answer)
    assert done.returncode == 0, done.stdout.decode(errors="replace")[-2000:]
    record = json.loads([x for x in (tmp_path / "answer.log").read_text().splitlines()
                         if x.startswith("{")][-1])  # fmt: skip
    assert record["status"] == 200 and record["reason"] == "bye received"


TIMER_UPDATE_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="session timer in the INVITE, an UPDATE refresh with an offer">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Supported: timer
Session-Expires: 90;refresher=uac
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true">
    <action>
      <ereg regexp="Session-Expires: 90;refresher=uac" search_in="msg" check_it="true"
            assign_to="timer"/>
    </action>
  </recv>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
X-Timer: [$timer]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <pause milliseconds="300"/>
  <send retrans="500"><![CDATA[
UPDATE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 UPDATE
Contact: sip:sipp@[local_ip]:[local_port]
Supported: timer
Session-Expires: 90;refresher=uac
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 1 2 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendonly

]]></send>
  <recv response="200">
    <action>
      <ereg regexp="a=recvonly" search_in="body" check_it="true" assign_to="held"/>
      <ereg regexp="Session-Expires: 90" search_in="msg" check_it="true" assign_to="again"/>
    </action>
  </recv>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 3 BYE
X-Seen: [$held] [$again]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" crlf="true"/>
</scenario>
"""


@pytest.mark.timeout(60)
def test_sipp_session_timer_and_an_update_offer(tmp_path: Path) -> None:
    """SIPp asks for a 90 s session refreshed by itself and sends an UPDATE
    holding the call: sansip's 200s carry Session-Expires, the UPDATE's
    answers recvonly (RFC 4028, RFC 3311)."""
    sipp = require("sipp", "sip-tester")
    port = free_udp_port()
    scenario = tmp_path / "timer.xml"
    scenario.write_text(TIMER_UPDATE_UAC)
    answer = start(sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1", "--json",
                          "-p", "codec=pcmu"), tmp_path / "answer.log")  # fmt: skip
    try:
        wait_listening(port, answer)
        done = subprocess.run(
            [sipp, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(free_udp_port()),
             "-mp", str(free_udp_port()), "-m", "1", "-nostdin", "-timeout", "20",
             f"127.0.0.1:{port}"],
            capture_output=True, timeout=40, check=False, cwd=tmp_path,
        )  # fmt: skip
        assert answer.wait(20) == 0
    finally:
        stop(answer)
    assert done.returncode == 0, done.stdout.decode(errors="replace")[-2000:]
    record = json.loads([x for x in (tmp_path / "answer.log").read_text().splitlines()
                         if x.startswith("{")][-1])  # fmt: skip
    assert record["status"] == 200 and record["reason"] == "bye received"


NOTIFY_OK = """  <recv request="NOTIFY" crlf="true"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
"""

REFER_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="a call, then a REFER; the NOTIFYs with sipfrag answered">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
  <send retrans="500"><![CDATA[
REFER [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 REFER
Contact: sip:sipp@[local_ip]:[local_port]
Refer-To: <TARGET>
Referred-By: <sip:sipp@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="202"/>
NOTIFIES""" + _bye(3)


@pytest.mark.timeout(60)
def test_sipp_refers_sansip_and_gets_the_notifies(tmp_path: Path) -> None:
    """SIPp calls sansip and REFERs it to a second sansip: 202, then NOTIFYs
    with message/sipfrag (100 Trying, 180 Ringing, then 200 OK once the target answered)."""
    sipp = require("sipp", "sip-tester")
    port, target_port = free_udp_port(), free_udp_port()
    scenario = tmp_path / "refer.xml"
    scenario.write_text(REFER_UAC.replace("TARGET", f"sip:carol@127.0.0.1:{target_port}")
                        .replace("NOTIFIES", NOTIFY_OK * 3))  # fmt: skip
    bob = start(sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1", "--json",
                       "--no-media", "-p", "username=bob"), tmp_path / "bob.log")  # fmt: skip
    carol = start(sansip("answer", "--listen", f"127.0.0.1:{target_port}", "--count", "1",
                         "--json", "--no-media", "--hangup-after", "1"),
                  tmp_path / "carol.log")  # fmt: skip
    try:
        wait_listening(port, bob)
        wait_listening(target_port, carol)
        done = subprocess.run(
            [sipp, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(free_udp_port()),
             "-m", "1", "-nostdin", "-timeout", "20", "-trace_msg", f"127.0.0.1:{port}"],
            capture_output=True, timeout=40, check=False, cwd=tmp_path,
        )  # fmt: skip
        assert carol.wait(20) == 0
    finally:
        stop(bob)
        stop(carol)
    assert done.returncode == 0, done.stdout.decode(errors="replace")[-2000:]
    trace = next(tmp_path.glob("*_messages.log")).read_text(errors="replace")
    frags = re.findall(r"Content-Type: message/sipfrag.*?\r?\n\r?\n(SIP/2\.0 \d+ [^\r\n]*)",
                       trace, flags=re.DOTALL)  # fmt: skip
    assert [f.split()[1] for f in frags] == ["100", "180", "200"], frags


def _sipp_trace(tmp_path: Path) -> list[tuple[float, str, str]]:
    """SIPp's ``-trace_msg`` log in ``tmp_path``: (wall-clock time, ``"sent"``
    or ``"received"``, the message) in order."""
    text = next(tmp_path.glob("*_messages.log")).read_text(errors="replace")
    entries = []
    for block in re.split(r"^-{20,} ", text, flags=re.M)[1:]:
        stamp, way, message = block.split("\n", 2)
        when = datetime.strptime(stamp.strip(), "%Y-%m-%d %H:%M:%S.%f").timestamp()
        entries.append((when, "sent" if " sent " in way else "received", message.strip()))
    return entries


def _bye_from_sansip(timeout_ms: int = 0) -> str:
    """The end of a SIPp scenario where sansip hangs up: its BYE (within
    ``timeout_ms`` when given), SIPp's 200."""
    timeout = f' timeout="{timeout_ms}"' if timeout_ms else ""
    return f"""  <recv request="BYE"{timeout}/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
</scenario>
"""


GLARE_UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="glare: SIPp re-INVITEs while sansip's hold re-INVITE is pending, 491 both ways">
  <recv request="INVITE" crlf="true" rrs="true"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:sipp@[local_ip]:[local_port]>
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]></send>
  <recv request="ACK" crlf="true"/>
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="a=sendonly" search_in="body" check_it="true" assign_to="held"/>
      <ereg regexp=".*" search_in="hdr" header="Via:" check_it="true" assign_to="via"/>
      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="from"/>
      <ereg regexp=".*" search_in="hdr" header="To:" check_it="true" assign_to="to"/>
      <ereg regexp=".*" search_in="hdr" header="CSeq:" check_it="true" assign_to="cseq"/>
    </action>
  </recv>
  <send><![CDATA[
SIP/2.0 100 Trying
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <send retrans="500"><![CDATA[
INVITE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From:[$to]
To:[$from]
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:sipp@[local_ip]:[local_port]>
X-Held: [$held]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 1 2 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]></send>
  <recv response="491"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
  <send><![CDATA[
SIP/2.0 491 Request Pending
Via:[$via]
From:[$from]
To:[$to]
Call-ID: [call_id]
CSeq:[$cseq]
Content-Length: 0

]]></send>
  <recv request="ACK"/>
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="a=sendonly" search_in="body" check_it="true" assign_to="again"/>
    </action>
  </recv>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:sipp@[local_ip]:[local_port]>
X-Held: [$again]
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 1 3 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=recvonly

]]></send>
  <recv request="ACK" crlf="true"/>
""" + _bye_from_sansip()


@pytest.mark.timeout(60)
def test_reinvite_glare_with_sipp_491_both_ways_and_the_retry(tmp_path: Path) -> None:
    """sansip calls SIPp and holds (re-INVITE, sendonly); SIPp holds that
    unanswered (100 Trying) and sends its own re-INVITE: sansip answers 491
    (RFC 3261 §14.2).  SIPp then answers sansip's with 491: sansip, which
    owns the Call-ID, sends the hold again 2.1-4 s later (§14.1) in a new
    transaction, and that one is accepted."""
    sipp = require("sipp", "sip-tester")
    port = free_udp_port()
    scenario = tmp_path / "glare.xml"
    scenario.write_text(GLARE_UAS)
    uas = subprocess.Popen(
        [sipp, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port),
         "-mp", str(free_udp_port()), "-m", "1", "-nostdin", "-timeout", "30", "-trace_msg"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    try:
        wait_listening(port, uas)
        done = subprocess.run(
            sansip("call", f"sip:service@127.0.0.1:{port}", "--hold", "0.5,60",
                   "--duration", "10", "-p", "codec=pcmu", "--json"),
            capture_output=True, timeout=40, check=False,
        )  # fmt: skip
        out, _ = uas.communicate(timeout=30)
    finally:
        if uas.poll() is None:
            uas.kill()
    assert uas.returncode == 0, out.decode(errors="replace")[-2000:]
    assert done.returncode == 0, done.stderr.decode()
    record = json.loads(done.stdout)
    assert record["status"] == 200 and record["reason"] == "User Hung Up"
    assert record["holds"] == 1  # the retried hold was accepted
    trace = _sipp_trace(tmp_path)
    ours = [(t, m) for t, way, m in trace if way == "sent"]
    theirs = [(t, m) for t, way, m in trace if way == "received"]
    refused = next(t for t, m in ours if m.startswith("SIP/2.0 491"))
    holds = [(t, m) for t, m in theirs if re.match(r"INVITE .*\n(?s:.*)a=sendonly", m)]
    assert len(holds) == 2, [m.split("\n", 1)[0] for _, m in theirs]
    first, retry = holds
    assert first[0] < refused < retry[0]
    cseqs = [int(re.findall(r"^CSeq: (\d+) INVITE", m, flags=re.M)[0]) for _, m in holds]
    assert cseqs[1] > cseqs[0], cseqs  # a new transaction
    # 2.1-4 s after the 491 (the log stamps it as it goes, before sansip
    # reads it); the upper bound leaves room for a loaded machine.
    assert 2.0 <= retry[0] - refused <= 7.0, retry[0] - refused


SESSION_EXPIRY_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="a 90 s session SIPp refreshes, and it never does: sansip sends BYE">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:sipp@[local_ip]:[local_port]
Supported: timer
Session-Expires: 90;refresher=uac
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=sipp 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true">
    <action>
      <ereg regexp="Session-Expires: 90;refresher=uac" search_in="msg" check_it="true"
            assign_to="timer"/>
    </action>
  </recv>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: [service] <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
X-Timer: [$timer]
Max-Forwards: 70
Content-Length: 0

]]></send>
""" + _bye_from_sansip(110000)


@pytest.mark.timeout(180)
def test_a_session_sipp_never_refreshes_expires_with_a_bye(tmp_path: Path) -> None:
    """SIPp asks for a 90 s session it refreshes itself (RFC 4028), then
    never refreshes: sansip sends BYE before it expires, at 90 - min(32,
    90/3) = 60 s after its 2xx (§10), and ends the call as expired."""
    sipp = require("sipp", "sip-tester")
    port = free_udp_port()
    scenario = tmp_path / "expiry.xml"
    scenario.write_text(SESSION_EXPIRY_UAC)
    answer = start(sansip("answer", "--listen", f"127.0.0.1:{port}", "--count", "1", "--json",
                          "--no-media"), tmp_path / "answer.log")  # fmt: skip
    try:
        wait_listening(port, answer)
        done = subprocess.run(
            [sipp, "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(free_udp_port()),
             "-m", "1", "-nostdin", "-timeout", "130", "-trace_msg", f"127.0.0.1:{port}"],
            capture_output=True, timeout=150, check=False, cwd=tmp_path,
        )  # fmt: skip
        assert answer.wait(15) == 0
    finally:
        stop(answer)
    assert done.returncode == 0, done.stdout.decode(errors="replace")[-2000:]
    record = json.loads([x for x in (tmp_path / "answer.log").read_text().splitlines()
                         if x.startswith("{")][-1])  # fmt: skip
    assert record["status"] == 200 and record["reason"] == "session expired"
    trace = _sipp_trace(tmp_path)
    answered = next(t for t, way, m in trace if way == "received" and m.startswith("SIP/2.0 200"))
    bye = next(t for t, way, m in trace if way == "received" and m.startswith("BYE "))
    assert 55.0 <= bye - answered <= 95.0, bye - answered  # 60 s, with room for a loaded machine
