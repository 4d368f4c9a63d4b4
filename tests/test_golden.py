"""Golden tests: the demo world under each method gives the same ledger rows, run counts and
dry-run JSON, whatever the code's layout. They fence behaviour while modules move.

Volatile values (conversion ids, Salesforce ids, run ids, times) are replaced by stable
labels in order of first appearance, so the snapshot compares what was decided and written,
not which random ids the sandbox handed out. ``LEADSYNC_GOLDEN_UPDATE=1`` rewrites the files.
"""

from __future__ import annotations

import itertools
import json
import uuid
from types import SimpleNamespace
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from connector.commands import demo
from connector.commands.demo import add_sales_team, build_world, demo_settings
from connector.engine.wiring import Session
from connector.core.model import Method
from connector.sandbox import Sandbox, hubspot_store
from connector.adapters.transport import RetryPolicy

GOLDEN = Path(__file__).parent / "golden"
NOW_MS = 1_764_000_000_000
_VOLATILE_KEYS = {"first_seen_at", "updated_at", "run_id", "seconds", "started_at", "finished_at"}
_SF_ID = re.compile(r"\b(?:00Q|003|00v|00T|001|005|00G|701)[a-zA-Z0-9]{15}\b")


class _Labels:
    """Stable names for random ids, in order of first appearance."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, value: Any, kind: str) -> str:
        if value not in self.seen:
            self.seen[value] = f"<{kind}{len(self.seen) + 1}>"
        return self.seen[value]


def _scrub(value: Any, labels: _Labels, conversions: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: ("<t>" if k in _VOLATILE_KEYS and value[k] is not None else
                    _scrub(v, labels, conversions)) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_scrub(v, labels, conversions) for v in value]
    if isinstance(value, str):
        if value in conversions:
            return labels(value, conversions[value])
        out = _SF_ID.sub(lambda m: labels(m.group(0), m.group(0)[:3] + ":"), value)
        for cid in conversions:
            if cid in out:
                out = out.replace(cid, labels(cid, conversions[cid]))
        return out
    return value


def _ledger(path: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM ledger ORDER BY submitted_at, form_id, email")]
    runs = [dict(r) for r in conn.execute("SELECT * FROM runs ORDER BY started_at")]
    conn.close()
    return rows + [{"run": {**r, "id": "<run>"}} for r in runs]


def _snapshot(tmp_path: Path, method: Method, hand_off: bool) -> dict[str, Any]:
    counter = itertools.count(1)
    # HubSpot's conversion ids and form guids are random: made in order here, so responses
    # submitted in the same millisecond are ordered alike run after run.
    hubspot_store.uuid = SimpleNamespace(uuid4=lambda: uuid.UUID(int=next(counter)))  # type: ignore[attr-defined]
    with Sandbox() as sandbox:
        world = build_world(sandbox, now_ms=NOW_MS)
        sections = add_sales_team(sandbox, world) if hand_off else {}
        conversions = {c: "resp" for c in sandbox.app.hubspot.store.conversions}
        conversions.update({form: f"form{i}:" for i, form in enumerate(world.forms)})
        settings = demo_settings(sandbox, world, tmp_path / f"{method.value}.db", method, **sections)
        with Session(settings, dry_run=True, retry=RetryPolicy.fast()) as engine:
            engine.clock = lambda: NOW_MS / 1000
            dry = engine.run(dry_run=True).to_json()
        with Session(settings, retry=RetryPolicy.fast()) as engine:
            engine.clock = lambda: NOW_MS / 1000
            real = engine.run().to_json()
        labels = _Labels()
        # Order the labels by the dry run's responses, which come in submission order.
        return _scrub({"dry_run": dry, "run": real, "ledger": _ledger(settings.state_path)},
                      labels, conversions)


CASES = [(m, False) for m in Method] + [(Method.UNIQUE, True)]


@pytest.mark.parametrize("method,hand_off", CASES,
                         ids=[f"{m.value}{'-hand-off' if h else ''}" for m, h in CASES])
def test_demo_world_is_unchanged(tmp_path: Path, method: Method, hand_off: bool,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hubspot_store, "uuid", hubspot_store.uuid)   # put back afterwards
    monkeypatch.setattr(demo, "time", SimpleNamespace(time=lambda: NOW_MS / 1000))
    got = _snapshot(tmp_path, method, hand_off)
    name = GOLDEN / f"demo-{method.value}{'-hand-off' if hand_off else ''}.json"
    text = json.dumps(got, indent=1, sort_keys=True) + "\n"
    if os.environ.get("LEADSYNC_GOLDEN_UPDATE") == "1" or not name.exists():
        name.write_text(text)
    assert json.loads(name.read_text()) == json.loads(text)
