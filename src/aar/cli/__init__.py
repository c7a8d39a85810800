"""The ``aar`` command line (typer). ``aar --help`` lists the commands."""
