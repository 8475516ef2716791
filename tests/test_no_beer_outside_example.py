"""No module outside ``examples/beer/`` names a beer table, column, view or mart.

The library is generic: the beer reviews are one example domain among others, so the code,
configuration and program of the lake must not know them. The names come from the example's
own domain file (tables, columns, views and their period columns, marts and measures), plus
the word "beer"; a name the retail example declares too (``email``, ``state``) is a generic
word, not beer's. Matching is by whole word, ignoring case; a hit names ``file:line``. A path
into the example's folder (``examples/beer/domain.yaml``, where the default domain is) refers
to the example, not to its names, and is not a hit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("datalake", "components", "workloads", "provider", "policy", "scripts")
SUFFIXES = (".py", ".yaml", ".yml", ".json", ".toml")
SKIPPED_PARTS = {"__pycache__", "node_modules", ".venv"}
EXAMPLE_PATH = re.compile(r"examples/beer/[\w./-]*")


def declared_names(path: Path) -> set[str]:
    """Every name a domain file declares: tables, columns, views, period columns, marts,
    measures."""
    document = yaml.safe_load(path.read_text())
    names: set[str] = set()
    for table in document.get("tables", []):
        names.add(table["name"])
        names.update(column["name"] for column in table["columns"])
    for view in document.get("views", []):
        names.add(view["name"])
        for join in view.get("joins", []):
            names.update((join.get("rename") or {}).values())
        period = view["period"]
        prefix = period.get("prefix") or period["column"]
        names.update(f"{prefix}_{part}" for part in period["parts"])
    for mart in document.get("marts", []):
        names.add(mart["name"])
        names.update(measure["name"] for measure in mart["measures"])
    return names


def beer_names() -> set[str]:
    beer = declared_names(ROOT / "examples" / "beer" / "domain.yaml")
    generic = declared_names(ROOT / "examples" / "retail" / "domain.yaml")
    return (beer - generic) | {"beer"}


def scanned_files() -> Iterator[Path]:
    """The library's code and configuration, and the program's."""
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if not path.is_file() or SKIPPED_PARTS & set(path.relative_to(ROOT).parts):
                continue
            scripted = folder == "scripts" and not path.suffix  # shell scripts
            if path.suffix in SUFFIXES or scripted:
                yield path
    yield ROOT / "__main__.py"
    yield from sorted(ROOT.glob("Pulumi*.yaml"))


def test_the_names_come_from_the_beer_domain_file():
    names = beer_names()
    for expected in ("brewery", "profile", "review", "review_flat", "review_year", "beer_abv"):
        assert expected in names
    assert "top_beers_by_rating" in names and "total_reviews" in names
    assert not {"email", "state"} & names  # generic words the retail example uses too
    assert EXAMPLE_PATH.sub("", "default: examples/beer/domain.yaml.") == "default: "


def test_no_module_outside_the_example_names_the_beer_domain():
    pattern = re.compile(
        r"\b(" + "|".join(sorted(map(re.escape, beer_names()), key=len, reverse=True)) + r")\b",
        re.IGNORECASE,
    )
    hits = []
    for path in scanned_files():
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            text = EXAMPLE_PATH.sub("", line)
            found = sorted({m.group(1).lower() for m in pattern.finditer(text)})
            if found:
                where = path.relative_to(ROOT)
                hits.append(f"{where}:{number}: {', '.join(found)}: {line.strip()[:120]}")
    assert not hits, f"{len(hits)} line(s) name the beer domain:\n" + "\n".join(hits)
