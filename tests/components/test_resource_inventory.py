"""The dev and prod stacks declare exactly the checked-in resources: a refactor cannot silently
add, drop, rename or unprotect one.

An intended change updates ``resource_inventory/<stack>.tsv`` in the same commit, so it shows in
review. Regenerate with ``python -m tests.components.test_resource_inventory``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from components.preview import Registered, run_program, stack_config

INVENTORY = Path(__file__).parent / "resource_inventory"


def inventory_lines(resources: list[Registered]) -> list[str]:
    """``type<TAB>logical name<TAB>protect|-`` per resource, sorted."""
    return sorted(f"{r.type}\t{r.name}\t{'protect' if r.protect else '-'}" for r in resources)


def checked_in(stack: str) -> list[str]:
    return [line for line in (INVENTORY / f"{stack}.tsv").read_text().splitlines() if line]


def _diff(expected: list[str], actual: list[str]) -> str:
    missing = sorted(set(expected) - set(actual))
    added = sorted(set(actual) - set(expected))
    return "\n".join([*(f"- {m}" for m in missing), *(f"+ {a}" for a in added)])


def test_dev_stack_declares_the_checked_in_resources(dev_resources):
    actual = inventory_lines(dev_resources)
    assert actual == checked_in("dev"), _diff(checked_in("dev"), actual)


def test_prod_stack_declares_the_checked_in_resources(prod_resources):
    actual = inventory_lines(prod_resources)
    assert actual == checked_in("prod"), _diff(checked_in("prod"), actual)


def main() -> int:
    """Rewrite the checked-in inventories from the current program."""
    for stack in ("dev", "prod"):
        lines = inventory_lines(run_program(stack, stack_config(stack)))
        (INVENTORY / f"{stack}.tsv").write_text("\n".join(lines) + "\n")
        print(f"{stack}: {len(lines)} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
