"""``mappings check``'s report: a line per problem naming its file and line, or JSON."""

from __future__ import annotations

from typing import Any

from connector.commands.mappings_check import MappingReport
from connector.core.scopes import ScopeStatus


def to_json(report: MappingReport) -> dict[str, Any]:
    return {"mapping": report.mapping_source, "ok": report.ok,
            "problems": [p.to_json() for p in report.problems],
            "routing": {"config": report.config_source,
                        "problems": [p.to_json() for p in report.routing]},
            "forms": {"config": report.config_source,
                      "problems": [p.to_json() for p in report.forms]},
            "campaigns": {"config": report.config_source,
                          "problems": [c.to_json() for c in report.campaigns]},
            "hubspot_scopes": [c.to_json() for c in report.scopes]}


def to_text(report: MappingReport) -> str:
    lines = [f"{report.mapping_source}: {problem}" for problem in report.problems]
    lines += [f"{report.config_source}: {problem}" for problem in report.routing + report.forms]
    lines += [f"{report.config_source}: {campaign} (its form pauses until fixed)"
              for campaign in report.campaigns]
    lines += [f"{report.config_source}: {c.need.where}: {' or '.join(c.need.any_of)} not checked "
              f"(only a write needs it, for {c.need.what}): make sure the HubSpot app has it"
              for c in report.scopes if c.status is ScopeStatus.UNCHECKED]
    every = report.problems + report.routing + report.forms
    errors = sum(p.level == "error" for p in every) + len(report.campaigns)
    warnings = len(every) + len(report.campaigns) - errors
    lines.append(f"{report.mapping_source}: {errors} error(s), {warnings} warning(s)"
                 if every or report.campaigns
                 else f"{report.mapping_source}: OK against the org's Lead and Contact")
    return "\n".join(lines)
