"""``python -m mailpage_cli``."""

from mailpage_cli.cli import main

main()
