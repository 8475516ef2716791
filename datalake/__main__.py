"""``python -m datalake``: the CLI."""

from datalake.cli import main

main()
