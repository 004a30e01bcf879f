"""SDP bodies in the style of common SIP peers (written for these tests)."""

from __future__ import annotations

# A desktop softphone offer (baresip-like): LF line ends, opus first, rtcp-mux.
BARESIP_LIKE = b"""v=0
o=- 1743210987 1743210988 IN IP4 192.168.1.20
s=-
c=IN IP4 192.168.1.20
t=0 0
a=tool:softphone 3.10
m=audio 10004 RTP/AVP 96 9 0 8 101
b=AS:128
a=rtpmap:96 opus/48000/2
a=fmtp:96 stereo=1;sprop-stereo=1;useinbandfec=1
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=rtcp-mux
a=sendrecv
a=label:1
a=ssrc:3735928559 cname:2a3b4c5d-1111-2222-3333-444455556666
a=ssrc:3735928559 msid:- audio0
"""

# A PBX answer (Asterisk-like): static types, rtpmap for all, ptime/maxptime.
ASTERISK_LIKE = (
    b"v=0\r\n"
    b"o=- 1522713024 1522713026 IN IP4 203.0.113.5\r\n"
    b"s=Asterisk\r\n"
    b"c=IN IP4 203.0.113.5\r\n"
    b"t=0 0\r\n"
    b"m=audio 15826 RTP/AVP 8 0 101\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=ptime:20\r\n"
    b"a=maxptime:150\r\n"
    b"a=sendrecv\r\n"
)

# A proxy with an RTP relay (rtpengine-like): rtcp attribute, media-level c=.
RTPENGINE_LIKE = (
    b"v=0\r\n"
    b"o=user1 53655765 2353687637 IN IP4 198.51.100.10\r\n"
    b"s=-\r\n"
    b"c=IN IP4 198.51.100.10\r\n"
    b"t=0 0\r\n"
    b"m=audio 30000 RTP/AVP 0 8 18 101\r\n"
    b"c=IN IP4 198.51.100.77\r\n"
    b"a=rtpmap:18 G729/8000\r\n"
    b"a=fmtp:18 annexb=no\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
    b"a=sendrecv\r\n"
    b"a=rtcp:30011 IN IP4 198.51.100.78\r\n"
    b"a=ptime:30\r\n"
)

# A browser offer (WebRTC-like): ICE candidates, DTLS fingerprint, BUNDLE, video.
WEBRTC_LIKE = (
    b"v=0\r\n"
    b"o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    b"s=-\r\n"
    b"t=0 0\r\n"
    b"a=group:BUNDLE 0 1\r\n"
    b"a=extmap-allow-mixed\r\n"
    b"a=msid-semantic: WMS stream0\r\n"
    b"m=audio 49203 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
    b"c=IN IP4 192.0.2.44\r\n"
    b"a=rtcp:9 IN IP4 0.0.0.0\r\n"
    b"a=candidate:1467250027 1 udp 2122260223 192.0.2.44 49203 typ host generation 0 "
    b"network-id 1\r\n"
    b"a=candidate:842163049 1 udp 1686052607 198.51.100.3 49203 typ srflx raddr 192.0.2.44 "
    b"rport 49203 generation 0 network-id 1 network-cost 10\r\n"
    b"a=candidate:4233069003 1 tcp 1518280447 192.0.2.44 9 typ host tcptype active "
    b"generation 0\r\n"
    b"a=ice-ufrag:Oyef\r\n"
    b"a=ice-pwd:7nWSbBMgR+kvZaPSNJdJ3oZb\r\n"
    b"a=ice-options:trickle renomination\r\n"
    b"a=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:36:DD:D5:97:D2:7D:62:C9:9A:"
    b"7F:B9:A3:F9:68:8A:F1:D8:C4:A5:9C:2B\r\n"
    b"a=setup:actpass\r\n"
    b"a=mid:0\r\n"
    b"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    b"a=sendrecv\r\n"
    b"a=msid:stream0 track0\r\n"
    b"a=rtcp-mux\r\n"
    b"a=rtpmap:111 OPUS/48000/2\r\n"
    b"a=rtcp-fb:111 transport-cc\r\n"
    b"a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    b"a=rtpmap:63 red/48000/2\r\n"
    b"a=fmtp:63 111/111\r\n"
    b"a=rtpmap:9 G722/8000\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:13 CN/8000\r\n"
    b"a=rtpmap:110 telephone-event/48000\r\n"
    b"a=rtpmap:126 telephone-event/8000\r\n"
    b"a=ssrc:1001 cname:abcd\r\n"
    b"m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"
    b"c=IN IP4 0.0.0.0\r\n"
    b"a=mid:1\r\n"
    b"a=rtpmap:96 VP8/90000\r\n"
    b"a=rtpmap:97 rtx/90000\r\n"
    b"a=fmtp:97 apt=96\r\n"
    b"a=recvonly\r\n"
)

# An SDES-SRTP offer (RFC 4568) with two crypto suites.
SDES_LIKE = (
    b"v=0\r\n"
    b"o=alice 2890844526 2890844526 IN IP6 2001:db8::1\r\n"
    b"s=call\r\n"
    b"i=A call with keys\r\n"
    b"u=http://example.com/call\r\n"
    b"e=alice@example.com\r\n"
    b"p=+1 555 0100\r\n"
    b"c=IN IP6 2001:db8::1\r\n"
    b"b=CT:256\r\n"
    b"t=2873397496 2873404696\r\n"
    b"r=7d 1h 0 25h\r\n"
    b"z=2882844526 -1h 2898848070 0\r\n"
    b"m=audio 49170 RTP/SAVP 0 101\r\n"
    b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
    b"inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32 KDR=1 UNENCRYPTED_SRTCP\r\n"
    b"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-16\r\n"
)

ALL_SAMPLES = (BARESIP_LIKE, ASTERISK_LIKE, RTPENGINE_LIKE, WEBRTC_LIKE, SDES_LIKE)
