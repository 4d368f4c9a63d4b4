"""``whatif --html FILE``: the comparison as one self-contained page for people who do not
read JSON (a sales manager, the admin's manager).

Self-contained because it is mailed around and opened offline: inline CSS, inline SVG bar
charts, no script at all and nothing fetched from elsewhere. It names what it can (forms,
campaigns, owners) rather than showing Ids, and shows times in the configured time zone
(``[routing] timezone``), since that is the team's clock. It holds people's emails, so the
file is written readable by its owner only.
"""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.render.html_file import write_private
from connector.commands.whatif import Names, WhatIfResult
from connector.core.model import Method
from connector.core.whatif import MethodTally
from connector.render.whatif import ROWS, fills_text, owner_label

CHART_ROWS = ROWS[1:]                       # every figure but the responses themselves
COLOURS = {"poi": "#c0504d", "hybrid": "#4f81bd", "unique": "#9bbb59"}
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#222;max-width:72rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem}
.meta{color:#555;margin:.1rem 0}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f3f3}.methods{display:flex;flex-wrap:wrap;gap:1.5rem}
.change{color:#666;font-size:.85em}.legend span{display:inline-block;margin-right:1rem}
.swatch{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:middle}
"""


def write_html(result: WhatIfResult, path: str | Path) -> Path:
    """Write the page, owner-only (0600) even when the file already existed: it lists
    people's emails and what would happen to them."""
    return write_private(path, to_html(result))


def to_html(result: WhatIfResult) -> str:
    data = result.to_json()
    names, zone = result.names, _zone(result.timezone)
    methods = list(data["methods"])
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>leadsync what-if since {escape(_when(result.since_ms, zone))}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>What if: {escape(', '.join(methods))}</h1>",
        _meta(result, zone),
        _forms_table(result, names),
        "<h2>Side by side</h2>", _figures_table(data["methods"], methods),
        _chart(data["methods"], methods, "The main figures per method"),
        "<h2>Per method</h2>", '<div class="methods">',
        *(_method_table(m, result.whatif.methods[m], names) for m in result.whatif.methods),
        "</div>",
        _differences(data["differences"], methods),
    ]
    if result.against is not None:
        parts.append(_against(data["against"], data["methods"], methods, result=result,
                              names=names))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# -- pieces --------------------------------------------------------------------------------

def _meta(result: WhatIfResult, zone: ZoneInfo) -> str:
    lines = [f"Responses submitted since {_when(result.since_ms, zone)}"]
    if result.first_ms is not None and result.last_ms is not None:
        lines.append(f"first {_when(result.first_ms, zone)}, last {_when(result.last_ms, zone)}")
    lines.append(f"times in {zone.key}")
    calls = (f"{result.salesforce_calls} Salesforce calls for every method together; "
             "nothing was written")
    config = f"configuration {result.config}" if result.config else ""
    return "".join(f'<p class="meta">{escape(x)}</p>' for x in ("; ".join(lines), calls, config) if x)


def _forms_table(result: WhatIfResult, names: Names) -> str:
    if not result.landings:
        return ""
    rows = "".join(
        f"<tr><td>{escape(names.forms.get(form, form))}</td>"
        f"<td>{escape(names.campaigns.get(campaign, campaign))}</td>"
        f'<td class="n">{result.responses_by_form.get(form, 0)}</td></tr>'
        for form, campaign in result.landings)
    return ("<h2>Forms</h2><table><tr><th>Form</th><th>Campaign</th><th>Responses</th></tr>"
            f"{rows}</table>")


def _figures_table(figures: Mapping[str, Mapping[str, int]], methods: Sequence[str],
                   before: Mapping[str, Mapping[str, int]] | None = None) -> str:
    head = "".join(f"<th>{escape(m)}</th>" for m in methods)
    body = []
    for key, label in ROWS:
        cells = []
        for m in methods:
            value = figures[m][key]
            change = ""
            if before is not None and value != before[m][key]:
                change = f' <span class="change">({value - before[m][key]:+d})</span>'
            cells.append(f'<td class="n">{value}{change}</td>')
        body.append(f"<tr><th>{escape(label)}</th>{''.join(cells)}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>"


def _method_table(method: Method, tally: MethodTally, names: Names) -> str:
    """One method's own table: its figures, then Tasks per owner and field changes."""
    rows = [f'<tr><th>{escape(label)}</th><td class="n">{getattr(tally, key)}</td></tr>'
            for key, label in ROWS]
    if tally.failed:
        rows.append(f'<tr><th>could not be read (parked)</th><td class="n">{tally.failed}</td></tr>')
    rows.append('<tr><th colspan="2">Tasks per owner</th></tr>')
    rows += [f'<tr><td>{escape(owner_label(owner, names))}</td><td class="n">{n}</td></tr>'
             for owner, n in tally.tasks_by_owner.most_common()] or [
        '<tr><td colspan="2">none</td></tr>']
    rows.append('<tr><th colspan="2">Field changes on existing records</th></tr>')
    changes = sorted(tally.field_changes.items(), key=lambda item: (-item[1], item[0]))
    rows += [f'<tr><td>{escape(name)}</td><td class="n">{n}</td></tr>' for name, n in changes] or [
        '<tr><td colspan="2">none</td></tr>']
    return (f'<table class="method" id="method-{escape(method.value)}">'
            f'<tr><th colspan="2">{escape(method.value)}</th></tr>{"".join(rows)}</table>')


def _chart(figures: Mapping[str, Mapping[str, int]], methods: Sequence[str], title: str) -> str:
    """Horizontal grouped bars, one group per figure and one bar per method, drawn to the
    largest figure; inline SVG so the page needs nothing else to show it."""
    bar, gap, label_w, width = 14, 10, 300, 420
    top = max([figures[m][key] for m in methods for key, _ in CHART_ROWS] + [1])
    group = bar * len(methods) + gap
    height = group * len(CHART_ROWS) + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{label_w + width + 60}" '
           f'height="{height}" viewBox="0 0 {label_w + width + 60} {height}">',
           f"<title>{escape(title)}</title>"]
    for i, (key, label) in enumerate(CHART_ROWS):
        y0 = 10 + i * group
        out.append(f'<text x="0" y="{y0 + bar * len(methods) / 2 + 4:.0f}" font-size="12">'
                   f"{escape(label[:48])}</text>")
        for j, m in enumerate(methods):
            value = figures[m][key]
            w = round(width * value / top)
            y = y0 + j * bar
            out.append(f'<rect class="bar" x="{label_w}" y="{y}" width="{w}" height="{bar - 2}" '
                       f'fill="{COLOURS.get(m, "#888")}"><title>{escape(m)}: {value}</title></rect>')
            out.append(f'<text x="{label_w + w + 4}" y="{y + bar - 4}" font-size="11">{value}</text>')
    out.append("</svg>")
    legend = "".join(f'<span><i class="swatch" style="background:{COLOURS.get(m, "#888")}"></i>'
                     f"{escape(m)}</span>" for m in methods)
    return f'<figure>{"".join(out)}<figcaption class="legend">{legend}</figcaption></figure>'


def _differences(rows: Sequence[Mapping[str, Any]], methods: Sequence[str]) -> str:
    if not rows:
        return "<h2>Where the methods differ</h2><p>Every person comes out the same.</p>"
    head = "".join(f"<th>{escape(m)}</th>" for m in methods)
    body = "".join(
        f"<tr><td>{escape(row['email'])}</td>"
        + "".join(f"<td>{escape(', '.join(row['decisions'][m]) or '-')}</td>" for m in methods)
        + "</tr>" for row in rows)
    return (f"<h2>Where the methods differ most ({len(rows)} people)</h2>"
            f"<table><tr><th>Person</th>{head}</tr>{body}</table>")


def _against(block: Mapping[str, Any], main: Mapping[str, Any], methods: Sequence[str], *,
             result: WhatIfResult, names: Names) -> str:
    again = ", ".join(block["gathered_again"]) or "none: the main lookups served it"
    parts = [f"<h2>Under {escape(block['config'])}</h2>",
             f'<p class="meta">{block["salesforce_calls"]} more Salesforce calls; lookups read '
             f"again: {escape(again)}. Changes are against the main configuration.</p>",
             _figures_table(block["methods"], methods, before=main),
             _chart(block["methods"], methods, f"The main figures under {block['config']}")]
    if result.against is not None:
        parts.append('<div class="methods">')
        parts += [_method_table(m, t, names) for m, t in result.against.whatif.methods.items()]
        parts.append("</div>")
    if block["differences"]:
        rows = []
        for row in block["differences"]:
            for m, sides in row["methods"].items():
                if sides["main"] != sides["against"]:
                    rows.append(f"<tr><td>{escape(row['email'])}</td><td>{escape(m)}</td>"
                                f"<td>{escape(fills_text(sides['main'], names))}</td>"
                                f"<td>{escape(fills_text(sides['against'], names))}</td></tr>")
        parts.append("<h3>Where it changes the outcome most</h3><table><tr><th>Person</th>"
                     "<th>Method</th><th>Main</th><th>Against</th></tr>" + "".join(rows) + "</table>")
    return "\n".join(parts)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _when(ms: int | None, zone: ZoneInfo) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).astimezone(zone).strftime(
        "%Y-%m-%d %H:%M %Z")
