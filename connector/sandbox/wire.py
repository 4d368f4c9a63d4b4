"""HTTP/1.1 message framing the sandbox's server needs beyond ``http.server``.

``BaseHTTPRequestHandler`` leaves the request body to the handler. Reading only
``Content-Length`` bodies made every ``Transfer-Encoding: chunked`` request (jsforce's Bulk 2.0
uploads and SOAP/OAuth logins, the ``sf`` CLI's bulk commands) arrive empty, and the unread
chunks were then parsed as the next request on the kept-alive connection. RFC 9112 §7.1 says an
HTTP/1.1 server must understand chunked transfer coding, and §6.3 that Transfer-Encoding
overrides Content-Length, so :func:`read_body` decodes it here, once, for every endpoint.

:func:`oversized` applies Salesforce's request size limit (URI plus headers at most 16,384
bytes: 414 when the URI alone is over, 431 otherwise; Salesforce Help, article 000386264) to the
Salesforce paths, before any routing, as Salesforce's front end does. Sources for both are in
``docs/sandbox-wire-facts.md``.
"""

from __future__ import annotations

from typing import Protocol

from .http import Headers, Response

MAX_REQUEST_HEAD = 16_384                 # Salesforce: URI + headers, in bytes
MAX_BODY = 160 * 1024 * 1024              # more than any upload Salesforce accepts (150 MB)
_MAX_LINE = 8_192                         # a chunk-size or trailer line
_SALESFORCE_PREFIXES = ("/services/", "/id/")


class Reader(Protocol):
    """The request stream: http.server's ``rfile`` (a ``BufferedIOBase``) or a ``BytesIO``."""

    def read(self, size: int, /) -> bytes:
        ...

    def readline(self, size: int, /) -> bytes:
        ...


class BadFraming(ValueError):
    """The request body's framing is unreadable; the connection cannot be reused."""


def read_body(rfile: Reader, headers: Headers) -> bytes:
    """The request body, whether framed by ``Transfer-Encoding: chunked`` or ``Content-Length``."""
    coding = headers.get("Transfer-Encoding")
    if coding:
        codings = [c.strip().lower() for c in coding.split(",") if c.strip()]
        if not codings or codings[-1] != "chunked":
            # RFC 9112 §6.3: a request whose final coding is not chunked has no knowable end.
            raise BadFraming(f"unsupported Transfer-Encoding: {coding}")
        if codings != ["chunked"]:
            raise BadFraming(f"unsupported Transfer-Encoding: {coding}")
        return read_chunked(rfile)
    raw = headers.get("Content-Length")
    if not raw:
        return b""
    try:
        length = int(raw)
    except ValueError:
        raise BadFraming(f"invalid Content-Length: {raw!r}") from None
    if length < 0 or length > MAX_BODY:
        raise BadFraming(f"invalid Content-Length: {raw!r}")
    data = rfile.read(length) if length else b""
    if len(data) != length:
        raise BadFraming("the connection closed inside the body")
    return data


def read_chunked(rfile: Reader) -> bytes:
    """Decode a chunked body (RFC 9112 §7.1): chunks, the last-chunk, trailer fields, CRLF.

    Chunk extensions are ignored and trailer fields discarded, as §7.1.1 and §7.1.2 allow.
    Everything up to and including the final CRLF is consumed, so the next request on the
    connection starts where it should.
    """
    parts: list[bytes] = []
    total = 0
    while True:
        line = _line(rfile)
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadFraming(f"invalid chunk size: {size_text[:40]!r}") from None
        if size < 0:
            raise BadFraming("negative chunk size")
        if size == 0:
            break
        total += size
        if total > MAX_BODY:
            raise BadFraming("chunked body too large")
        data = rfile.read(size)
        if len(data) != size:
            raise BadFraming("the connection closed inside a chunk")
        parts.append(data)
        if rfile.read(2) != b"\r\n":
            raise BadFraming("a chunk does not end with CRLF")
    while _line(rfile):          # trailer section, ended by an empty line
        pass
    return b"".join(parts)


def _line(rfile: Reader) -> bytes:
    line = rfile.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        raise BadFraming("line too long in chunked body")
    if not line.endswith(b"\n"):
        raise BadFraming("the connection closed inside the chunked framing")
    return line.rstrip(b"\r\n")


def oversized(request_line: bytes, target: str, headers: Headers) -> Response | None:
    """Salesforce's 414/431 for a request over 16,384 bytes of URI and headers, else None.

    The body is the HTML error page Salesforce's front end was seen to send for a long URI
    (``<h1>Bad Message 414</h1><pre>reason: URI Too Long</pre>``, quoted in
    dxatscale/sfpowerscripts issue 860); 431's text follows the same pattern.
    """
    if not target.startswith(_SALESFORCE_PREFIXES):
        return None
    uri = len(target.encode("utf-8", "surrogateescape"))
    head = len(request_line) + sum(len(k) + len(v) + 4 for k, v in headers.items()) + 2
    if uri > MAX_REQUEST_HEAD:
        return _jetty(414, "URI Too Long")
    if head > MAX_REQUEST_HEAD:
        return _jetty(431, "Request Header Fields Too Large")
    return None


def _jetty(status: int, reason: str) -> Response:
    return Response.text(status, f"<h1>Bad Message {status}</h1><pre>reason: {reason}</pre>",
                         "text/html;charset=iso-8859-1")
