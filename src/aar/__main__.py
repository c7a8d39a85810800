"""``python -m aar`` runs the command-line interface."""

from aar.cli.main import main

main()
