"""``whatif``'s report in an admin's words: one column per method, then the people whose
outcome differs most; with ``--against``, the other configuration's column beside each
number (as "other (change)") and the people whose outcome it changes."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from connector.commands.whatif import Names, WhatIfResult
from connector.core.whatif import INTEGRATION_USER

ROWS = (("responses", "responses"), ("new_leads", "new Leads"),
        ("new_contacts", "new Contacts at a matched Account"),
        ("attached_to_leads", "attached to an open Lead"),
        ("attached_to_contacts", "attached to a Contact (the account team sees it)"),
        ("people_with_several_open_leads", "people with more than one open Lead"),
        ("handoffs", "hand-offs to sales"))
LABEL = 50
COLUMN = 10


def to_text(result: WhatIfResult) -> str:
    data = result.to_json()
    methods = list(data["methods"])
    lines = [f"What if, since {data['since']} (nothing written; "
             f"{data['salesforce_calls']} Salesforce calls for all methods together)",
             f"  {'':<{LABEL}}" + "".join(f"{m:>{COLUMN}}" for m in methods)]
    for key, label in ROWS:
        lines.append(f"  {label:<{LABEL}}" + "".join(f"{data['methods'][m][key]:>{COLUMN}}"
                                                    for m in methods))
    lines += _owners_and_fields(result)
    if data["differences"]:
        lines.append("  Where the methods differ most:")
        for row in data["differences"]:
            per = "; ".join(f"{m}: {', '.join(row['decisions'][m]) or '-'}" for m in methods)
            lines.append(f"    {row['email']:<36} {per}")
    if "against" in data:
        lines += _against(data["against"], data["methods"], methods, result.names)
    return "\n".join(lines)


def _owners_and_fields(result: WhatIfResult) -> list[str]:
    """Tasks per owner (by name where the configuration names the owner) and the fields each
    method's updates would change on existing records."""
    lines = []
    for method, tally in result.whatif.methods.items():
        if tally.tasks_by_owner:
            owners = ", ".join(f"{owner_label(owner, result.names)} {n}"
                               for owner, n in tally.tasks_by_owner.most_common())
            lines.append(f"  Tasks under {method.value}: {owners}")
    for method, tally in result.whatif.methods.items():
        if tally.field_changes:
            changed = ", ".join(f"{name} {n}" for name, n in sorted(
                tally.field_changes.items(), key=lambda item: (-item[1], item[0])))
            lines.append(f"  Field changes under {method.value}: {changed}")
    return lines


def owner_label(owner: str, names: Names) -> str:
    return owner if owner == INTEGRATION_USER else names.owner(owner)


def _against(block: Mapping[str, Any], main: Mapping[str, Any], methods: Sequence[str],
             names: Names) -> list[str]:
    again = ", ".join(block["gathered_again"]) or "none, the main lookups served it"
    lines = [f"  Under {block['config']} ({block['salesforce_calls']} more Salesforce calls; "
             f"lookups read again: {again})",
             f"  {'':<{LABEL}}" + "".join(f"{m:>{COLUMN + 6}}" for m in methods)]
    for key, label in ROWS:
        cells = "".join(f"{_with_change(block['methods'][m][key], main[m][key]):>{COLUMN + 6}}"
                        for m in methods)
        lines.append(f"  {label:<{LABEL}}{cells}")
    if block["differences"]:
        lines.append(f"  Where {block['config']} changes the outcome most:")
        for row in block["differences"]:
            lines.append(f"    {row['email']}")
            for m, sides in row["methods"].items():
                if sides["main"] != sides["against"]:
                    lines.append(f"      {m}: {fills_text(sides['main'], names)} -> "
                                 f"{fills_text(sides['against'], names)}")
    return lines


def _with_change(value: int, before: int) -> str:
    return f"{value} ({value - before:+d})" if value != before else str(value)


def fills_text(fills: Sequence[Mapping[str, Any]], names: Names) -> str:
    """A person's fills in one line: "create_lead (maria@sales.example, sales_ready)"."""
    if not fills:
        return "-"
    out = []
    for fill in fills:
        extra = [names.owner(fill["owner"])] if fill.get("owner") else []
        extra += [fill["stage"]] if fill.get("stage") else []
        out.append(fill["action"] + (f" ({', '.join(extra)})" if extra else ""))
    return ", ".join(out)
