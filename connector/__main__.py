"""``python -m connector`` is the ``leadsync`` command."""

from .cli import main

main(prog_name="leadsync")
