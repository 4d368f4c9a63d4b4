"""The sandbox's HTTP front: one threaded server for both vendors' APIs.

Everything that applies to every endpoint lives here, once: bearer-token checks, per-family
call counters, fault injection (before the handler, or "apply the write, then drop the
reply" after it) and the single lock that makes the in-memory org consistent under
concurrent clients. The vendor modules only describe their endpoints.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Mapping

from . import wire
from . import admin_api, hubspot_api, salesforce_api
from .drop import DROP, Drop
from .faults import Faults
from .http import Request, Response, Router

__all__ = ["DROP", "Sandbox", "SandboxApp", "wait_until_up"]   # DROP: re-exported for tests


class SandboxApp:
    """The emulated org and portal, independent of any socket (tests may call ``handle``)."""

    def __init__(self, token: str = "sandbox", *, data: Mapping[str, Any] | None = None,
                 faults: Mapping[str, Any] | None = None, seed: int = 0,
                 base_url: str = "http://127.0.0.1") -> None:
        self.token = token
        self.base_url = base_url
        self.lock = threading.RLock()
        self.counters: Counter[str] = Counter()
        self.router = Router()
        self.faults = Faults(seed=seed, **dict(faults or {}))
        self.salesforce = salesforce_api.SalesforceApi(self)
        self.hubspot = hubspot_api.HubSpotApi(self)
        self.admin = admin_api.AdminApi(self)
        if data:
            self.load(data)

    # -- dataset -----------------------------------------------------------------------
    def load(self, data: Mapping[str, Any]) -> None:
        with self.lock:
            self.salesforce.load(data.get("salesforce") or {})
            self.hubspot.load(data.get("hubspot") or {})

    def dump(self) -> dict[str, Any]:
        with self.lock:
            return {"salesforce": self.salesforce.dump(), "hubspot": self.hubspot.dump()}

    def reset(self) -> None:
        with self.lock:
            self.salesforce.reset()
            self.hubspot.reset()
            self.counters.clear()

    # -- dispatch ----------------------------------------------------------------------
    def handle(self, req: Request) -> Response | Drop:
        route, params, path_known = self.router.match(req.method, req.path)
        if route is None:
            return self._not_found(req, path_known)
        req.params = params
        if route.auth and not self._authorized(req):
            self.counters[f"{route.family}.unauthorized"] += 1
            return self._unauthorized(route.auth)
        self.counters[route.family] += 1
        self.counters[route.family.split(".")[0]] += 1
        if route.auth != "admin":
            injected = self.faults.before(req, route.family)
            if injected is DROP or isinstance(injected, Response):
                return injected
        response = route.handler(req)
        if route.auth != "admin" and self.faults.after(req, route.family, response) is DROP:
            return DROP
        return response

    def _authorized(self, req: Request) -> bool:
        header = req.header("Authorization") or ""
        scheme, _, value = header.partition(" ")
        return scheme.lower() in ("bearer", "oauth") and value.strip() == self.token

    def _unauthorized(self, auth: str) -> Response:
        if auth == "salesforce":
            return self.salesforce.unauthorized()
        return self.hubspot.unauthorized()

    def _not_found(self, req: Request, path_known: bool) -> Response:
        if req.path.startswith("/services/"):
            return self.salesforce.not_found(req, path_known)
        return self.hubspot.not_found(req, path_known)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "leadsync-sandbox"
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK stalls
    # every keep-alive reply by ~40 ms, which caps a sync at ~25 calls a second.
    disable_nagle_algorithm = True
    app: SandboxApp  # set on the subclass made per server
    raw_requestline: bytes  # set by handle_one_request before do_*; typeshed does not declare it

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # the sandbox is quiet; counters say what happened

    def _serve(self) -> None:
        refused = wire.oversized(self.raw_requestline, self.path, self.headers)
        if refused is None:
            try:
                body = wire.read_body(self.rfile, self.headers)
            except wire.BadFraming as exc:
                # The body's end is unknown, so nothing after it can be read: reply and close.
                refused = Response.text(400, f"bad request body: {exc}")
        if refused is not None:
            self.close_connection = True
            self._send(refused, close=True)
            return
        req = Request.build(self.command, self.path, self.headers, body)
        try:
            result = self.app.handle(req)
        except Exception as exc:  # a sandbox bug must not look like a network fault
            result = Response.json(500, [{"message": f"sandbox internal error: {exc!r}",
                                          "errorCode": "UNKNOWN_EXCEPTION"}])
        if result is DROP:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        assert isinstance(result, Response)
        self._send(result)

    def _send(self, result: Response, close: bool = False) -> None:
        self.send_response(result.status)
        headers = dict(result.headers)
        headers.setdefault("Content-Type", "application/json;charset=UTF-8")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(result.body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(result.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished (killed, timed out) is routine here, not a traceback."""
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Sandbox:
    """Run the sandbox on a port in a background thread: ``with Sandbox() as sb: sb.url``.

    ``port=0`` picks a free port. ``data`` is a dataset dict or the path of a JSON file.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, token: str = "sandbox",
                 data: Mapping[str, Any] | str | Path | None = None,
                 faults: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        dataset: Mapping[str, Any] | None
        if isinstance(data, (str, Path)):
            dataset = json.loads(Path(data).read_text(encoding="utf-8"))
        else:
            dataset = data

        class Handler(_Handler):
            """This server's own handler class, so each server's ``app`` is its own."""

        self._server = _Server((host, port), Handler)
        bound_host, bound_port = self._server.server_address[:2]
        if isinstance(bound_host, (bytes, bytearray)):
            # typeshed allows a bytes host; an AF_INET socket's getsockname() gives str, and a
            # bytes one would put "b'127.0.0.1'" into the URL.
            bound_host = bound_host.decode("ascii")
        self.url = f"http://{bound_host}:{bound_port}"
        self.app = SandboxApp(token, data=dataset, faults=faults, seed=seed, base_url=self.url)
        Handler.app = self.app
        self._thread: threading.Thread | None = None

    @property
    def token(self) -> str:
        return self.app.token

    @property
    def counters(self) -> Counter[str]:
        return self.app.counters

    @property
    def portal_id(self) -> int:
        return self.app.hubspot.portal_id

    def start(self) -> "Sandbox":
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True,
                                        name="leadsync-sandbox")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Block until shut down (the CLI installs SIGINT/SIGTERM handlers that call stop)."""
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until_up(url: str, timeout: float = 5.0) -> None:
    """For scripts that start ``leadsync sandbox serve`` in another process."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{url}/services/data/", timeout=1).read()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
