"""``whatif``'s report in an admin's words: one column per method, then the people whose
outcome differs most."""

from __future__ import annotations

from connector.commands.whatif import WhatIfResult

ROWS = (("responses", "responses"), ("new_leads", "new Leads"),
        ("new_contacts", "new Contacts at a matched Account"),
        ("attached_to_leads", "attached to an open Lead"),
        ("attached_to_contacts", "attached to a Contact (the account team sees it)"),
        ("people_with_several_open_leads", "people with more than one open Lead"),
        ("handoffs", "hand-offs to sales"))


def to_text(result: WhatIfResult) -> str:
    data = result.to_json()
    methods = list(data["methods"])
    lines = [f"What if, since {data['since']} (nothing written; "
             f"{data['salesforce_calls']} Salesforce calls for all methods together)",
             f"  {'':<50}" + "".join(f"{m:>10}" for m in methods)]
    for key, label in ROWS:
        lines.append(f"  {label:<50}" + "".join(f"{data['methods'][m][key]:>10}" for m in methods))
    for method, tally in result.whatif.methods.items():
        if tally.tasks_by_owner:
            owners = ", ".join(f"{owner} {n}" for owner, n in tally.tasks_by_owner.most_common())
            lines.append(f"  Tasks under {method.value}: {owners}")
    if data["differences"]:
        lines.append("  Where the methods differ most:")
        for row in data["differences"]:
            per = "; ".join(f"{m}: {', '.join(row['decisions'][m]) or '-'}" for m in methods)
            lines.append(f"    {row['email']:<36} {per}")
    return "\n".join(lines)
