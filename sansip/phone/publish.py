"""Our presence published to the server (RFC 3903 PUBLISH, RFC 3856), sans-IO:
the first PUBLISH carries the PIDF document; the server's ``SIP-ETag``
names it, and before it expires a body-less PUBLISH with ``SIP-If-Match``
refreshes it; a new status is a PUBLISH with the document and the ETag;
a ``412 Conditional Request Failed`` (the server forgot it) starts over
with the whole document; a refusal is reported as a warning."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from sansip.dialog.call import RequestCompleted
from sansip.message.ids import new_call_id
from sansip.phone.events import PhoneWarning

if TYPE_CHECKING:
    from sansip.phone.core import PhoneCore

__all__ = ["PresencePublisher"]

#: How long a published state lasts unless refreshed, in seconds.
PUBLISH_EXPIRES: Final = 3600
PIDF: Final = "application/pidf+xml"


class PresencePublisher:
    """The PUBLISH side of ``core``'s presence (see the module docstring)."""

    def __init__(self, core: PhoneCore) -> None:
        self.core = core
        self._etag: str | None = None
        self._body = b""
        self._refresh_at: float | None = None
        self._pending: dict[str, bool] = {}  # Call-ID -> whether it carried the document

    def publish(self, body: bytes, now: float) -> None:
        """Publish the document ``body`` (a new state)."""
        self._body = body
        self._send(now, with_body=True)

    def get_timer(self) -> float | None:
        """When the published state must be refreshed; pure."""
        return self._refresh_at

    def handle_timer(self, now: float) -> None:
        """Refresh the published state when due."""
        if self._refresh_at is not None and now >= self._refresh_at:
            self._refresh_at = None
            self._send(now, with_body=self._etag is None)

    def completed(self, event: RequestCompleted, now: float) -> bool:
        """The answer to a PUBLISH of ours (False: not one of ours)."""
        request = event.request
        if request.method != "PUBLISH":
            return False
        carried = self._pending.pop(request.call_id, None)
        if carried is None:
            return False
        status = event.status
        response = event.response
        if 200 <= status < 300 and response is not None:
            etag = response.headers.get("SIP-ETag")
            self._etag = str(etag).strip() if etag is not None else None
            expires = response.headers.get("Expires")
            granted = int(str(expires)) if expires is not None and str(expires).isdigit() else (
                PUBLISH_EXPIRES)  # fmt: skip
            self._refresh_at = now + max(30.0, granted * 0.9 - 5)
        elif status == 412:  # the server forgot our state: the whole document again
            self._etag = None
            self._send(now, with_body=True)
        else:
            reason = response.reason if response is not None else "no answer"
            self.core._emit(PhoneWarning(f"presence not published: {status} {reason}"))
        return True

    def _send(self, now: float, *, with_body: bool) -> None:
        core = self.core
        config = core.config
        if config.serveraddress is None:
            return
        uri, dest = core.destination(config.username, now)
        headers: list[tuple[str, object]] = [("Event", "presence"),
                                             ("Expires", str(PUBLISH_EXPIRES))]  # fmt: skip
        if self._etag is not None:
            headers.append(("SIP-If-Match", self._etag))
        call_id = new_call_id(core._rng, core.ua.endpoint.config.sent_by[0])
        body = self._body if with_body or self._etag is None else b""
        core.ua.send_request("PUBLISH", uri, now, body=body,
                             content_type=PIDF if body else None, headers=headers,
                             dest=dest, call_id=call_id)  # fmt: skip
        self._pending[call_id] = bool(body)
