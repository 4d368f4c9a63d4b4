"""``leadsync status --html FILE``: the status as one page people read (pure: data in, HTML out).

Written for the admin and the marketing manager rather than for whoever wrote the
connector: a headline first ("last good run 4 min ago; 2 parked need you"), then forms and
campaigns by name with links into HubSpot and Salesforce, the parked responses grouped by
reason with what to do about each, responses per day on a continuous axis (a day without
responses is an empty slot, not a skipped one), and the last runs told apart by time and
outcome. Times are in the configured routing time zone, and the page says which.

Self-contained, because it is mailed, attached to tickets and opened from file shares: inline
CSS and SVG, no script, no font, nothing fetched. Long errors show one line, the whole text
one click away (``<details>``, which needs no script). Every value is escaped, attributes
included: form and campaign names are typed by people and may hold anything.
"""

from __future__ import annotations

from html import escape
from typing import Any, Mapping, Sequence

COLOURS = {"created_lead": "#2b6cb0", "attached": "#38a169", "status_moved": "#805ad5",
           "already_member": "#a0aec0", "failed": "#e53e3e", "pending": "#dd6b20"}
LABELS = {"created_lead": "Lead created", "attached": "attached", "status_moved": "status moved",
          "already_member": "already a member", "failed": "parked", "pending": "pending"}
STATUS_WORDS = {"ok": "ok", "partial": "ok, some parked", "stopped": "stopped on request",
                "budget": "stopped at the API budget", "config": "configuration error",
                "aborted": "aborted", "crashed": "crashed", "running": "running"}
STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1a202c;max-width:76rem}
h1{font-size:1.3rem;margin:0 0 .3rem;color:#4a5568}h2{font-size:1.15rem;margin-top:2rem}
h3{font-size:1rem;margin:1.2rem 0 .2rem}
.headline{font-size:1.6rem;font-weight:600;margin:.2rem 0 .4rem}
.headline.bad{color:#c53030}.meta{color:#4a5568;margin:.1rem 0}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #cbd5e0;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#edf2f7}td.n{text-align:right;font-variant-numeric:tabular-nums}
a{color:#2b6cb0}.code{font-family:ui-monospace,monospace;font-size:.85em;color:#4a5568}
.advice{background:#fffbea;border-left:4px solid #d69e2e;padding:.4rem .7rem;margin:.3rem 0 .5rem}
.st-ok,.st-partial,.st-stopped{color:#276749}.st-aborted,.st-crashed,.st-budget,.st-config{color:#c53030;font-weight:600}
details summary{cursor:pointer}details pre{white-space:pre-wrap;max-width:60rem;background:#f7fafc;padding:.5rem}
.key{margin-right:1em}.key i{display:inline-block;width:10px;height:10px;margin-right:4px}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _link(text: Any, url: str | None) -> str:
    return f'<a href="{_e(url)}">{_e(text)}</a>' if url else _e(text)


def _error(full: str | None, line: str | None) -> str:
    """One line, and the whole text one click away when there is more of it."""
    if not full:
        return ""
    if line and line == full.strip():
        return _e(line)
    return (f'<details class="error"><summary>{_e(line)}</summary>'
            f"<pre>{_e(full)}</pre></details>")


def chart_svg(days: Sequence[Mapping[str, Any]], *, width: int = 760, height: int = 240) -> str:
    """Stacked bars per local day, one slot for every day of the window (empty days
    included); an empty window gives a labelled empty chart, not an error."""
    left, bottom, top = 40, 34, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max((sum(d["counts"].values()) for d in days), default=0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="responses per day by outcome">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#444"/>']
    if not days:
        return "".join(parts) + "</svg>"
    if not peak:
        parts.append(f'<text x="{left + 10}" y="{top + plot_h / 2}" font-size="13">'
                     "no responses in these days</text>")
    else:
        parts.append(f'<text x="{left - 6}" y="{top + 10}" font-size="11" text-anchor="end">{peak}</text>')
    parts.append(f'<text x="{left - 6}" y="{top + plot_h}" font-size="11" text-anchor="end">0</text>')
    slot = plot_w / len(days)
    bar = max(1.0, slot * 0.8)
    label_every = max(1, len(days) // 10)
    for i, d in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        y = float(top + plot_h)
        total = sum(d["counts"].values())
        parts.append(f'<g class="day" data-day="{_e(d["day"])}" data-total="{total}">')
        for outcome, colour in COLOURS.items():
            n = int(d["counts"].get(outcome, 0))
            if not n:
                continue
            h = plot_h * n / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{_e(d["day"])}: {n} {_e(LABELS[outcome])} (of {total})</title></rect>')
        parts.append("</g>")
        if i % label_every == 0 or i == len(days) - 1:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16}" font-size="10" '
                         f'text-anchor="middle">{_e(d["day"][5:])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _forms(s: Mapping[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{_link(f['form_name'], f['form_url'])}</td>"
        f"<td>{_link(f['campaign_name'], f['campaign_url'])}</td>"
        + "".join(f'<td class="n">{f["counts"].get(k, 0)}</td>' for k in COLOURS)
        + f"<td>{_e(f['newest_local'] or 'never synced')}</td></tr>" for f in s["forms"])
    heads = "".join(f"<th>{_e(LABELS[k])}</th>" for k in COLOURS)
    return (f'<table class="forms"><tr><th>form</th><th>campaign</th>{heads}'
            f"<th>newest response recorded</th></tr>{rows}</table>")


def _parked(s: Mapping[str, Any]) -> str:
    if not s["parked_groups"]:
        return "<p>Nothing parked.</p>"
    out = []
    for g in s["parked_groups"]:
        records = "".join(
            f"<tr><td>{_link(r['form_name'], r['form_url'])}</td><td>{_e(r['submitted_local'])}</td>"
            f"<td>{_error(r['error'], r['error_line'])}</td>"
            f"<td>{_link('open in Salesforce', r['record_url']) if r['record_url'] else ''}</td>"
            f'<td class="code">{_e(r["conversion_id"])}</td></tr>' for r in g["records"])
        out.append(f'<h3>{_e(g["category"])}: {g["count"]} <span class="code">{_e(g["error_code"])}</span></h3>'
                   f'<p class="advice">{_e(g["advice"])}</p>'
                   f'<table class="parked"><tr><th>form</th><th>submitted</th><th>error</th><th>record</th>'
                   f"<th>HubSpot submission id</th></tr>{records}</table>")
    return "".join(out)


def _runs(s: Mapping[str, Any]) -> str:
    rows = []
    for r, view in zip(s["runs"], s["run_rows"]):
        c = r["counts"]
        status = str(r["status"])
        took = "" if r["seconds"] is None else f"{r['seconds']:.1f} s"
        rows.append(
            f'<tr title="run {_e(r["run_id"])}"><td>{_e(view["started_local"])}<br>'
            f'<span class="meta">{_e(view["started_ago"])}</span></td>'
            f'<td class="st-{_e(status)}">{_e(STATUS_WORDS.get(status, status))}</td><td>{took}</td>'
            + "".join(f'<td class="n">{c[k]}</td>' for k in ("pulled", "created_leads", "attached",
                                                             "already_member", "failed"))
            + f"<td>{_error(r['error'], view['error_line'])}</td></tr>")
    if not rows:
        return "<p>No run yet.</p>"
    return ('<table class="runs"><tr><th>started</th><th>outcome</th><th>took</th><th>pulled</th>'
            "<th>Leads created</th><th>attached</th><th>already members</th><th>parked</th>"
            f"<th>error</th></tr>{''.join(rows)}</table>")


def _owners(s: Mapping[str, Any]) -> str:
    if not s["owners"]:
        return ""
    rows = "".join(f'<tr><td>{_link(o["name"], o["url"])}</td><td class="n">{o["responses"]}</td></tr>'
                   for o in s["owners"])
    return f'<h2>Owners</h2><table class="owners"><tr><th>owner</th><th>responses routed</th></tr>{rows}</table>'


def _lifecycle(s: Mapping[str, Any]) -> str:
    """[lifecycle]'s per-owner figures (issue 18); owners are named as the lifecycle knows them."""
    rows = s.get("lifecycle")
    if not rows:
        return ""
    from connector.core.lifecycle.clock import duration_text

    body = "".join(
        f'<tr><td>{_e(f["owner"])}</td><td class="n">{f["handoffs"]}</td>'
        f'<td class="n">{_e(duration_text(f["median_first_touch_seconds"])) if f["median_first_touch_seconds"] is not None else "-"}</td>'
        f'<td class="n">{"-" if f["within_sla_share"] is None else format(f["within_sla_share"], ".0%")}</td>'
        f'<td class="n">{f["breaches"]}</td><td class="n">{f["reassignments"]}</td>'
        f'<td class="n">{f["recycled"]}</td><td class="n">{f["came_back"]}</td></tr>' for f in rows)
    return ('<h2>Lead lifecycle (per owner at hand-off)</h2><table class="lifecycle"><tr><th>owner</th>'
            '<th>hand-offs</th><th>median time to first touch</th><th>within SLA</th><th>breaches</th>'
            f'<th>reassignments</th><th>recycled</th><th>came back</th></tr>{body}</table>')


def _left_out(s: Mapping[str, Any]) -> str:
    """Answers the mapping could not place (a phone with no digits): the form or the mapping
    to fix; the records were written without them."""
    left_out = s.get("left_out") or {}
    if not left_out.get("by_field"):
        return ""
    rows = "".join(f'<tr><td><code>{_e(f["field"])}</code></td><td class="n">{f["responses"]}</td></tr>'
                   for f in left_out["by_field"])
    return (f'<h2>Answers left out (last {left_out["days"]} days)</h2><p class="meta">Written '
            "without these fields: the mapping could not place the answer (a phone with no "
            "digits, a value the picklist lacks): the form or the mapping to fix. The ledger's "
            "rows name the field (<code>left_out_fields</code>); a dry run shows the answers of "
            'responses not yet synced.</p><table class="left-out"><tr><th>field</th>'
            f'<th>responses</th></tr>{rows}</table>')


def _when(iso: str) -> str:
    """"2026-12-04T00:57:24+01:00" -> "2026-12-04 00:57 (UTC+01:00)"."""
    return f"{iso[:10]} {iso[11:16]} (UTC{iso[19:]})" if len(iso) >= 25 else iso


def _names_note(s: Mapping[str, Any]) -> str:
    n = s["names"]
    if n["source"] == "api":
        said = "names read from Salesforce and HubSpot now"
    elif n["source"] == "cache":
        said = f"names from the copy read {n['read_ago']}"
    else:
        said = "no names known yet: Ids are shown"
    return _e(said + (f" ({n['note']})" if n["note"] and n["source"] != "api" else ""))


def render_html(summary: Mapping[str, Any]) -> str:
    """The whole page from :func:`connector.commands.status.gather`'s output."""
    s = summary
    d = s["daemon"]
    usage = s["salesforce_api"]
    bad = (s["last_run"] and s["last_run"]["status"] not in ("ok", "partial", "stopped", "running")
           ) or s["parked"]["total"] or not s["last_good_run_at"]
    legend = "".join(f'<span class="key"><i style="background:{c}"></i>{_e(LABELS[o])}</span>'
                     for o, c in COLOURS.items())
    usage_text = "not seen yet" if not usage else (
        f"{usage['used']} / {usage['limit']} ({usage['share']:.0%}; budget {usage['budget_share']:.0%})"
        f"{' — over budget' if usage['over_budget'] else ''}")
    daemon_text = f"running ({_e(d['lock_holder'])})" if d["running"] else "not running"
    days = s["days"]
    window = f"{_e(days[0]['day'])} to {_e(days[-1]['day'])}" if days else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadsync status</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>{STYLE}</style></head><body>
<h1>leadsync status</h1>
<p class="headline{' bad' if bad else ''}" id="headline">{_e(s['headline'])}</p>
<p class="meta" id="zone">Times in {_e(s['timezone'])} (the routing time zone) · page made {_e(_when(s['generated_at']))}</p>
<p class="meta">Daemon {daemon_text} · Salesforce API usage {usage_text} · {_names_note(s)}</p>
<h2>Forms</h2>
{_forms(s)}
{_owners(s)}
{_lifecycle(s)}
{_left_out(s)}
<h2>Parked responses ({s['parked']['total']})</h2>
{_parked(s)}
<h2>Responses per day, {window}</h2>
{chart_svg(days)}
<p>{legend}</p>
<h2>Last runs</h2>
{_runs(s)}
<p class="meta">State <code>{_e(s['state'])}</code></p>
</body></html>
"""
