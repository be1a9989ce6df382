"""``python -m carbonboard``: the same as the ``carbonboard`` command."""

from carbonboard.launcher import main

main(prog_name="carbonboard")
