"""What the ``datalake`` command groups share: the console, the ``error:`` line, the domain
option and the example generator's options.

``datalake/cli.py`` and ``datalake/cli_local.py`` both import it, so neither imports the other's
helpers (``cli.py`` registers ``cli_local``'s group, so an import back would be circular).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from datalake.domain import Domain, DomainError, default_domain_path, load_domain

console = Console()

DomainOption = Annotated[
    Path | None,
    typer.Option(
        "--domain",
        exists=True,
        dir_okay=False,
        help="The domain file; default: the example domain shipped with the library.",
    ),
]
Rows = Annotated[
    int,
    typer.Option(
        "--rows",
        "--reviews",
        min=1,
        help="Rows the domain's example generator writes (--reviews: its older name).",
    ),
]
Files = Annotated[
    int, typer.Option(min=1, max=100, help="Files the generator splits its rows into.")
]
Seed = Annotated[int, typer.Option(help="Seed of the example generator (same seed, same files).")]


def input_option(help_text: str) -> Any:
    """``--input FOLDER``, an existing folder of input files; ``help_text`` says what it is for.
    Use as ``Annotated[Path | None, input_option("...")] = None``."""
    return typer.Option("--input", exists=True, file_okay=False, help=help_text)


def error_line(message: object) -> Text:
    """``error: <message>``, the message verbatim (never read as rich markup)."""
    return Text.assemble(("error:", "red"), " ", str(message))


def fail(message: str) -> NoReturn:
    """Print ``error: <message>`` and end the command with exit code 1."""
    console.print(error_line(message), highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)


def command_domain(path: Path | None) -> Domain:
    """The domain file at ``path`` (default: the shipped example); its errors end the command."""
    try:
        return load_domain(path or default_domain_path())
    except DomainError as error:
        fail(str(error))
