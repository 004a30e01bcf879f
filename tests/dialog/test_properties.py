"""Random sequences of in-dialog activity: the local CSeq only grows, the
remote CSeq never goes back, and only the documented errors come out."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from sansip.dialog import MAX_CSEQ, Dialog, DialogState
from sansip.message import LocalProtocolError, ParseError, make_response
from tests.conftest import examples
from tests.dialog.flows import in_dialog_request, invite, response, with_via

METHODS = ["INVITE", "UPDATE", "INFO", "OPTIONS", "MESSAGE", "NOTIFY", "REFER", "PRACK", "BYE",
           "ACK", "CANCEL"]  # fmt: skip
STATUSES = [100, 180, 200, 202, 408, 481, 486, 491, 500]

send = st.tuples(st.just("send"), st.sampled_from(METHODS))
ack = st.tuples(st.just("ack"), st.integers(-1, 40))
receive = st.tuples(st.just("receive"), st.sampled_from(METHODS), st.integers(0, MAX_CSEQ))
answer = st.tuples(st.just("answer"), st.sampled_from(STATUSES), st.booleans())
terminate = st.tuples(st.just("terminate"))
operations = st.lists(st.one_of(send, ack, receive, answer, terminate), max_size=40)


def make_dialog(uac: bool, early: bool) -> Dialog:
    if uac:
        return Dialog.from_uac(invite(), response(180 if early else 200, "X"))
    req = invite()
    resp = make_response(
        req,
        180 if early else 200,
        to_tag="314159",
        headers=[("Contact", "<sip:bob@127.0.0.2:5062>")],
    )
    return Dialog.from_uas(req, resp)


@settings(max_examples=examples(150))
@given(uac=st.booleans(), early=st.booleans(), ops=operations)
def test_random_in_dialog_activity(uac: bool, early: bool, ops: list[tuple[object, ...]]) -> None:
    dialog = make_dialog(uac, early)
    sent_cseqs = [dialog.local_cseq] if dialog.local_cseq is not None else []
    last_sent = None
    for op in ops:
        remote_before = dialog.remote_cseq
        was_terminated = dialog.state is DialogState.TERMINATED
        try:
            if op[0] == "send":
                assert isinstance(op[1], str)
                last_sent = dialog.create_request(op[1])
                sent_cseqs.append(last_sent.cseq.seq)
                assert dialog.local_cseq == last_sent.cseq.seq
                assert with_via(last_sent).cseq == last_sent.cseq
            elif op[0] == "ack":
                assert isinstance(op[1], int)
                before = dialog.local_cseq
                assert dialog.create_ack(op[1]).cseq.seq == op[1]
                assert dialog.local_cseq == before
            elif op[0] == "receive":
                assert isinstance(op[1], str) and isinstance(op[2], int)
                request = in_dialog_request(
                    op[1], op[2], contact="<sip:peer@127.0.0.3>", from_uac=not uac
                )
                dialog.receive_request(request)
            elif op[0] == "answer" and last_sent is not None:
                assert isinstance(op[1], int)
                reply = make_response(last_sent, op[1])
                if op[2]:
                    reply.headers.add("Contact", "<sip:peer@127.0.0.4>")
                dialog.update_from_response(reply)
            elif op[0] == "terminate":
                dialog.terminate()
        except (LocalProtocolError, ParseError) as exc:  # the documented errors
            if isinstance(exc, ParseError):
                assert exc.status in (481, 500)
            assert dialog.remote_cseq == remote_before
        if was_terminated:
            assert dialog.state is DialogState.TERMINATED
        if remote_before is not None:
            assert dialog.remote_cseq is not None and dialog.remote_cseq >= remote_before
    assert all(a < b for a, b in pairwise(sent_cseqs))
