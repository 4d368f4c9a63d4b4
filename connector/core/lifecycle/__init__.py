"""The Lead's life after the hand-off: SLA watch, reassignment, escalation, recycling and the
come-back (issue 18; seed 002 points 3 and 5, seed 003's way back to marketing). Pure: the
engine (``connector.engine.lifecycle``) reads, passes "now" in, and writes."""
