"""The blocking client's own line to the service: httpcore's connection pool, fed directly.

Why not an ``httpx.HTTPTransport``: a transport takes an ``httpx.Request``, and building one
means ``httpx.URL`` parsing and re-validating the query string character by character
(about 40 us for a SendChatappMessage URL, as much as all of this package's own work on a
message), only for httpx's transport to take the URL apart again into the pieces httpcore
wants. httpcore (httpx's own engine, a kept library, used through its public API) takes those
pieces as they are: scheme, host, port and the request target, which the request builder
already holds. ``benchmarks/client_overhead.py`` measures the difference.

The line is used only when the client was given no ``transport=``; with one (the sandbox, a
wrapper that logs or changes traffic, a test double), every request goes to it as an
``httpx.Request``. Proxies from the environment go through ``httpcore.Proxy``, TLS through the
context ``httpx.create_ssl_context()`` makes (what httpx itself trusts). httpcore's failures
come back as the httpx exceptions of the same names, which the client sorts into "surely not
sent" and "outcome unknown".
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

import httpcore
import httpx

__all__ = ["HttpcoreLine"]

_LOG = logging.getLogger("httpx")  # the line httpx.Client logs for each request
_ERRORS = (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
           httpcore.ProxyError, httpcore.UnsupportedProtocol)


def _as_httpx(exc: Exception) -> httpx.TransportError:
    """httpcore's exception as httpx's of the same name (httpx's own mapping is private)."""
    kind = getattr(httpx, type(exc).__name__, None)
    if not (isinstance(kind, type) and issubclass(kind, httpx.TransportError)):
        kind = httpx.RemoteProtocolError if isinstance(exc, httpcore.ProtocolError) else \
            httpx.TransportError
    return kind(str(exc) or type(exc).__name__)


class HttpcoreLine:
    """Keep-alive connections to one origin; ``send`` returns status, headers and a body
    iterator to read from (and ``close``)."""

    def __init__(self, base_url: str, *, proxy: str | None = None) -> None:
        parts = urlsplit(base_url)
        self.scheme = parts.scheme.encode("ascii")
        self.host = (parts.hostname or "").encode("idna")
        self.port = parts.port
        self._base_url = base_url
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context() if parts.scheme == "https" else None,
            proxy=httpcore.Proxy(proxy) if proxy else None,
            max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)

    def __repr__(self) -> str:
        return f"HttpcoreLine({self._base_url!r})"

    def send(self, target: bytes, headers: list[tuple[bytes, bytes]],
             timeout: Mapping[str, float | None]) -> tuple[int, list[tuple[bytes, bytes]],
                                                           httpcore.Response]:
        """POST ``target`` with an empty body; the answer's body is still to be read."""
        request = httpcore.Request(
            b"POST", httpcore.URL(scheme=self.scheme, host=self.host, port=self.port,
                                  target=target),
            headers=headers, content=b"", extensions={"timeout": dict(timeout)})
        try:
            response = self._pool.handle_request(request)
        except _ERRORS as exc:
            raise _as_httpx(exc) from exc
        if _LOG.isEnabledFor(logging.INFO):
            _LOG.info('HTTP Request: POST %s%s "HTTP/1.1 %d"', self._base_url,
                      target.decode("ascii"), response.status)
        return response.status, response.headers, response

    @staticmethod
    def body(response: httpcore.Response) -> Iterator[bytes]:
        """The answer's body in chunks, as it arrives; failures as httpx exceptions."""
        try:
            yield from response.iter_stream()
        except _ERRORS as exc:
            raise _as_httpx(exc) from exc

    def close(self) -> None:
        self._pool.close()
