"""``python -m carbonboard``: the same as the ``carbonboard`` command."""

from carbonboard.cli import main

main(prog_name="carbonboard")
