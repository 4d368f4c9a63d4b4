"""Is the sync healthy? One set of rules for ``status --check``, ``/healthz`` and the alerts.

Unhealthy, one :class:`Reason` each, when:

- ``stale``: the last good run (ok, partial or stopped) finished longer ago than
  ``[alerts] stale_after`` (see :meth:`AlertSettings.stale_seconds` for its default);
- ``aborted``: the last finished run aborted (or stopped on configuration, or crashed);
- ``budget``: the last finished run stopped at the Salesforce API budget;
- ``new_parked``: the last finished run parked responses for an error code no earlier
  run's parked rows carry: a new kind of failure wants a person, a known one waits for
  ``retry``. (The ledger keeps each row's latest run, so a code whose rows were all retried
  away counts as new if it comes back.)

:func:`evaluate` is pure (rows in, :class:`Health` out); :func:`read_health` reads the state
read-only, so it never disturbs a daemon holding the lock, and makes no API call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence

from connector.config.settings import Settings

GOOD_STATUSES = frozenset({"ok", "partial", "stopped"})
ABORTED_STATUSES = frozenset({"aborted", "config", "crashed"})
RUNS_READ = 100          # how far back the last good run is looked for
CHECK_EXIT_CODE = 3      # `status --check` when unhealthy: "problems found", as reconcile's 3


@dataclass(frozen=True)
class Reason:
    code: str       # stale | aborted | budget | new_parked
    message: str    # one line for a person; from the state alone (no secret, no URL)


@dataclass(frozen=True)
class Health:
    reasons: tuple[Reason, ...]
    last_run_id: str | None = None
    last_status: str | None = None

    @property
    def ok(self) -> bool:
        return not self.reasons

    def lines(self) -> list[str]:
        """What ``--check`` and ``/healthz`` print: "ok", or one line per reason."""
        return ["ok"] if self.ok else [f"{r.code}: {r.message}" for r in self.reasons]


def evaluate(*, runs: Sequence[Mapping[str, Any]], parked_codes: Iterable[tuple[str, str]],
             now: datetime, stale_after: int, since: datetime | None = None) -> Health:
    """The health of the sync from its runs (newest first) and parked (run id, code) pairs.

    ``since`` is when the watcher started (the daemon's ``/healthz``): with no good run yet,
    the sync is stale only once ``stale_after`` has passed since then. Without it
    (``status --check``) no good run at all is stale: nothing has reached Salesforce.
    """
    finished = [r for r in runs if r.get("status") not in (None, "running")]
    last = finished[0] if finished else None
    reasons: list[Reason] = []
    good = next((r for r in finished if r.get("status") in GOOD_STATUSES), None)
    good_at = _parse(good.get("finished_at")) if good else None
    if good_at is not None:
        age = (now - good_at).total_seconds()
        if age > stale_after:
            reasons.append(Reason("stale", f"last good run finished {_span(age)} ago "
                                           f"({good.get('finished_at') if good else ''}); "
                                           f"stale after {_span(stale_after)}"))
    elif since is None or (now - since).total_seconds() > stale_after:
        where = f"among the last {RUNS_READ} runs" if len(runs) >= RUNS_READ else "recorded"
        reasons.append(Reason("stale", f"no good run {where} (stale after {_span(stale_after)})"))
    if last is not None and last.get("status") in ABORTED_STATUSES:
        error = str(last.get("error") or "no error recorded")[:200]
        reasons.append(Reason("aborted", f"last run {last['id']} {last['status']} at "
                                         f"{last.get('finished_at')}: {error}"))
    if last is not None and last.get("status") == "budget":
        reasons.append(Reason("budget", f"last run {last['id']} stopped at the Salesforce API "
                                        f"budget at {last.get('finished_at')}"))
    if last is not None:
        pairs = list(parked_codes)
        mine = {code for run, code in pairs if run == last["id"]}
        earlier = {code for run, code in pairs if run != last["id"]}
        new = sorted(mine - earlier)
        if new:
            reasons.append(Reason("new_parked", f"last run {last['id']} parked responses for "
                                                f"new error codes: {', '.join(new)}"))
    return Health(tuple(reasons), last["id"] if last else None,
                  last.get("status") if last else None)


def read_health(settings: Settings, *, now: datetime | None = None,
                daemon_interval: float | None = None, since: datetime | None = None) -> Health:
    """:func:`evaluate` on the state at ``settings.state_path``, opened read-only."""
    from connector.adapters.sqlite.ledger import State

    state = State.open_read_only(settings.state_path)
    try:
        return evaluate(runs=state.runs(RUNS_READ), parked_codes=state.parked_codes_by_run(),
                        now=now or datetime.now(timezone.utc),
                        stale_after=settings.alerts.stale_seconds(daemon_interval), since=since)
    finally:
        state.close()


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _span(seconds: float) -> str:
    """90 -> "1m30s": durations as an admin writes them in the config."""
    s = int(seconds)
    parts = [(s // 86400, "d"), (s % 86400 // 3600, "h"), (s % 3600 // 60, "m"), (s % 60, "s")]
    return "".join(f"{n}{u}" for n, u in parts if n) or "0s"


# -- /healthz and /metrics (leadsync daemon --http) -----------------------------------------

def parse_http(text: str) -> tuple[str, int]:
    """``--http HOST:PORT`` -> (host, port); ``:8080`` listens on every interface (a container's
    probe comes from outside it), ``[::1]:8080`` is an IPv6 host."""
    from connector.errors import ConfigError

    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError("must be HOST:PORT, e.g. :8080 or 127.0.0.1:8080", key="--http")
    return host.strip("[]"), int(port)


def start_http(settings: Settings, address: tuple[str, int], *,
               daemon_interval: float | None = None,
               current: Callable[[], Settings] | None = None) -> Any:
    """Serve ``/healthz`` (200 "ok", or 503 with a line per reason) and ``/metrics`` on a
    daemon thread; returns the server (``shutdown()`` stops it). ``current`` gives the
    settings in force at each request (the daemon's, which a reload replaces: a new
    ``[alerts] stale_after`` applies to the probe at once).

    Every request opens the state read-only on its own connection (an SQLite connection
    belongs to its thread, and a scrape must never take the lock the daemon holds), so the
    answers are the state's, as ``status --check`` would give them, at that moment.
    """
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    from connector.render.metrics import StateCollector

    started = datetime.now(timezone.utc)

    now_in_force = current or (lambda: settings)

    def health() -> Health:
        return read_health(now_in_force(), daemon_interval=daemon_interval, since=started)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(lambda: read_snapshot(now_in_force(), health())))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            try:
                if path == "/healthz":
                    h = health()
                    self._send(200 if h.ok else 503, "text/plain; charset=utf-8",
                               ("\n".join(h.lines()) + "\n").encode())
                elif path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found: /healthz, /metrics\n")
            except Exception as exc:  # noqa: BLE001 - a probe gets an answer, not a dropped socket
                self._send(500, "text/plain; charset=utf-8",
                           f"cannot read the state ({type(exc).__name__})\n".encode())

        def _send(self, code: int, kind: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Silent: a probe every few seconds would drown the daemon's one line per run."""

    server = ThreadingHTTPServer(address, Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="leadsync-http", daemon=True).start()
    return server


@dataclass(frozen=True)
class Snapshot:
    """What ``/metrics`` exposes, read from the state in one go."""

    runs_by_status: dict[str, int]
    responses_by_outcome: dict[str, int]
    parked_by_code: dict[str, int]
    api_used: int | None
    api_limit: int | None
    last_success: datetime | None
    newest_response_ms: int | None
    healthy: bool
    now: datetime


def read_snapshot(settings: Settings, health: Health, *, now: datetime | None = None) -> Snapshot:
    """The metrics' numbers from the state (read-only), beside ``health``'s verdict."""
    from connector.adapters.sqlite.ledger import State
    from connector.commands.status import summarize

    state = State.open_read_only(settings.state_path)
    try:
        runs = state.runs(RUNS_READ)
        s = summarize(runs=runs, watermarks=state.watermarks(), parked=state.park_summary(),
                      daily=state.daily_outcomes(), lock_holder=None,
                      campaigns=[(c.form_id, c.campaign_id) for c in settings.campaigns],
                      budget_share=settings.salesforce.budget_share, state_path=str(settings.state_path))
        by_status = state.runs_by_status()
        marks = list(state.watermarks().values())
    finally:
        state.close()
    usage = s["salesforce_api"]
    return Snapshot(
        runs_by_status=by_status, responses_by_outcome=dict(s["ledger"]),
        parked_by_code={p["error_code"]: p["count"] for p in s["parked"]["by_reason"]},
        api_used=usage["used"] if usage else None, api_limit=usage["limit"] if usage else None,
        last_success=_parse(s["last_good_run_at"]), newest_response_ms=max(marks) if marks else None,
        healthy=health.ok, now=now or datetime.now(timezone.utc))
