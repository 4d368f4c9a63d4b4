"""``leadsync status --html FILE``: the status as one self-contained page (pure).

Admins would rather look than read. The page is a single file with inline CSS and an inline
SVG chart (responses per submission day, stacked by outcome): no script, no font, no
network, so it can be mailed, attached to a ticket or opened from a file share. Every value
is HTML-escaped; the summary holds no secret to begin with.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any, Mapping, Sequence

COLOURS = {"created_lead": "#2b6cb0", "attached": "#38a169", "already_member": "#a0aec0",
           "failed": "#e53e3e", "pending": "#dd6b20"}
LABELS = {"created_lead": "Lead created", "attached": "attached", "already_member": "already a member",
          "failed": "parked (failed)", "pending": "pending"}


def chart_svg(daily: Sequence[Mapping[str, Any]], *, width: int = 760, height: int = 240) -> str:
    """Stacked bars per day; an empty ledger gives a labelled empty chart, not an error."""
    days: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in daily:
        days[str(row["day"])][str(row["outcome"])] += int(row["n"])
    ordered = sorted(days)
    left, bottom, top = 40, 30, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max((sum(v.values()) for v in days.values()), default=0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="responses per day by outcome">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#444"/>']
    if not ordered:
        parts.append(f'<text x="{left + 10}" y="{top + plot_h / 2}" font-size="13">no responses recorded yet</text>')
        parts.append("</svg>")
        return "".join(parts)
    parts.append(f'<text x="{left - 6}" y="{top + 10}" font-size="11" text-anchor="end">{peak}</text>')
    parts.append(f'<text x="{left - 6}" y="{top + plot_h}" font-size="11" text-anchor="end">0</text>')
    slot = plot_w / len(ordered)
    bar = max(1.0, slot * 0.8)
    label_every = max(1, len(ordered) // 12)
    for i, day in enumerate(ordered):
        x = left + i * slot + (slot - bar) / 2
        y = float(top + plot_h)
        total = sum(days[day].values())
        for outcome, colour in COLOURS.items():
            n = days[day].get(outcome, 0)
            if not n:
                continue
            h = plot_h * n / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{escape(day)}: {n} {escape(LABELS[outcome])} (of {total})</title></rect>')
        if i % label_every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16}" font-size="10" '
                         f'text-anchor="middle">{escape(day[5:])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_html(summary: Mapping[str, Any]) -> str:
    """The whole page from :func:`connector.commands.status.summarize`'s output."""
    s = summary
    d = s["daemon"]
    usage = s["salesforce_api"]
    legend = "".join(f'<span class="key"><i style="background:{c}"></i>{escape(LABELS[o])}</span>'
                     for o, c in COLOURS.items())
    runs = "".join(
        f"<tr><td>{escape(str(r['started_at']))}</td><td>{escape(r['run_id'])}</td>"
        f"<td class='{escape(str(r['status']))}'>{escape(str(r['status']))}</td>"
        f"<td>{'' if r['seconds'] is None else r['seconds']}</td>"
        + "".join(f"<td>{r['counts'][k]}</td>" for k in ("pulled", "created_leads", "attached",
                                                       "already_member", "failed"))
        + f"<td>{r['salesforce_calls']}</td><td>{r['hubspot_calls']}</td>"
        f"<td>{escape(r['error'] or '')}</td></tr>" for r in s["runs"])
    marks = "".join(f"<tr><td>{escape(w['form_id'])}</td><td>{escape(w['campaign_id'])}</td>"
                    f"<td>{escape(w['watermark'] or 'never synced')}</td></tr>" for w in s["watermarks"])
    parked = "".join(f"<tr><td>{p['count']}</td><td>{escape(p['error_code'])}</td>"
                     f"<td>{escape(p['example'] or '')}</td></tr>" for p in s["parked"]["by_reason"])
    t = s["ledger"]
    usage_text = "not seen yet" if not usage else (
        f"{usage['used']} / {usage['limit']} ({usage['share']:.0%}; budget {usage['budget_share']:.0%})"
        f"{' — over budget' if usage['over_budget'] else ''}, seen {escape(str(usage['seen_at']))}")
    daemon_text = f"running: {escape(d['lock_holder'])}" if d["running"] else "not running"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leadsync status</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1a202c}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{border:1px solid #cbd5e0;padding:3px 8px;text-align:left}}
.key{{margin-right:1em}}.key i{{display:inline-block;width:10px;height:10px;margin-right:4px}}
.aborted,.budget,.config{{color:#c53030;font-weight:bold}}.partial{{color:#c05621}}
</style></head><body>
<h1>leadsync status</h1>
<p>State <code>{escape(s['state'])}</code> · daemon {daemon_text} · Salesforce API usage {usage_text}</p>
<h2>Responses per day, by outcome</h2>
{chart_svg(s['daily'])}
<p>{legend}</p>
<p>Ledger: {t['created_lead']} Leads created, {t['attached']} attached, {t['already_member']} already members,
{t['failed']} parked, {t['pending']} pending.</p>
<h2>Last runs</h2>
<table><tr><th>started</th><th>run</th><th>status</th><th>seconds</th><th>pulled</th><th>created</th>
<th>attached</th><th>already</th><th>failed</th><th>sf calls</th><th>hs calls</th><th>error</th></tr>{runs}</table>
<h2>Watermarks</h2>
<table><tr><th>form</th><th>campaign</th><th>newest submission recorded</th></tr>{marks}</table>
<h2>Parked failures ({s['parked']['total']})</h2>
<table><tr><th>count</th><th>reason</th><th>example</th></tr>{parked}</table>
</body></html>
"""
