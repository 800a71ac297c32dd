"""`python -m rftlab ...` = the `rftlab` command (used for worker subprocesses)."""

from rftlab.cli import main

main()
