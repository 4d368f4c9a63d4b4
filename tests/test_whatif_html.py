"""``whatif --html FILE``: a self-contained page with names and local times, written
owner-only, and opened in a real headless browser (Debian's chromium) that must report no
console message; its screenshot is kept under the test's tmp dir."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.adapters.transport import RetryPolicy
from connector.cli import main
from connector.commands.demo import FORMS, add_sales_team, build_world, demo_settings
from connector.commands.whatif import run_whatif
from connector.core.model import Method
from connector.engine.report import RunOptions
from connector.engine.wiring import Session
from connector.render.whatif_html import CHART_ROWS, to_html, write_html
from connector.sandbox import Sandbox
from browser import browse as _browse, chromium, console as _console  # noqa: F401 (fixture)
from test_whatif_against import write_config

SINCE = "2000-01-01"
METHODS = list(Method)


@pytest.fixture
def routed(tmp_path):
    """The demo world with a sales team, routed in Berlin's time zone."""
    with Sandbox() as sandbox:
        world = build_world(sandbox)
        team = add_sales_team(sandbox, world)
        team["routing"]["timezone"] = "Europe/Berlin"
        yield sandbox, world, team, demo_settings(sandbox, world, tmp_path / "state.db",
                                                  Method.UNIQUE, **team)


def test_the_page_names_forms_campaigns_and_owners_in_the_configured_zone(routed, tmp_path: Path):
    sandbox, world, team, settings = routed
    result = run_whatif(settings, since=SINCE, methods=METHODS, names=True)
    page = to_html(result)
    for form_name, campaign_name in FORMS:
        assert escape_free(form_name) in page and escape_free(campaign_name) in page
    assert "Maria Meyer" in page                       # a Task owner, by the org's name
    assert "Europe/Berlin" in page and re.search(r"\d{2}:\d{2} CES?T", page)
    tallies = result.whatif.methods
    for method in METHODS:
        for owner in tallies[method].tasks_by_owner:
            assert owner in result.names.owners, owner    # every Task owner is named
        for name, n in tallies[method].field_changes.items():
            assert f"<td>{name}</td><td class=\"n\">{n}</td>" in page
    # self-contained: no script, nothing fetched (the SVG namespace is a name, not a fetch)
    assert "<script" not in page.lower()
    assert not re.search(r"\b(src|href)\s*=", page, re.I)
    assert not re.search(r"url\(", page, re.I)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) <= {"http://www.w3.org/2000/svg"}
    assert page.count('<rect class="bar"') == len(CHART_ROWS) * len(METHODS)
    for row in result.to_json()["differences"]:
        assert row["email"] in page


def test_names_cost_no_more_than_the_dry_run_spends(routed):
    sandbox, world, team, settings = routed
    with Session(settings, dry_run=True, retry=RetryPolicy.fast()) as engine:
        dry = engine.run(RunOptions(dry_run=True, method=Method.UNIQUE)).sf_calls
    assert run_whatif(settings, since=SINCE, methods=METHODS, names=True).salesforce_calls <= dry


def test_the_file_is_written_owner_only(routed, tmp_path: Path):
    sandbox, world, team, settings = routed
    result = run_whatif(settings, since=SINCE, methods=METHODS, names=True)
    target = tmp_path / "report.html"
    target.write_text("old")
    target.chmod(0o644)
    write_html(result, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_the_cli_writes_the_page_and_keeps_the_json(routed, tmp_path: Path):
    sandbox, world, team, settings = routed
    config = write_config(tmp_path / "leadsync.toml", sandbox, world, tmp_path / "s.db", **team)
    other = write_config(tmp_path / "plain.toml", sandbox, world, tmp_path / "s.db")
    env = {"LEADSYNC_SALESFORCE_ACCESS_TOKEN": sandbox.token,
           "LEADSYNC_HUBSPOT_ACCESS_TOKEN": sandbox.token}
    target = tmp_path / "out" / "whatif.html"
    target.parent.mkdir()
    out = CliRunner().invoke(main, ["whatif", "--config", str(config), "--since", SINCE, "--json",
                                    "--against", str(other), "--html", str(target)], env=env)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert {"since", "methods", "salesforce_calls", "differences", "against"} == set(data)
    assert f"HTML report written to {target}" in out.stderr
    page = target.read_text(encoding="utf-8")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert f"Under {other}" in page and "Where it changes the outcome most" in page


def test_a_real_browser_renders_it_without_console_messages(routed, chromium: str, tmp_path: Path):
    sandbox, world, team, settings = routed
    other = write_config(tmp_path / "plain.toml", sandbox, world, tmp_path / "s.db")
    result = run_whatif(settings, since=SINCE, methods=METHODS, names=True, against=str(other))
    page = write_html(result, tmp_path / "whatif.html")
    # the harness sees console errors: a page that throws is caught
    control = tmp_path / "control.html"
    control.write_text("<!doctype html><p>x</p><script>throw new Error('control-x')</script>")
    assert any("control-x" in line for line in _console(_browse(chromium, control, tmp_path,
                                                                "--dump-dom").stderr))
    dom = _browse(chromium, page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _console(dom.stderr) == []
    assert "<svg" in dom.stdout and "Maria Meyer" in dom.stdout
    assert dom.stdout.count('class="bar"') == 2 * len(CHART_ROWS) * len(METHODS)
    shot = tmp_path / "whatif.png"
    taken = _browse(chromium, page, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400",
                    "--hide-scrollbars")
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert _console(taken.stderr) == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    print(f"screenshot kept at {shot}")


def escape_free(text: str) -> str:
    """``text`` as the page shows it (the demo's names hold no characters HTML escapes)."""
    assert not set(text) & set("<>&\"'")
    return text
