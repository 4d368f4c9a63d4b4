"""Slow-changing vendor answers (the org's describe) kept between runs, in the ``meta`` table.

In the state file rather than a cache directory because a scheduled run already opens it
and owns it, and its owner-only permissions cover the copy. A read-only state (a dry run,
``status``) reads the cache but never writes it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import sqlite_utils

from connector.adapters.sqlite.schema import now_iso


class Cache:
    """Values by key in ``meta`` as ``cache:<key>``, each stamped with when it was stored."""

    def __init__(self, db: sqlite_utils.Database, *, read_only: bool) -> None:
        self.db = db
        self.read_only = read_only

    def cached(self, key: str, max_age_seconds: float) -> Any:
        """A value stored by :meth:`cache` no older than ``max_age_seconds``, else None."""
        entry = self.entry(key)
        if entry is None:
            return None
        value, stored = entry
        if (datetime.now(timezone.utc) - stored).total_seconds() > max_age_seconds:
            return None
        return value

    def entry(self, key: str) -> tuple[Any, datetime] | None:
        """A value stored by :meth:`cache` and when it was stored, whatever its age: for a
        caller that falls back to an old copy when the vendor cannot be asked, and says how
        old it is (the status page's names)."""
        row = next(self.db.query("SELECT value FROM meta WHERE key = ?", [f"cache:{key}"]), None)
        if row is None:
            return None
        try:
            entry = json.loads(row["value"])
            stored = datetime.fromisoformat(entry["at"])
        except (ValueError, KeyError, TypeError):
            return None
        return entry["value"], stored

    def cache(self, key: str, value: Any) -> None:
        """Keep a slow-changing vendor answer (the org's describe) between runs."""
        if self.read_only:
            return
        with self.db.atomic():
            self.db.table("meta").upsert({"key": f"cache:{key}",
                                          "value": json.dumps({"at": now_iso(), "value": value})},
                                         pk="key")
