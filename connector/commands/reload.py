"""The daemon's configuration, reloaded on SIGHUP and when the file changed, never for worse.

An admin fixes a routing rule or a form id and expects the daemon to pick it up without a
restart (which would drop the ``/healthz`` endpoint a probe watches and the run in
progress). The daemon asks :meth:`ConfigWatch.check` at the start of each run, and its
sleep asks too once a SIGHUP arrived, so ``systemctl reload`` or ``kill -HUP`` takes effect
at once. A change is seen by the file's fingerprint (size, mtime and a SHA-256 of the bytes:
an editor that keeps the mtime still changes the hash).

A new file that does not load (bad TOML, a key with a wrong value, a missing token) keeps
the old configuration running: the mistake is logged, and alerted through the daemon's
``[alerts] webhook``, once per bad version of the file (a fingerprint), not once per run.
The state file cannot change under a running daemon (it holds that file's locks): a new
``[state] path`` is refused the same way, with the advice to restart.
"""

from __future__ import annotations

import hashlib
import signal
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from connector.config.settings import Settings
from connector.errors import ConfigError, LeadsyncError

SLICE = 0.2


def fingerprint(path: Path) -> tuple[int, int, str] | None:
    """(size, mtime_ns, sha256) of the file, or None when it cannot be read."""
    try:
        stat = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns, digest


@dataclass
class ConfigWatch:
    """Watches the daemon's config file; :meth:`check` returns new settings to switch to."""

    settings: Settings
    log: Callable[[dict[str, Any]], None]
    apply: Callable[[Settings], None]                         # switch the daemon to them
    alert: Callable[[dict[str, Any]], None] | None = None     # posts through the webhook
    load: Callable[[str], Settings] | None = None
    hup: bool = False
    _seen: tuple[int, int, str] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._seen = fingerprint(self.path) if self.path else None

    @property
    def path(self) -> Path | None:
        source = self.settings.source
        return None if not source or source == "<memory>" else Path(source)

    def request(self, *_: Any) -> None:
        """The SIGHUP handler: only a flag (nothing is read inside a signal handler)."""
        self.hup = True

    def check(self) -> Settings | None:
        """When the file changed (or a SIGHUP came) and loads, switch the daemon to it
        (``apply``, which builds its engine: a mapping file that does not fit fails there,
        and counts as invalid too) and return the new settings; else None."""
        path = self.path
        if path is None:
            self.hup = False
            return None
        now = fingerprint(path)
        asked, self.hup = self.hup, False
        if now == self._seen and not asked:
            return None
        if now == self._seen and asked:
            self._log("reload", "SIGHUP: the configuration file is unchanged")
            return None
        self._seen = now          # a bad version is reported once, until the file changes
        try:
            fresh = (self.load or _load)(str(path))
            if Path(fresh.state_path).resolve() != Path(self.settings.state_path).resolve():
                raise ConfigError("changed; the daemon holds the old state file's locks: "
                                  "restart the daemon to move it", key="state.path")
            self.apply(fresh)
        except LeadsyncError as exc:
            self._invalid(str(exc))
            return None
        self.settings = fresh
        self._log("reload", f"configuration reloaded from {path}"
                  + (" (SIGHUP)" if asked else " (file changed)"))
        return fresh

    def _invalid(self, why: str) -> None:
        message = f"the new configuration in {self.path} is invalid, the old one keeps running: {why}"
        self._log("error", message)
        if self.alert is None:
            return
        at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            self.alert({"text": f"leadsync on {socket.gethostname()}: {message}",
                        "leadsync": {"event": "config_invalid", "at": at,
                                     "host": socket.gethostname(), "message": message}})
        except Exception as exc:  # noqa: BLE001 - an alert never stops the daemon
            status = getattr(getattr(exc, "response", None), "status_code", None)
            self._log("alert_failed", f"webhook post failed ({type(exc).__name__}"
                                      f"{f', HTTP {status}' if status else ''})")

    def _log(self, event: str, message: str) -> None:
        self.log({"ts": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "event": event, "message": message})


def _load(path: str) -> Settings:
    from connector.config.settings import load_settings

    return load_settings(path)


def install_hup(watch: ConfigWatch) -> Callable[[], None]:
    """SIGHUP sets the watch's flag; returns a restorer."""
    previous = signal.signal(signal.SIGHUP, watch.request)

    def restore() -> None:
        signal.signal(signal.SIGHUP, previous)

    return restore


def sleep_watching(watch: ConfigWatch) -> Callable[[float, Any], None]:
    """The daemon's sleep: wakes for a stop request, and reloads at once on a SIGHUP."""

    def sleep(seconds: float, stop: Any) -> None:
        end = time.monotonic() + seconds
        while not stop.requested:
            if watch.hup:
                watch.check()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(SLICE, left))

    return sleep
