"""``leadsync sandbox serve``: both vendors' APIs on one port until SIGINT/SIGTERM."""

from __future__ import annotations

import signal
import sys
from typing import Any, Callable

from connector.sandbox import Sandbox


def serve_sandbox(*, host: str, port: int, token: str, data: str | None, seed: int,
                  latency_ms: int, error_rate: float, echo: Callable[..., None]) -> None:
    """Serve until stopped; ``OSError`` when the port cannot be listened on."""
    faults = {k: v for k, v in {"latency_ms": latency_ms, "error_rate": error_rate}.items() if v}
    server = Sandbox(host=host, port=port, token=token, data=data, faults=faults, seed=seed)

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    echo(f"leadsync sandbox on {server.url}  (HubSpot portal {server.portal_id})")
    echo(f"Salesforce instance_url = \"{server.url}\"; HubSpot base_url = \"{server.url}\"")
    echo("Admin endpoints under /_sandbox/ (not a vendor API). Ctrl-C to stop.", err=True)
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    echo("sandbox stopped", err=True)
