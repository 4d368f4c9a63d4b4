"""The status for people: names (read from the APIs for the page, cached in the state, used
from the cache when the APIs are down), links, the routing time zone, the headline, per-form
counts, parked responses by reason with advice, a continuous day axis, one-line errors, and
the page written owner-only and escaped."""

from __future__ import annotations

import json
import re
import stat
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from connector.cli import main
from connector.commands.status_names import StatusNames
from connector.commands.status_view import (ago, chart_window, continuous_days, headline,
                                            one_line, people_view)
from status_world import EVIL, LONG_ERROR, TOKEN, World, world  # noqa: F401 (world: fixture)

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=timezone.utc)   # a DST change in Berlin that night


def test_headline_words():
    base = {"last_good_run_at": "2026-03-29T11:56:00+00:00", "parked": {"total": 2},
            "last_run": {"status": "ok"}}
    assert headline(base, NOW) == "last good run 4 min ago; 2 parked need you"
    assert headline({**base, "parked": {"total": 1}}, NOW).endswith("1 parked needs you")
    aborted = {**base, "last_run": {"status": "aborted", "finished_at": "2026-03-29T11:59:30+00:00"},
               "parked": {"total": 0}}
    assert headline(aborted, NOW) == "last good run 4 min ago; last run aborted just now; nothing parked"
    assert headline({**base, "last_good_run_at": None, "last_run": None}, NOW).startswith("no good run yet")
    assert [ago(s) for s in (5, 61, 7200, 3 * 86400)] == ["just now", "1 min ago", "2 h ago", "3 days ago"]


def test_days_are_continuous_in_the_zone():
    zone = ZoneInfo("Europe/Berlin")
    window = chart_window(zone, NOW, None, days=5)
    assert [d.isoformat() for d in window] == ["2026-03-25", "2026-03-29"]
    # 23:30 UTC on the 27th is already the 28th in Berlin (UTC+1 before the change)
    late = int(datetime(2026, 3, 27, 23, 30, tzinfo=timezone.utc).timestamp() * 1000)
    days = continuous_days([{"start_ms": late, "outcome": "created_lead", "n": 2}], zone, window)
    assert [d["day"] for d in days] == ["2026-03-25", "2026-03-26", "2026-03-27", "2026-03-28",
                                        "2026-03-29"]
    assert [sum(d["counts"].values()) for d in days] == [0, 0, 0, 2, 0]
    # a quiet connector: the window ends at its newest response, not at today
    old = int(datetime(2025, 11, 1, 10, tzinfo=timezone.utc).timestamp() * 1000)
    assert chart_window(zone, NOW, old, days=5)[1].isoformat() == "2025-11-01"


def test_one_line_errors():
    assert one_line("short") == "short"
    assert one_line(LONG_ERROR).endswith(" …") and "\n" not in one_line(LONG_ERROR)
    assert len(one_line("x" * 500)) == 140 and one_line("x" * 500).endswith("…")


def test_people_view_names_links_and_advice():
    names = StatusNames(forms={"f-1": "Demo request"}, campaigns={"701000000000001AAA": "Webinar"},
                        owners={"005000000000001AAA": "Maria Rossi"}, portal_id=42,
                        ui_domain="app-eu1.hubspot.com", source="api", read_at=NOW)
    summary = {"watermarks": [{"form_id": "f-1", "campaign_id": "701000000000001AAA", "watermark_ms": None},
                              {"form_id": "f-2", "campaign_id": "Spring", "watermark_ms": None}],
               "parked": {"total": 3, "by_reason": [{"error_code": "DUPLICATES_DETECTED", "count": 2},
                                                    {"error_code": "MISSING_EMAIL", "count": 1}]},
               "runs": [], "last_run": None, "last_good_run_at": None}
    view = people_view(summary, now=NOW, zone_name="Europe/Berlin", names=names,
                       instance_url="https://acme.my.salesforce.com/", quarters=[],
                       forms=[{"form_id": "f-1", "outcome": "failed", "n": 3}],
                       owners=[{"owner_id": "005000000000001AAA", "n": 7}],
                       parked=[{"conversion_id": "c1", "form_id": "f-1", "submitted_at": 0,
                                "error_code": "DUPLICATES_DETECTED", "error": "Use one of these records?",
                                "lead_id": None, "contact_id": None}],
                       window=chart_window(ZoneInfo("Europe/Berlin"), NOW, None))
    f1, f2 = view["forms"]
    assert f1["form_name"] == "Demo request" and f1["counts"]["failed"] == 3
    assert f1["form_url"] == "https://app-eu1.hubspot.com/forms/42/editor/f-1/submissions"
    assert f1["campaign_url"] == "https://acme.my.salesforce.com/701000000000001AAA"
    assert f2["form_name"] == "f-2" and f2["campaign_url"] is None   # unknown: the id, no link
    assert view["owners"] == [{"owner_id": "005000000000001AAA", "name": "Maria Rossi", "responses": 7,
                               "url": "https://acme.my.salesforce.com/005000000000001AAA"}]
    group = view["parked_groups"][0]
    assert group["category"] == "duplicate rule" and group["count"] == 2
    assert "duplicate_rules" in group["advice"]
    assert group["records"][0]["submitted_local"] == "1970-01-01 01:00 CET"
    assert view["timezone"] == "Europe/Berlin" and len(view["days"]) == 30


def test_page_json_and_text_against_real_runs(world: World):
    org, runner = world.org, CliRunner()
    page = world.tmp / "status.html"
    made = runner.invoke(main, ["status", "--config", str(world.config), "--json", "--html", str(page)],
                         env=org.env())
    assert made.exit_code == 0, made.output
    s = json.loads(made.output)
    # old keys kept, new ones added
    assert {"runs", "watermarks", "ledger", "parked", "daily", "last_run"} <= set(s)
    assert s["timezone"] == "Europe/Berlin" and s["generated_at"].endswith(("+01:00", "+02:00"))
    assert s["headline"].startswith("last good run ") and "last run aborted" in s["headline"]
    assert s["headline"].endswith("1 parked needs you")
    assert s["names"]["source"] == "api"
    assert [f["form_name"] for f in s["forms"]] == [EVIL, "Contact sales"]
    assert [f["campaign_name"] for f in s["forms"]] == ["Spring webinar", "Website"]
    assert s["forms"][0]["counts"]["failed"] == 1 and s["forms"][1]["counts"]["created_lead"] == 2
    assert [g["error_code"] for g in s["parked_groups"]] == ["INVALID_EMAIL"]
    assert "leadsync retry" in s["parked_groups"][0]["advice"]
    totals = [sum(d["counts"].values()) for d in s["days"]]
    assert len(s["days"]) == 30 and totals[-5:] == [2, 1, 0, 0, 2]    # the gap days are there
    assert s["run_rows"][0]["error_line"].startswith("Salesforce refused the query")
    assert {(o["name"], o["responses"], o["url"]) for o in s["owners"]} == {
        ("Jane Doe", 2, f"{org.sandbox.url}/{world.jane}"),
        ("queue Inbound Leads", 2, f"{org.sandbox.url}/{world.inbound}")}
    assert TOKEN not in made.output

    html = page.read_text()
    assert stat.S_IMODE(page.stat().st_mode) == 0o600
    assert "<script" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp;" in html
    assert "Times in Europe/Berlin" in html and "1 parked needs you" in html
    assert f'href="{org.sandbox.url}/{org.campaigns[0]}"' in html
    assert f"https://app.hubspot.com/forms/{org.hs.portal_id}/editor/{org.forms[1]}/submissions" in html
    assert "<details" in html and "line 39)" in html     # the whole error, behind one click
    assert "run-aborted-1" not in re.sub(r'title="[^"]*"', "", html)   # runs told apart by time
    assert html.count('class="day"') == 30
    assert f'<a href="{org.sandbox.url}/{world.jane}">Jane Doe</a>' in html

    text = runner.invoke(main, ["status", "--config", str(world.config)], env=org.env()).output
    assert "last run aborted" in text and "times in Europe/Berlin" in text
    assert f"Contact sales ({org.forms[1]}) -> Website ({org.campaigns[1]})" in text
    assert "names from the copy read just now" in text
    assert "owners (responses routed): " in text and "Jane Doe 2" in text
    assert "unusable email (INVALID_EMAIL)" in text and "line 39" not in text


def test_names_come_from_the_cache_when_the_apis_are_down(world: World):
    org, runner = world.org, CliRunner()
    first = runner.invoke(main, ["status", "--config", str(world.config), "--json", "--html",
                                 str(world.tmp / "a.html")], env=org.env())
    assert json.loads(first.output)["names"]["source"] == "api"
    org.sandbox.stop()                       # both APIs unreachable from here on
    page = world.tmp / "b.html"
    second = runner.invoke(main, ["status", "--config", str(world.config), "--json", "--html", str(page)],
                           env=org.env())
    assert second.exit_code == 0, second.output
    names = json.loads(second.output)["names"]
    assert names["source"] == "cache" and "not read from the APIs" in names["note"]
    assert "Spring webinar" in page.read_text() and "names from the copy read" in page.read_text()


def test_without_a_cache_or_apis_the_ids_are_shown(world: World, tmp_path):
    org = world.org
    org.sandbox.stop()
    page = tmp_path / "ids.html"
    out = CliRunner().invoke(main, ["status", "--config", str(world.config), "--json", "--html",
                                    str(page)], env=org.env())
    assert out.exit_code == 0, out.output
    s = json.loads(out.output)
    assert s["names"]["source"] == "none"
    assert [f["form_name"] for f in s["forms"]] == org.forms
    assert org.forms[0] in page.read_text() and "Ids are shown" in page.read_text()


def test_the_page_without_tokens_uses_the_cached_names(world: World):
    org, runner = world.org, CliRunner()
    assert runner.invoke(main, ["status", "--config", str(world.config), "--html",
                                str(world.tmp / "a.html")], env=org.env()).exit_code == 0
    no_secrets = {"LEADSYNC_SALESFORCE_ACCESS_TOKEN": None, "LEADSYNC_HUBSPOT_ACCESS_TOKEN": None,
                  "LEADSYNC_CONFIG": None}
    page = world.tmp / "b.html"
    out = runner.invoke(main, ["status", "--config", str(world.config), "--json", "--html", str(page)],
                        env=no_secrets)
    assert out.exit_code == 0, out.output
    s = json.loads(out.output)
    assert s["names"]["source"] == "cache" and s["forms"][1]["form_name"] == "Contact sales"
    assert TOKEN not in out.output and TOKEN not in page.read_text()
