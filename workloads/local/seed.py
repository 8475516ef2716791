"""The local run's input: an input folder's raw files, in the order they land.

With ``--input DIR`` the folder is the user's (``<table>/...csv.gz`` and ``...jsonl.gz``,
plain ``.csv`` and ``.jsonl`` too); without it the domain's example generator writes one
first (``datalake/inputs.py`` describes both). Either way the files become the raw objects
``raw/<table>/<path in the folder>``: every table's batch files first, tables in domain order,
then the change files in name order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from datalake.domain import Domain
from datalake.inputs import GeneratedInput, InputFile, generate_input, input_files


@dataclass
class SeedPlan:
    """The raw files to land, in order, and (for generated input) what the run should show."""

    folder: Path
    files: list[InputFile] = field(default_factory=list)
    generated: GeneratedInput | None = None

    @property
    def summary(self) -> str:
        """What the run's header says about its input."""
        if self.generated is not None:
            return self.generated.summary
        return f"{len(self.files)} files from {self.folder}"


def seed_plan(domain: Domain, folder: Path) -> SeedPlan:
    """The raw files of an input folder; ``InputError`` when it does not fit the domain."""
    return SeedPlan(folder, input_files(domain, folder))


def generated_plan(domain: Domain, out: Path, *, rows: int, files: int, seed: int) -> SeedPlan:
    """Run the domain's example generator into ``out``, then plan its files."""
    generated = generate_input(domain, out, rows=rows, files=files, seed=seed)
    return SeedPlan(out, input_files(domain, out), generated)
