"""``[alerts] webhook``: one message per incident, posted by the daemon after each run.

An incident opens on the first run that aborts, stops at the API budget or parks a new
kind of error, and ends at the next good run with none of those. Posting once per incident,
not per run, matters because a daemon backs off and retries: an org out of API calls for a
day would otherwise page the channel every run. The open incident and the error codes seen
so far live in the state's ``meta`` cache (the daemon's writable state), so a restarted
daemon does not post the same incident again.

The body is Slack-compatible (``text``) with the same facts structured under ``leadsync``
for other receivers. The URL is the credential: it is never logged, and a failed post is
logged by the exception's type and HTTP status only (``requests``' messages quote the URL).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from connector.commands.health import ABORTED_STATUSES, GOOD_STATUSES, Reason
from connector.config.alerts import WebhookUrl
from connector.core.lifecycle.figures import BreachRate
from connector.engine.report import RunReport

INCIDENT_KEY = "alerts.incident"
SLA_KEY = "alerts.sla_incident"   # its own incident: a sync can be fine while sales is not
SLA_MIN_HANDOFFS = 5              # below this, one late Lead would read as a 100% breach rate
SEEN_KEY = "alerts.seen_error_codes"
FOREVER = 10 * 365 * 86400.0   # the cache's max age: these entries never expire
TIMEOUT = 10.0


class AlertState(Protocol):
    """What the alerts need of :class:`State` (a writable one: the daemon's)."""

    def cached(self, key: str, max_age_seconds: float) -> Any: ...
    def cache(self, key: str, value: Any) -> None: ...
    def parked_codes_by_run(self) -> list[tuple[str, str]]: ...


def post_json(url: WebhookUrl, body: dict[str, Any]) -> None:
    """POST ``body`` as JSON; raises on a transport error or a non-2xx answer."""
    import requests

    answer = requests.post(url.reveal(), json=body, timeout=TIMEOUT)
    answer.raise_for_status()


def run_reasons(report: RunReport | None, new_codes: list[str]) -> list[Reason]:
    """Why this run opens an incident (empty: it does not). ``None`` is a run that raised."""
    if report is None:
        return [Reason("aborted", "the run failed before it could be recorded")]
    reasons = []
    if report.status in ABORTED_STATUSES:
        reasons.append(Reason("aborted", f"run {report.run_id} {report.status}: "
                                         f"{str(report.error or 'no error recorded')[:200]}"))
    if report.status == "budget":
        reasons.append(Reason("budget", f"run {report.run_id} stopped at the Salesforce API budget"))
    if new_codes:
        reasons.append(Reason("new_parked", f"run {report.run_id} parked responses for new error "
                                            f"codes: {', '.join(new_codes)}"))
    return reasons


@dataclass
class Alerter:
    """Called by the daemon after each run; posts when an incident opens."""

    state: AlertState
    webhook: WebhookUrl
    log: Callable[[dict[str, Any]], None]
    post: Callable[[WebhookUrl, dict[str, Any]], None] = post_json
    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    host: str = field(default_factory=socket.gethostname)
    # [lifecycle] with [alerts] sla_breach_rate: the window's figures, and the share over which
    # sales is not keeping up (an incident of its own, posted once, closed when back under)
    sla: Callable[[], BreachRate] | None = None
    sla_threshold: float | None = None

    def after_run(self, report: RunReport | None) -> None:
        self._run_incident(report)
        self._sla_incident()

    def _run_incident(self, report: RunReport | None) -> None:
        reasons = run_reasons(report, self._new_codes(report))
        incident = self.state.cached(INCIDENT_KEY, FOREVER) or {}
        is_open = bool(incident.get("open"))
        if reasons and not is_open:
            body = self._message(report, reasons)
            try:
                self.post(self.webhook, body)
            except Exception as exc:  # noqa: BLE001 - an alert must never stop the daemon
                status = getattr(getattr(exc, "response", None), "status_code", None)
                self.log({"ts": self._ts(), "event": "alert_failed",
                          "message": f"webhook post failed ({type(exc).__name__}"
                                     f"{f', HTTP {status}' if status else ''}); will try after the next run"})
                return      # not marked open: the next failing run tries again
            self.state.cache(INCIDENT_KEY, {"open": True, "opened_at": self._ts(),
                                            "run_id": report.run_id if report else None,
                                            "reasons": [r.code for r in reasons]})
            self.log({"ts": self._ts(), "event": "alert", "message": "incident opened; webhook posted",
                      "reasons": [r.code for r in reasons]})
        elif not reasons and is_open and report is not None and report.status in GOOD_STATUSES:
            self.state.cache(INCIDENT_KEY, {**incident, "open": False, "closed_at": self._ts(),
                                            "closed_by": report.run_id})
            self.log({"ts": self._ts(), "event": "alert", "message": "incident closed by a good run",
                      "run_id": report.run_id})

    def _sla_incident(self) -> None:
        if self.sla is None or self.sla_threshold is None:
            return
        rate = self.sla()
        over = rate.handoffs >= SLA_MIN_HANDOFFS and rate.share > self.sla_threshold
        incident = self.state.cached(SLA_KEY, FOREVER) or {}
        if over and not incident.get("open"):
            said = (f"{rate.breached} of {rate.handoffs} hand-offs ({rate.share:.0%}) breached the "
                    f"SLA, over the {self.sla_threshold:.0%} alert threshold")
            body = {"text": f"leadsync on {self.host}: sales is not keeping up with hand-offs\n• {said}",
                    "leadsync": {"event": "sla_breach_rate", "at": self._ts(), "host": self.host,
                                 "handoffs": rate.handoffs, "breached": rate.breached,
                                 "share": round(rate.share, 4), "threshold": self.sla_threshold}}
            try:
                self.post(self.webhook, body)
            except Exception as exc:  # noqa: BLE001 - an alert must never stop the daemon
                self.log({"ts": self._ts(), "event": "alert_failed",
                          "message": f"webhook post failed ({type(exc).__name__}); "
                                     "will try after the next run"})
                return
            self.state.cache(SLA_KEY, {"open": True, "opened_at": self._ts(),
                                       "share": round(rate.share, 4)})
            self.log({"ts": self._ts(), "event": "alert", "message": "SLA incident opened; webhook posted",
                      "reasons": ["sla_breach_rate"]})
        elif not over and incident.get("open"):
            self.state.cache(SLA_KEY, {**incident, "open": False, "closed_at": self._ts()})
            self.log({"ts": self._ts(), "event": "alert", "message": "SLA incident closed: "
                      f"{rate.breached} of {rate.handoffs} hand-offs breached"})

    def _new_codes(self, report: RunReport | None) -> list[str]:
        """This run's parked error codes that no earlier alert check had seen (then seen)."""
        if report is None:
            return []
        pairs = self.state.parked_codes_by_run()
        mine = {code for run, code in pairs if run == report.run_id}
        stored = self.state.cached(SEEN_KEY, FOREVER)
        seen = set(stored) if stored is not None else {c for run, c in pairs if run != report.run_id}
        new = sorted(mine - seen)
        if stored is None or new:
            self.state.cache(SEEN_KEY, sorted(seen | mine))
        return new

    def _message(self, report: RunReport | None, reasons: list[Reason]) -> dict[str, Any]:
        lines = "\n".join(f"• {r.code}: {r.message}" for r in reasons)
        return {
            "text": f"leadsync on {self.host}: sync needs attention\n{lines}",
            "leadsync": {"event": "incident_opened", "at": self._ts(), "host": self.host,
                         "run_id": report.run_id if report else None,
                         "status": report.status if report else "crashed",
                         "reasons": [{"code": r.code, "message": r.message} for r in reasons]},
        }

    def _ts(self) -> str:
        return self.now().isoformat(timespec="seconds")
