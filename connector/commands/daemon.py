"""``leadsync daemon``: the sync on a schedule, for hosts without a scheduler of their own.

Three parts, kept apart so each can be tested alone:

- the schedule (pure): how long to wait after a run, given the interval and how many runs
  in a row have failed. Failures back off exponentially up to a cap instead of hammering an
  org that is out of API calls or a HubSpot that is down, and a little jitter keeps a fleet
  of daemons started together from polling in lockstep;
- the log line (pure): one line per run, for humans or as a JSON object, built from the
  run report alone so no token can reach it;
- the loop (:class:`Daemon`), which only sequences ``run -> log -> sleep`` around injected
  callables, and :func:`serve`, the adapter that opens the state, holds its lock for the
  daemon's whole life, builds the engine once and wires SIGTERM/SIGINT to a stop flag.

A stop request never interrupts a write: the engine checks ``should_stop`` between batches,
so the batch in flight is finished and recorded, the run ends as ``stopped``, and the
process exits 0.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from connector.core.counts import RUN_COUNTS
from connector.render.daemon_log import format_event
from connector.render.progress import RunProgress
from connector.config.settings import Settings
from connector.engine.report import RunOptions, RunReport, new_run_id
from connector.errors import LeadsyncError

FAILED_STATUSES = frozenset({"aborted", "budget", "config"})
"""Run statuses that count as a failure for backoff. ``partial`` (some responses parked) is
a finished run: the parked rows wait for ``retry``, and polling faster would not help them."""

DEFAULT_MAX_BACKOFF = 3600.0
SLICE = 0.2  # seconds: how quickly a sleeping daemon notices a stop request


# -- the schedule (pure) -------------------------------------------------------------------

@dataclass(frozen=True)
class Schedule:
    interval: float                         # seconds between the starts of healthy runs
    max_backoff: float = DEFAULT_MAX_BACKOFF  # the longest wait after failures (never below interval)
    jitter: float = 0.1                     # +/- this share of every wait


def next_delay(schedule: Schedule, failures: int, rand: float) -> float:
    """Seconds to wait before the next run.

    ``failures`` is the number of consecutive failed runs (0 after a good one): the wait is
    ``interval * 2**failures``, capped at ``max(interval, max_backoff)``, so a daemon whose
    org hit its API limit waits longer and longer, and returns to the plain interval by itself
    after the first good run. ``rand`` in [0, 1) gives the jitter (injected for tests).
    """
    cap = max(schedule.interval, schedule.max_backoff)
    base = min(schedule.interval * (2 ** min(max(failures, 0), 30)), cap)
    return max(0.0, base * (1 + schedule.jitter * (2 * rand - 1)))


def parse_interval(text: str) -> int:
    """``--interval`` -> seconds, at least 1: a zero interval would poll in a tight loop."""
    from connector.config.settings import parse_duration
    from connector.errors import ConfigError

    seconds = parse_duration(text, key="--interval")
    if seconds < 1:
        raise ConfigError("must be at least 1s", key="--interval")
    return seconds


# -- the log line (pure) -------------------------------------------------------------------


def run_event(report: RunReport, *, failures: int, next_in: float | None, now: datetime) -> dict[str, Any]:
    """One run as a JSON-able event: what a log shipper or an alert rule needs, no secret."""
    return {
        "ts": now.isoformat(timespec="seconds"), "event": "run", "run_id": report.run_id,
        "status": report.status, "method": report.method.value,
        "counts": {k.value: int(report.counts.get(k, 0)) for k in RUN_COUNTS},
        "salesforce_calls": report.sf_calls, "hubspot_calls": report.hs_calls,
        "salesforce_api_usage": None if report.api_used is None else
        {"used": report.api_used, "limit": report.api_limit},
        "seconds": round(report.seconds, 3), "error": report.error,
        "consecutive_failures": failures,
        "next_run_in": None if next_in is None else round(next_in, 1),
    }


# -- the loop ------------------------------------------------------------------------------

@dataclass
class StopFlag:
    """Set by a signal handler; read between batches and while sleeping."""

    requested: bool = False
    reason: str = ""

    def request(self, reason: str) -> None:
        self.requested, self.reason = True, reason

    def __call__(self) -> bool:
        return self.requested


def interruptible_sleep(seconds: float, stop: StopFlag, *, sleep: Callable[[float], None] = time.sleep,
                        clock: Callable[[], float] = time.monotonic) -> None:
    """Sleep up to ``seconds``, waking within :data:`SLICE` of a stop request."""
    end = clock() + seconds
    while not stop.requested:
        left = end - clock()
        if left <= 0:
            return
        sleep(min(SLICE, left))


@dataclass
class Daemon:
    """Run, log, wait; again, until stopped. Every effect is an injected callable."""

    run: Callable[[], RunReport]
    schedule: Schedule
    log: Callable[[dict[str, Any]], None]
    stop: StopFlag = field(default_factory=StopFlag)
    sleep: Callable[[float, StopFlag], None] = interruptible_sleep
    rand: Callable[[], float] = random.random
    now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    failures: int = 0
    runs: int = 0
    after_run: Callable[[RunReport | None], None] | None = None   # the [alerts] webhook

    def _after(self, report: RunReport | None) -> None:
        """The alerts' turn; never the end of the daemon (an alert is not worth a stop)."""
        if self.after_run is None:
            return
        try:
            self.after_run(report)
        except Exception as exc:  # noqa: BLE001
            self.log({"ts": self._ts(), "event": "error",
                      "message": f"alerting failed with {type(exc).__name__}"})

    def serve(self, *, once: bool = False) -> int:
        """Loop until a stop request; returns the process's exit code.

        A stopped daemon exits 0 (it was asked to). ``--once`` exits with the run's own code,
        so cron or a Kubernetes CronJob sees a failed run the way it would from ``sync``.
        """
        while True:
            report = self._one_run()
            self.runs += 1
            self._after(report)
            if report is not None and report.status not in FAILED_STATUSES:
                self.failures = 0
            else:
                self.failures += 1
            if once or self.stop.requested:
                self._log_run(report, None)
                if once and not self.stop.requested:
                    return report.exit_code if report is not None else 1
                return 0
            delay = next_delay(self.schedule, self.failures, self.rand())
            self._log_run(report, delay)
            self.sleep(delay, self.stop)
            if self.stop.requested:
                return 0

    def _one_run(self) -> RunReport | None:
        try:
            return self.run()
        except LeadsyncError as exc:
            # Our own errors say what to do, and their text is made safe to log (no email,
            # no SOQL values, capped): the admin reads why, not just that.
            self.log({"ts": self._ts(), "event": "error",
                      "message": f"run failed: {exc}; will retry"})
            return None
        except Exception as exc:  # noqa: BLE001 - a daemon outlives one bad run
            # Only the exception's type: an unexpected error's text may quote a request.
            self.log({"ts": self._ts(), "event": "error",
                      "message": f"run crashed with {type(exc).__name__}; will retry"})
            return None

    def _log_run(self, report: RunReport | None, next_in: float | None) -> None:
        if report is None:
            if next_in is not None:
                self.log({"ts": self._ts(), "event": "backoff", "message": "waiting before the next run",
                          "consecutive_failures": self.failures, "next_run_in": round(next_in, 1)})
            return
        self.log(run_event(report, failures=self.failures, next_in=next_in, now=self.now()))

    def _ts(self) -> str:
        return self.now().isoformat(timespec="seconds")


# -- the adapter ---------------------------------------------------------------------------

def install_stop_signals(stop: StopFlag) -> Callable[[], None]:
    """SIGTERM/SIGINT set the flag (nothing is raised mid-write); returns a restorer."""
    previous = {}

    def handler(signum: int, frame: Any) -> None:
        stop.request(signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


def serve(settings: Settings, *, interval_seconds: float, once: bool = False,
          log_format: str = "human", emit: Callable[[str], None] = print,
          max_backoff: float = DEFAULT_MAX_BACKOFF, http: tuple[str, int] | None = None) -> int:
    """Open the state, hold its daemon lock for the daemon's life, and run the sync on a
    schedule, holding the writer lock only while a run and its steps go on.

    The daemon lock is taken first, so a second daemon on the same state file is refused at
    once, naming this one's pid and host (``StateLocked``); the kernel frees both locks if
    this process is killed, so a replacement starts without manual cleanup. Between runs
    ``retry``, ``parked dismiss`` and ``reconcile --fix`` take the writer lock (lock.py).
    The configuration is read again when its file changed or on SIGHUP (reload.py).

    ``http`` (``--http HOST:PORT``) serves ``/healthz`` and ``/metrics`` from a thread that
    reads the state read-only; ``[alerts] webhook`` is posted after each run (alerts.py).
    """
    from connector.commands.cycle import Cycle, run_steps
    from connector.engine.wiring import open_state

    stop = StopFlag()

    def log(event: dict[str, Any]) -> None:
        emit(format_event(event, log_format))

    state = open_state(settings)
    try:
        state.lock_daemon()   # for its life: a second daemon is refused (lock.py)
        live = _Live(settings, state, log)
        from connector.commands.reload import ConfigWatch, install_hup, sleep_watching

        watch = ConfigWatch(settings, log, live.switch, alert=live.alert)

        def run() -> RunReport:   # each run measures the org's API usage afresh
            watch.check()   # a changed file (or a SIGHUP) is read before the run
            # The writer lock only for the run and its steps: retry, dismiss and reconcile
            # --fix take it between runs, and the daemon waits for theirs (lock.py).
            if not state.lock(wait=float("inf"), should_stop=stop):
                return RunReport(new_run_id(), live.settings.method, False, status="stopped")
            # a long run (a backlog after an outage) says how far it is, every 10 s, as log events
            shown = RunProgress(stream=ProgressLog(log), tty=False, label="daemon",
                                batch_size=live.settings.sync.batch_size)
            try:
                live.engine.watcher = live.engine.progress = shown
                with shown:
                    # the probe picks the forms with news; every form on a full sweep (freshness.py)
                    cycle = live.fresh.cycle(live.engine, RunOptions(keep_details=True, should_stop=stop))
                report = cycle.report
                log({"ts": _now_iso(), **cycle.event()})
                # then the cycle's other steps (lifecycle, rescore, ...): each one's failure is
                # logged and never the run's; a sync that raised skips them (the backoff retries)
                run_steps(live.steps, Cycle(settings=live.settings, state=state,
                                            clients=live.vendors, log=log, should_stop=stop,
                                            now=datetime.now(timezone.utc)))
                return report
            finally:
                live.engine.watcher = live.engine.progress = None
                state.suspend_lock()

        server = None
        if http is not None:
            from connector.commands.health import start_http

            server = start_http(settings, http, daemon_interval=interval_seconds,
                                current=lambda: live.settings)   # a reload applies at once
            log({"ts": _now_iso(), "event": "http", "message": "serving /healthz and /metrics",
                 "address": f"{http[0] or '*'}:{server.server_address[1]}"})
        restore = install_stop_signals(stop)
        restore_hup = install_hup(watch)
        try:
            log({"ts": _now_iso(), "event": "start", "message": "leadsync daemon started",
                 "pid": os.getpid(), "host": socket.gethostname(), "state": str(settings.state_path),
                 "method": settings.method.value, "interval_seconds": interval_seconds,
                 "once": once})
            code = Daemon(run, Schedule(float(interval_seconds), max_backoff), log, stop,
                          sleep=sleep_watching(watch),
                          after_run=live.after_run).serve(once=once)
            log({"ts": _now_iso(), "event": "stop", "message": "leadsync daemon stopped",
                 "reason": stop.reason or ("once" if once else "done"), "exit_code": code})
            return code
        finally:
            restore_hup()
            restore()
            if server is not None:
                server.shutdown()
                server.server_close()
    finally:
        state.close()


class ProgressLog:
    """A text stream for :class:`RunProgress` whose lines become the daemon's log events
    (``"event": "progress"``), so a log collector sees one format. Lines hold counts and
    form ids only, never a person."""

    def __init__(self, log: Callable[[dict[str, Any]], None]) -> None:
        self.log = log
        self._part = ""

    def write(self, text: str) -> int:
        self._part += text
        while "\n" in self._part:
            line, self._part = self._part.split("\n", 1)
            if line.strip():
                self.log({"ts": _now_iso(), "event": "progress", "message": line.strip()})
        return len(text)

    def flush(self) -> None:
        pass


class _Live:
    """What the daemon runs with (engine, clients, steps, the [alerts] webhook), rebuilt from
    new settings on a reload (reload.py); the /healthz thread reads ``settings`` here too."""

    def __init__(self, settings: Settings, state: Any, log: Callable[[dict[str, Any]], None]) -> None:
        self.state, self.log = state, log
        self.switch(settings)

    def switch(self, settings: Settings) -> None:
        from connector.commands.alerts import Alerter
        from connector.commands.cycle import steps_for
        from connector.commands.freshness import Freshness
        from connector.engine.wiring import build_engine, clients

        vendors = clients(settings)
        engine = build_engine(settings, state=self.state, vendors=vendors)
        self.settings, self.vendors, self.engine = settings, vendors, engine
        self.steps = steps_for(settings)
        # which forms each cycle pages; its marks live in the state, so a reload keeps them
        self.fresh = Freshness(settings, state=self.state, hubspot=vendors.hubspot)
        webhook = settings.alerts.webhook   # the incident's memory is in the state: kept
        self.alerter = Alerter(self.state, webhook, self.log) if webhook is not None else None
        if self.alerter is not None and settings.lifecycle is not None \
                and settings.alerts.sla_breach_rate is not None:
            from connector.commands.lifecycle import sla_breach_rate

            window, state = settings.alerts.sla_window, self.state
            self.alerter.sla = lambda: sla_breach_rate(state, window, int(time.time() * 1000))
            self.alerter.sla_threshold = settings.alerts.sla_breach_rate

    def after_run(self, report: RunReport | None) -> None:
        if self.alerter is not None:
            self.alerter.after_run(report)

    def alert(self, body: dict[str, Any]) -> None:
        """A one-off message (an invalid new configuration) through the current webhook."""
        if self.alerter is not None:
            self.alerter.post(self.alerter.webhook, body)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
