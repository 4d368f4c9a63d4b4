"""``funnel --html FILE``: the funnel as one self-contained page for people who do not read
JSON (a marketing lead, a sales manager).

Self-contained, as ``whatif --html`` is, because it is mailed around and opened offline:
inline CSS, an inline SVG bar per group's steps, no script, nothing fetched. It names
Accounts and campaigns, so it is written readable by its owner only (0600).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from connector.render.html_file import write_private
from connector.core.funnel import STEPS, Funnel, FunnelRow, Plan
from connector.render.funnel import LABELS, _hours, _pct

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#222;max-width:72rem}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}
"""
BAR_W, BAR_H = 420, 18


def write_html(funnel: Funnel, path: str | Path, plan: Plan | None = None) -> Path:
    """Write the page owner-only (0600), even over an existing file."""
    return write_private(path, to_html(funnel, plan))


def _chart(row: FunnelRow) -> str:
    """One horizontal bar per step, scaled to the group's responses."""
    top = max(row.responses, 1)
    bars = []
    for i, step in enumerate(STEPS):
        width = round(BAR_W * row.count(step) / top)
        y = i * (BAR_H + 4)
        bars.append(f'<rect x="90" y="{y}" width="{width}" height="{BAR_H}" fill="#4f81bd"/>'
                    f'<text x="0" y="{y + 13}" font-size="12">{LABELS[step]}</text>'
                    f'<text x="{94 + width}" y="{y + 13}" font-size="12">{row.count(step)}</text>')
    height = len(STEPS) * (BAR_H + 4)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{BAR_W + 140}" height="{height}" '
            f'role="img" aria-label="{escape(row.name)} funnel">{"".join(bars)}</svg>')


def to_html(funnel: Funnel, plan: Plan | None = None) -> str:
    parts = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>leadsync funnel since {escape(funnel.since)}</title>",
             f"<style>{STYLE}</style></head><body>",
             f"<h1>Funnel since {escape(funnel.since)}, by {escape(funnel.by)}</h1>",
             "<table><tr><th>" + escape(funnel.by) + "</th>"
             + "".join(f"<th>{LABELS[s]}</th>" for s in STEPS)
             + "<th>won amount</th></tr>"]
    for row in funnel.rows:
        parts.append(f"<tr><td>{escape(row.name)}</td>"
                     + "".join(f'<td class="n">{row.count(s)}</td>' for s in STEPS)
                     + f'<td class="n">{row.won_amount:,.2f}</td></tr>')
    parts.append("</table><h2>Rates and median times</h2><table><tr><th></th>"
                 + "".join(f"<th>{LABELS[s]}</th>" for s in STEPS[1:]) + "</tr>")
    for row in funnel.rows:
        parts.append(f"<tr><td>{escape(row.name)}</td>" + "".join(
            f'<td class="n">{_pct(row.rates.get(s))}<br>{_hours(row.median_hours.get(s))}</td>'
            for s in STEPS[1:]) + "</tr>")
    parts.append("</table>")
    for row in funnel.rows:
        parts.append(f"<h2>{escape(row.name)}</h2>{_chart(row)}")
    if funnel.accounts:
        parts.append("<h2>Accounts whose people responded</h2><table><tr><th>Account</th>"
                     "<th>people</th><th>responses</th><th>opps</th><th>won</th></tr>")
        parts += [f"<tr><td>{escape(a.name)}</td><td class='n'>{a.people}</td>"
                  f"<td class='n'>{a.responses}</td><td class='n'>{a.opportunities}</td>"
                  f"<td class='n'>{a.won}</td></tr>" for a in funnel.accounts]
        parts.append("</table>")
    if plan is not None:
        parts.append(f"<h2>Lead plan ({escape(plan.target)} {plan.amount:g}; rates over at "
                     f"least {plan.min_people} people)</h2><table><tr><th></th>"
                     "<th>sales-ready needed</th><th>responses needed</th><th>rates used</th>"
                     "</tr>")
        for p in plan.rows:
            used = "; ".join(f"{r.name} {r.value:g} over {r.over_people} people"
                             for r in p.rates)
            need = (f"<td class='n'>{p.sales_ready_needed}</td>"
                    f"<td class='n'>{p.responses_needed}</td>" if not p.reason
                    else f"<td colspan='2'>no plan: {escape(p.reason)}</td>")
            parts.append(f"<tr><td>{escape(p.name)}</td>{need}<td>{escape(used)}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
