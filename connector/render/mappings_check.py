"""``mappings check``'s report: a line per problem naming its file and line, or JSON."""

from __future__ import annotations

from typing import Any

from connector.commands.mappings_check import MappingReport


def to_json(report: MappingReport) -> dict[str, Any]:
    return {"mapping": report.mapping_source, "ok": report.ok,
            "problems": [p.to_json() for p in report.problems],
            "routing": {"config": report.config_source,
                        "problems": [p.to_json() for p in report.routing]}}


def to_text(report: MappingReport) -> str:
    lines = [f"{report.mapping_source}: {problem}" for problem in report.problems]
    lines += [f"{report.config_source}: {problem}" for problem in report.routing]
    every = report.problems + report.routing
    errors = sum(p.level == "error" for p in every)
    lines.append(f"{report.mapping_source}: {errors} error(s), {len(every) - errors} warning(s)"
                 if every else f"{report.mapping_source}: OK against the org's Lead and Contact")
    return "\n".join(lines)
