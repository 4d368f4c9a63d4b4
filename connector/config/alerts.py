"""``[alerts]``: when ``status --check``, ``/healthz`` and the webhook call the sync unhealthy.

Read with the same validators as every other section (unknown keys are errors). The webhook
URL is held as a :class:`~connector.config.settings.Secret`-like value: a Slack incoming
webhook URL *is* its credential (anyone holding it can post to the channel), so it never
reaches a log line, an error message or ``status --json``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from connector.config import validate as v
from connector.config.secret import Secret
from connector.errors import ConfigError

KEYS = {"stale_after", "interval", "webhook", "sla_breach_rate", "sla_window"}
DEFAULT_SLA_WINDOW = 86_400    # the hand-offs of the last day
ENV_WEBHOOK = "LEADSYNC_ALERTS_WEBHOOK"
DEFAULT_STALE_AFTER = 900      # 15m: three of the daemon's default 5m intervals
INTERVALS_BEFORE_STALE = 3


# The webhook URL carries its own token (Slack, Teams): a Secret like the API tokens.
WebhookUrl = Secret


@dataclass(frozen=True)
class AlertSettings:
    """``stale_after``/``interval`` as given (seconds, or None); see :meth:`stale_seconds`."""

    stale_after: int | None = None
    interval: int | None = None
    webhook: WebhookUrl | None = None
    # [lifecycle]: post when more than this share of the window's hand-offs breached the SLA
    sla_breach_rate: float | None = None
    sla_window: int = DEFAULT_SLA_WINDOW

    def stale_seconds(self, daemon_interval: float | None = None) -> int:
        """How old the last good run may be before the sync counts as stale.

        ``status --check`` runs in another process and cannot know the daemon's
        ``--interval``, so the order is: ``stale_after`` if set; else three ``[alerts]
        interval``; else three of the daemon's own interval (only the daemon's ``/healthz``
        knows it); else 15 minutes (three of the default 5m).
        """
        if self.stale_after is not None:
            return self.stale_after
        if self.interval is not None:
            return INTERVALS_BEFORE_STALE * self.interval
        if daemon_interval is not None:
            return int(INTERVALS_BEFORE_STALE * daemon_interval)
        return DEFAULT_STALE_AFTER


def parse_alerts(raw: Any, env: Mapping[str, str]) -> AlertSettings:
    """The ``[alerts]`` table (absent: defaults); ``LEADSYNC_ALERTS_WEBHOOK`` overrides
    ``webhook`` so the URL can stay out of a committed config file."""
    section = v.check_keys({} if raw is None else raw, KEYS, "alerts")
    stale = section.get("stale_after")
    interval = section.get("interval")
    stale_s = None if stale is None else v.duration(stale, "alerts.stale_after")
    interval_s = None if interval is None else v.duration(interval, "alerts.interval")
    if stale_s is not None and stale_s < 1:
        raise ConfigError("must be at least 1s", key="alerts.stale_after")
    if interval_s is not None and interval_s < 1:
        raise ConfigError("must be at least 1s", key="alerts.interval")
    url = env.get(ENV_WEBHOOK) or section.get("webhook")
    webhook = None
    if url is not None:
        # The value is never quoted back: it is the credential.
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+(/\S*)?$", url.strip()):
            raise ConfigError("must be an http(s) URL (the value is not shown)", key="alerts.webhook")
        webhook = WebhookUrl(url.strip())
    rate = v.number_or_none(section.get("sla_breach_rate"), "alerts.sla_breach_rate")
    if rate is not None and not 0 < rate <= 1:
        raise ConfigError("must be a share above 0 and at most 1 (0.2: one hand-off in five)",
                          key="alerts.sla_breach_rate")
    window = v.duration(section.get("sla_window", "24h"), "alerts.sla_window")
    if window < 60:
        raise ConfigError("must be at least 1m", key="alerts.sla_window")
    return AlertSettings(stale_s, interval_s, webhook, sla_breach_rate=rate, sla_window=window)
