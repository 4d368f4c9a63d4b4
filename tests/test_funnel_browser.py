"""``funnel --html FILE`` opened in a real headless browser (Debian's chromium): the page the
command wrote, after a sync, a closed Task and a won deal, must render with no console
message, with every group's bar chart and the tables in the DOM; a screenshot is kept under
the test's tmp dir for a person to look at.

The page is only ever opened offline from a mail or a share, so a browser is the one reader
whose verdict matters; the string checks in ``test_funnel_html`` cannot see a page that
parses into something else than it says."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from browser import browse, chromium, console, screenshot  # noqa: F401 (chromium: fixture)
from connector.cli import main
from connector.core.funnel import STEPS
from test_funnel import SINCE, synced, write_config  # noqa: F401 (synced: fixture)


def _won_deal(sandbox, settings) -> None:
    """A rep closes a sales-ready response's Task and converts a Lead into a won deal, so the
    page has bars past the first steps and an Account view."""
    db = sqlite3.connect(settings.state_path)
    db.row_factory = sqlite3.Row
    ready = [dict(r) for r in db.execute("SELECT * FROM ledger WHERE task_id IS NOT NULL")]
    db.close()
    sf = sandbox.app.salesforce
    sf.update("Task", ready[0]["task_id"], {"Status": "Completed"})
    lead = next(x["lead_id"] for x in ready if x["lead_id"])
    converted = sf.convert_lead(lead, opportunity_name="Browser deal")
    sf.update("Opportunity", converted["opportunityId"],
              {"StageName": "Closed Won", "Amount": 12000})


def test_the_funnel_page_renders_in_a_real_browser(synced, chromium: str, tmp_path: Path):
    sandbox, world, settings = synced
    _won_deal(sandbox, settings)
    config = write_config(tmp_path / "leadsync.toml", sandbox, settings)
    page = tmp_path / "funnel.html"
    out = CliRunner().invoke(main, ["funnel", "--config", str(config), "--since", SINCE,
                                    "--json", "--html", str(page),
                                    "--target-opportunities", "3"])
    assert out.exit_code == 0, out.output
    groups = json.loads(out.stdout)["rows"]
    assert groups and any(g["won"] for g in groups)
    # the harness sees console errors: a page that throws is caught
    control = tmp_path / "control.html"
    control.write_text("<!doctype html><p>x</p><script>throw new Error('control-f')</script>")
    assert any("control-f" in line
               for line in console(browse(chromium, control, tmp_path, "--dump-dom").stderr))
    dom = browse(chromium, page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console(dom.stderr) == []
    html = dom.stdout
    # one chart per group, one bar per step, each drawn with the step's count beside it
    assert html.count("<svg") == len(groups)
    assert len(re.findall(r"<rect\b", html)) == len(groups) * len(STEPS)
    for group in groups:
        assert f'aria-label="{group["name"]} funnel"' in html
    # the steps table, the rates table, the Account view and the lead plan
    assert html.count("<table") == 4
    assert "Rates and median times" in html and "Accounts whose people responded" in html
    assert "Lead plan (opportunities 3" in html and "12,000.00" in html
    shot, messages = screenshot(chromium, page, tmp_path, "funnel.png")
    assert messages == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    print(f"screenshot kept at {shot}")
