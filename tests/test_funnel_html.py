"""``funnel --html``: one self-contained page (inline SVG, no script, nothing fetched),
written owner-only."""

from __future__ import annotations

import stat

from connector.core.funnel import Funnel, FunnelRow, plan
from connector.render.funnel_html import write_html


def test_the_page_is_self_contained_and_owner_only(tmp_path):
    row = FunnelRow("701A", "Webinar <Q1>", responses=40, people=30, sales_ready=25,
                    accepted=10, converted=5, opportunities=5, won=2, won_amount=9000.0)
    funnel = Funnel("2024-01-01", "campaign", [row], [])
    path = tmp_path / "funnel.html"
    path.write_text("old")
    path.chmod(0o644)
    write_html(funnel, path, plan(funnel, opportunities=2))
    html = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "<script" not in html.lower() and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    assert html.count("<svg") == 1 and "Webinar &lt;Q1&gt;" in html
    assert "sales-ready needed" in html and ">10<" in html    # 0.2 opps per lead -> 10
