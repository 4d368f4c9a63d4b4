"""``/metrics``: the state's numbers in Prometheus' text format, through prometheus_client.

A custom collector rather than module-level Counters: the truth is the state file, which
``sync``, ``retry`` and the daemon all write, so each scrape reads it (read-only) and reports
it as it is. A counter kept in the daemon's memory would restart at zero with the process and
miss runs other commands recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from connector.commands.health import Snapshot


class StateCollector(Collector):
    """Builds every metric family from one :class:`Snapshot` per scrape."""

    def __init__(self, snapshot: Callable[[], "Snapshot"]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self._snapshot()
        runs = CounterMetricFamily("leadsync_runs", "Runs recorded in the state, by how they ended.",
                                   labels=["status"])
        for status, n in sorted(s.runs_by_status.items()):
            runs.add_metric([status], n)
        yield runs
        responses = GaugeMetricFamily("leadsync_responses", "Responses in the ledger, by outcome.",
                                      labels=["outcome"])
        for outcome, n in s.responses_by_outcome.items():
            responses.add_metric([outcome], n)
        yield responses
        parked = GaugeMetricFamily("leadsync_parked_responses",
                                   "Parked (failed) responses waiting for retry, by error code.",
                                   labels=["error_code"])
        for code, n in sorted(s.parked_by_code.items()):
            parked.add_metric([code], n)
        yield parked
        if s.api_used is not None and s.api_limit:
            yield GaugeMetricFamily("leadsync_salesforce_api_used",
                                    "The org's daily API requests used, as last seen by a run.",
                                    value=s.api_used)
            yield GaugeMetricFamily("leadsync_salesforce_api_limit",
                                    "The org's daily API request limit, as last seen.", value=s.api_limit)
        if s.last_success is not None:
            yield GaugeMetricFamily("leadsync_last_success_timestamp_seconds",
                                    "When the last good run (ok, partial, stopped) finished.",
                                    value=s.last_success.timestamp())
        if s.newest_response_ms is not None:
            yield GaugeMetricFamily("leadsync_newest_response_lag_seconds",
                                    "Age of the newest response recorded (the highest watermark).",
                                    value=max(0.0, s.now.timestamp() - s.newest_response_ms / 1000))
        yield GaugeMetricFamily("leadsync_healthy", "1 when /healthz answers 200, else 0.",
                                value=1 if s.healthy else 0)
