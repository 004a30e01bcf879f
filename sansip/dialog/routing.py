"""Where a request within a dialog goes (RFC 3261 §12.2.1.1, §16.12)."""

from __future__ import annotations

from collections.abc import Sequence

from sansip.message.uri import URI, SipURI

__all__ = ["request_target"]


def _request_uri(route: URI) -> URI:
    """A strict-routing Request-URI: the route without what a Request-URI
    may not carry (the ``method`` parameter and URI headers, §19.1.1)."""
    if not isinstance(route, SipURI) or ("method" not in route.params and not route.headers):
        return route
    return route.without_params("method").replace(headers={})


def request_target(remote_target: URI, route_set: Sequence[URI]) -> tuple[URI, list[URI]]:
    """The Request-URI and the Route URIs of a request within a dialog.

    Without a route set: the remote target and no Route.  Loose routing
    (the first route has ``lr``): the remote target, and the route set as
    Route.  Strict routing: the first route as Request-URI (stripped of
    what a Request-URI may not carry), then the other routes and the
    remote target, last, as Route.
    """
    if not route_set:
        return remote_target, []
    first = route_set[0]
    if isinstance(first, SipURI) and first.lr:
        return remote_target, list(route_set)
    return _request_uri(first), [*route_set[1:], remote_target]
