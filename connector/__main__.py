"""``python -m connector`` is the ``leadsync`` command."""

from connector.cli import main

main(prog_name="leadsync")
