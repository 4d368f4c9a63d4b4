"""``funnel``'s report in words: one line per group with its steps, then the rates and
median times, the accounts whose people responded, and (when asked) the lead plan."""

from __future__ import annotations

from connector.core.funnel import STEPS, Funnel, Plan

LABELS = {"responses": "resp", "people": "people", "sales_ready": "MQL", "accepted": "accepted",
          "converted": "converted", "opportunities": "opps", "won": "won"}
NAME = 28


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _hours(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}h" if value < 48 else f"{value / 24:.1f}d"


def to_text(funnel: Funnel, calls: int | None = None) -> str:
    data = funnel
    cost = f"; {calls} Salesforce calls" if calls is not None else ""
    lines = [f"Funnel since {data.since}, by {data.by}{cost}",
             f"  {data.by:<{NAME}}" + "".join(f"{LABELS[s]:>10}" for s in STEPS)
             + f"{'new':>6}{'attached':>10}{'won amount':>14}"]
    for row in data.rows:
        lines.append(f"  {row.name[:NAME]:<{NAME}}"
                     + "".join(f"{row.count(s):>10}" for s in STEPS)
                     + f"{row.new_leads:>6}{row.attached:>10}{row.won_amount:>14,.2f}")
    if not data.rows:
        lines.append("  no responses in the ledger for this window")
    lines.append("  Rates (from the step before) and median time to each step:")
    for row in data.rows:
        steps = ", ".join(f"{LABELS[s]} {_pct(row.rates.get(s))}"
                          + (f" in {_hours(row.median_hours[s])}"
                             if row.median_hours.get(s) is not None else "")
                          for s in STEPS[1:])
        lines.append(f"    {row.name[:NAME]:<{NAME}} {steps}")
    if data.accounts:
        lines.append("  Accounts whose people responded:")
        for account in data.accounts[:20]:
            lines.append(f"    {account.name[:NAME]:<{NAME}} {account.people} people, "
                         f"{account.responses} responses, {account.opportunities} opps, "
                         f"{account.won} won ({account.won_amount:,.2f})")
    return "\n".join(lines)


def plan_text(plan: Plan) -> str:
    what = (f"{plan.amount:g} Opportunities" if plan.target == "opportunities"
            else f"{plan.amount:,.2f} in won revenue")
    lines = [f"Lead plan for {what} from each group (rates measured over at least "
             f"{plan.min_people} people, or no plan):"]
    for row in plan.rows:
        used = "; ".join(f"{r.name} {r.value:g} over {r.over_people} people" for r in row.rates)
        if row.reason:
            lines.append(f"  {row.name[:NAME]:<{NAME}} no plan: {row.reason}")
        else:
            lines.append(f"  {row.name[:NAME]:<{NAME}} {row.sales_ready_needed} sales-ready "
                         f"leads from {row.responses_needed} responses")
        lines.append(f"  {'':<{NAME}} rates used: {used}")
    return "\n".join(lines)
