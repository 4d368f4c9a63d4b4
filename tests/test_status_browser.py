"""``status --html`` opened in a real headless browser (Debian's chromium): the page a state
of real syncs gives must render with no console message, lead with its headline, show the
forms and campaigns by name (markup in a name shown as text, never run), link to the
campaign in Salesforce, draw one slot per day with no day skipped, and keep a long error
collapsed to one line with the whole text behind a click. A screenshot is kept as an
artefact, ``build/artefacts/status.png`` (or under ``$LEADSYNC_ARTEFACTS``); the README's copy,
``docs/img/status.png``, is replaced only with ``LEADSYNC_UPDATE_SCREENSHOTS=1`` so that a test
run leaves the work tree clean.

What a browser does with the page is measured by a small harness page that loads the
status page into a same-origin ``srcdoc`` frame and writes what it measured into its own
DOM, which ``--dump-dom`` prints: the status page itself carries no script."""

from __future__ import annotations

import json
import os
import re
import shutil
from html import escape
from pathlib import Path

from click.testing import CliRunner

from browser import browse, chromium, console  # noqa: F401 (chromium: fixture)
from connector.cli import main
from status_world import EVIL, World, world  # noqa: F401 (world: fixture)

ROOT = Path(__file__).resolve().parent.parent
SHOT = ROOT / "docs" / "img" / "status.png"
ARTEFACTS = Path(os.environ.get("LEADSYNC_ARTEFACTS") or ROOT / "build" / "artefacts")

MEASURE = """<!doctype html><meta charset="utf-8"><body>
<iframe id="f" style="width:1280px;height:2000px" srcdoc="{page}"></iframe>
<pre id="out"></pre>
<script>
document.getElementById('f').addEventListener('load', function () {{
  var d = this.contentDocument;
  var details = d.querySelector('details.error');
  var summary = details.querySelector('summary');
  var pre = details.querySelector('pre');
  var days = Array.from(d.querySelectorAll('g.day'));
  var slots = days.map(function (g) {{ return g.getAttribute('data-day'); }});
  var out = {{
    headline: d.getElementById('headline').innerText,
    zone: d.getElementById('zone').innerText,
    forms: Array.from(d.querySelectorAll('table.forms tr td:first-child')).map(function (td) {{ return td.innerText; }}),
    campaign_links: Array.from(d.querySelectorAll('table.forms a')).map(function (a) {{ return [a.innerText, a.href]; }}),
    scripts: d.querySelectorAll('script').length,
    details_open: details.open,
    summary_height: summary.getBoundingClientRect().height,
    line_height: parseFloat(getComputedStyle(summary).lineHeight),
    details_height: details.getBoundingClientRect().height,
    pre_visible: pre.checkVisibility(),
    pre_text_lines: pre.textContent.split('\\n').length,
    days: slots
  }};
  details.open = true;
  out.pre_visible_after_click = pre.checkVisibility();
  out.details_height_after_click = details.getBoundingClientRect().height;
  document.getElementById('out').textContent = JSON.stringify(out);
}});
</script>"""


def _measure(browser: str, page: Path, tmp: Path) -> dict:
    harness = tmp / "measure.html"
    harness.write_text(MEASURE.format(page=escape(page.read_text(), quote=True)), encoding="utf-8")
    dom = browse(browser, harness, tmp, "--virtual-time-budget=5000", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console(dom.stderr) == []
    found = re.search(r'<pre id="out">(.*?)</pre>', dom.stdout, re.S)
    assert found and found.group(1), dom.stdout[-2000:]
    from html import unescape

    return json.loads(unescape(found.group(1)))


def test_the_status_page_reads_right_in_a_real_browser(world: World, chromium: str):
    org, tmp = world.org, world.tmp
    page = tmp / "status.html"
    made = CliRunner().invoke(main, ["status", "--config", str(world.config), "--json",
                                     "--html", str(page)], env=org.env())
    assert made.exit_code == 0, made.output
    days = [d["day"] for d in json.loads(made.output)["days"]]

    dom = browse(chromium, page, tmp, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console(dom.stderr) == []        # no script ran: the name's markup stayed text

    seen = _measure(chromium, page, tmp)
    assert seen["headline"].startswith("last good run ")
    assert "last run aborted" in seen["headline"] and seen["headline"].endswith("1 parked needs you")
    assert seen["zone"].startswith("Times in Europe/Berlin")
    assert seen["forms"] == [EVIL, "Contact sales"] and seen["scripts"] == 0
    assert ["Spring webinar", f"{org.sandbox.url}/{org.campaigns[0]}"] in seen["campaign_links"]
    # one slot per day, consecutive, the days without responses included
    assert seen["days"] == days and len(days) == 30
    from datetime import date, timedelta

    parsed = [date.fromisoformat(d) for d in seen["days"]]
    assert all(b - a == timedelta(days=1) for a, b in zip(parsed, parsed[1:]))
    # the 41-line error: one line on the page, all of it one click away
    assert seen["details_open"] is False and seen["pre_visible"] is False
    assert seen["summary_height"] < 2 * seen["line_height"]
    assert seen["details_height"] < 2 * seen["line_height"]
    assert seen["pre_text_lines"] == 41 and seen["pre_visible_after_click"] is True
    assert seen["details_height_after_click"] > 20 * seen["line_height"]

    shot = tmp / "status.png"
    taken = browse(chromium, page, tmp, f"--screenshot={shot}", "--window-size=1280,1600",
                   "--hide-scrollbars")
    assert taken.returncode == 0 and console(taken.stderr) == [], taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTEFACTS / "status.png")
    print(f"screenshot kept at {ARTEFACTS / 'status.png'}")
    if os.environ.get("LEADSYNC_UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(shot, SHOT)
        print(f"and copied to {SHOT} for the README")
