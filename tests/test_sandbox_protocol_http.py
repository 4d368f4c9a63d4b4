"""HTTP framing and size limits of the sandbox's server, over raw sockets and requests.

Chunked request bodies (RFC 9112 §7.1) must be decoded and fully consumed, or the next request
on a kept-alive connection reads garbage; Salesforce's 16,384-byte URI+headers limit answers
414/431; a SOQL statement over 100,000 characters is MALFORMED_QUERY.
"""

from __future__ import annotations

import json
import socket
import time

import requests

TOKEN_HEADER = "Authorization: Bearer {token}\r\n"


def _connect(url: str) -> socket.socket:
    host, port = url.split("//")[1].split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    return sock


def _read_responses(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Read ``count`` Content-Length-framed responses from a socket."""
    buf = b""
    out: list[tuple[int, dict[str, str], bytes]] = []
    deadline = time.monotonic() + 5
    while len(out) < count and time.monotonic() < deadline:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        out.append((status, headers, rest[:length]))
        buf = rest[length:]
    return out


def _chunked(body: bytes, sizes: list[int]) -> bytes:
    out, at = b"", 0
    for i, size in enumerate(sizes):
        piece = body[at:at + size]
        at += size
        ext = b";note=x" if i == 0 else b""
        out += b"%x%s\r\n%s\r\n" % (len(piece), ext, piece)
    if at < len(body):
        out += b"%x\r\n%s\r\n" % (len(body) - at, body[at:])
    return out + b"0\r\nX-Checksum: none\r\n\r\n"


def test_chunked_body_is_read_whole_and_the_next_request_on_the_connection_still_works(sandbox):
    body = json.dumps({"LastName": "Chunked", "Company": "Acme", "Email": "c@acme.example"}).encode()
    first = (b"POST /services/data/v59.0/sobjects/Lead/ HTTP/1.1\r\nHost: sandbox\r\n"
             + TOKEN_HEADER.format(token=sandbox.token).encode()
             + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
             + _chunked(body, [7, 13]))
    second = (b"GET /services/data/v59.0/query/?q=SELECT+LastName,Email+FROM+Lead HTTP/1.1\r\n"
              b"Host: sandbox\r\n" + TOKEN_HEADER.format(token=sandbox.token).encode() + b"\r\n")
    with _connect(sandbox.url) as sock:
        sock.sendall(first + second)           # pipelined: the second follows the trailer
        replies = _read_responses(sock, 2)
    assert [r[0] for r in replies] == [201, 200]
    created = json.loads(replies[0][2])
    assert created["success"] is True and created["id"].startswith("00Q")
    records = json.loads(replies[1][2])["records"]
    assert [(r["LastName"], r["Email"]) for r in records] == [("Chunked", "c@acme.example")]


def test_chunked_body_with_content_length_too_follows_transfer_encoding(sandbox):
    body = json.dumps({"LastName": "Both", "Company": "Acme"}).encode()
    request = (b"POST /services/data/v59.0/sobjects/Lead/ HTTP/1.1\r\nHost: s\r\n"
               + TOKEN_HEADER.format(token=sandbox.token).encode()
               + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(body, []))
    with _connect(sandbox.url) as sock:
        sock.sendall(request)
        (status, _, reply), = _read_responses(sock, 1)
    assert status == 201, reply
    assert [r["LastName"] for r in sandbox.app.salesforce.records("Lead")] == ["Both"]


def test_requests_streams_a_generator_body_chunked_and_the_sandbox_reads_it(sandbox):
    """requests sends an iterator body with Transfer-Encoding: chunked (no Content-Length)."""
    payload = json.dumps({"LastName": "Gen", "Company": "Acme"}).encode()

    def parts():
        yield payload[:5]
        yield payload[5:]

    with requests.Session() as s:
        resp = s.post(f"{sandbox.url}/services/data/v59.0/sobjects/Lead/", data=parts(),
                      headers={"Authorization": f"Bearer {sandbox.token}",
                               "Content-Type": "application/json"})
        assert resp.request.headers.get("Transfer-Encoding") == "chunked"
        assert resp.status_code == 201, resp.text
        again = s.get(f"{sandbox.url}/services/data/v59.0/limits/",
                      headers={"Authorization": f"Bearer {sandbox.token}"})
        assert again.status_code == 200


def test_malformed_chunk_size_gets_400_and_the_connection_is_closed(sandbox):
    request = (b"POST /services/data/v59.0/sobjects/Lead/ HTTP/1.1\r\nHost: s\r\n"
               + TOKEN_HEADER.format(token=sandbox.token).encode()
               + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")
    with _connect(sandbox.url) as sock:
        sock.sendall(request)
        (status, headers, _), = _read_responses(sock, 1)
        assert status == 400 and headers.get("connection") == "close"
        assert sock.recv(10) == b""           # closed: the framing after it is unknowable
    assert sandbox.app.salesforce.records("Lead") == []


def test_unsupported_transfer_coding_is_refused_not_misread(sandbox):
    request = (b"POST /services/data/v59.0/sobjects/Lead/ HTTP/1.1\r\nHost: s\r\n"
               + TOKEN_HEADER.format(token=sandbox.token).encode()
               + b"Transfer-Encoding: gzip\r\n\r\n")
    with _connect(sandbox.url) as sock:
        sock.sendall(request)
        (status, _, body), = _read_responses(sock, 1)
    assert status == 400 and b"Transfer-Encoding" in body


def test_uri_over_16384_bytes_gets_414_as_salesforce_answers(sandbox):
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    base = f"{sandbox.url}/services/data/v59.0/query/?q="
    path_len = len("/services/data/v59.0/query/?q=")
    just_fits = "SELECT+Id+FROM+Lead+WHERE+LastName+!%3D+%27" + "x" * 1000 + "%27"
    assert requests.get(base + just_fits, headers=headers).status_code == 200
    too_long = "SELECT+Id+FROM+Lead+WHERE+LastName+%3D+%27" + "x" * (16_384 - path_len) + "%27"
    resp = requests.get(base + too_long, headers=headers)
    assert resp.status_code == 414
    assert "URI Too Long" in resp.text
    assert sandbox.counters["salesforce.query"] == 1   # refused before routing: no API call


def test_uri_and_headers_over_16384_bytes_get_431(sandbox):
    headers = {"Authorization": f"Bearer {sandbox.token}", "X-Padding": "p" * 9_000,
               "X-More-Padding": "p" * 7_500}
    resp = requests.get(f"{sandbox.url}/services/data/v59.0/limits/", headers=headers)
    assert resp.status_code == 431
    assert "Request Header Fields Too Large" in resp.text
    ok = requests.get(f"{sandbox.url}/services/data/v59.0/limits/",
                      headers={"Authorization": f"Bearer {sandbox.token}", "X-Padding": "p" * 9_000})
    assert ok.status_code == 200


def test_the_salesforce_size_limit_does_not_apply_to_hubspot_paths(sandbox):
    resp = requests.get(f"{sandbox.url}/marketing/v3/forms/?after={'a' * 17_000}",
                        headers={"Authorization": f"Bearer {sandbox.token}"})
    assert resp.status_code not in (414, 431)


def _long_soql(length: int) -> str:
    head = "SELECT Id FROM Lead WHERE LastName != '"
    return head + "x" * (length - len(head) - 1) + "'"


def test_soql_over_100000_characters_is_malformed_query(sandbox):
    """Only reachable where the statement travels in a body: composite and Bulk 2.0 query."""
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    base = f"{sandbox.url}/services/data/v59.0"
    from urllib.parse import quote

    def composite(soql: str) -> dict:
        body = {"compositeRequest": [{"method": "GET", "referenceId": "q",
                                      "url": f"/services/data/v59.0/query/?q={quote(soql)}"}]}
        return requests.post(f"{base}/composite", json=body, headers=headers).json()[
            "compositeResponse"][0]

    limit_ok = composite(_long_soql(100_000))
    assert limit_ok["httpStatusCode"] == 200 and limit_ok["body"]["totalSize"] == 0
    over = composite(_long_soql(100_001))
    assert over["httpStatusCode"] == 400
    assert over["body"] == [{"message": "SOQL statements can not be longer than 100000 characters",
                             "errorCode": "MALFORMED_QUERY"}]
    job = requests.post(f"{base}/jobs/query", headers=headers,
                        json={"operation": "query", "query": _long_soql(100_001)})
    assert job.status_code == 400 and job.json()[0]["errorCode"] == "MALFORMED_QUERY"
