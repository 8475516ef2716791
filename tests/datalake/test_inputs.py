"""Input folders (landing order, accepted files, clear errors) and the example generators."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from datalake.domain import load_domain
from datalake.inputs import (
    GeneratedInput,
    InputError,
    generate_input,
    generator_path,
    input_files,
    part_sizes,
)

ROOT = Path(__file__).resolve().parents[2]
RETAIL = load_domain(ROOT / "examples" / "retail" / "domain.yaml")
BEER = load_domain(ROOT / "examples" / "beer" / "domain.yaml")


def write(path: Path, body: bytes = b"a,b\n1,2\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def test_batch_files_land_first_in_domain_order_then_changes_by_name(tmp_path):
    write(tmp_path / "orders" / "cdc" / "b-0002.jsonl.gz")
    write(tmp_path / "orders" / "cdc" / "a-0001.jsonl")
    write(tmp_path / "order_lines" / "lines.csv.gz")
    write(tmp_path / "orders" / "orders.csv")
    write(tmp_path / "customers" / "2024" / "customers.csv.gz")
    write(tmp_path / "README.md", b"documentation, not data")
    write(tmp_path / "orders" / ".hidden.csv")
    keys = [f.key for f in input_files(RETAIL, tmp_path)]
    assert keys == [
        "raw/customers/2024/customers.csv.gz",
        "raw/orders/orders.csv.gz",
        "raw/order_lines/lines.csv.gz",
        "raw/orders/cdc/a-0001.jsonl.gz",
        "raw/orders/cdc/b-0002.jsonl.gz",
    ]


def test_changes_with_one_name_land_in_domain_table_order(tmp_path):
    for table in ("review", "profile", "beer", "brewery"):
        write(tmp_path / table / "changes-0001.jsonl.gz")
    write(tmp_path / "beer" / "changes-0001-again.jsonl.gz")
    keys = [f.key for f in input_files(BEER, tmp_path)]
    assert keys == [
        "raw/brewery/changes-0001.jsonl.gz",
        "raw/beer/changes-0001.jsonl.gz",
        "raw/profile/changes-0001.jsonl.gz",
        "raw/review/changes-0001.jsonl.gz",
        "raw/beer/changes-0001-again.jsonl.gz",
    ]


def test_plain_files_are_gzipped_the_same_way_every_time(tmp_path):
    write(tmp_path / "products" / "products.csv", b"product_id\n1\n")
    write(tmp_path / "customers" / "c.csv.gz", gzip.compress(b"customer_id\n1\n"))
    files = {f.table: f for f in input_files(RETAIL, tmp_path)}
    plain = files["products"]
    assert plain.key == "raw/products/products.csv.gz"
    assert gzip.decompress(plain.body()) == b"product_id\n1\n"
    assert plain.body() == plain.body()  # no timestamp in the gzip header
    assert files["customers"].body() == (tmp_path / "customers" / "c.csv.gz").read_bytes()


def test_folders_naming_no_table_are_an_error_listing_folders_and_tables(tmp_path):
    write(tmp_path / "clients" / "a.csv.gz")
    write(tmp_path / "sales" / "b.csv.gz")
    with pytest.raises(InputError) as error:
        input_files(RETAIL, tmp_path)
    assert str(error.value) == (
        f"{tmp_path}: folder(s) clients, sales name no table of domain 'retail-orders' "
        "(folders: clients, sales; tables: customers, products, orders, order_lines)"
    )


def test_one_unknown_folder_beside_known_ones_is_an_error_too(tmp_path):
    write(tmp_path / "orders" / "a.csv.gz")
    write(tmp_path / "order_line" / "b.csv.gz")
    with pytest.raises(InputError, match=r"folder\(s\) order_line name no table"):
        input_files(RETAIL, tmp_path)


def test_other_file_types_and_formats_a_table_refuses_are_errors(tmp_path):
    write(tmp_path / "orders" / "orders.parquet")
    write(tmp_path / "customers" / "cdc" / "changes.jsonl.gz")  # customers: batch only
    with pytest.raises(InputError) as error:
        input_files(RETAIL, tmp_path)
    message = str(error.value)
    assert f"{tmp_path}/orders/orders.parquet: not a raw file (accepted: .csv.gz," in message
    assert "changes.jsonl.gz: table customers accepts csv files, not jsonl" in message


def test_stray_files_empty_folders_and_missing_folders_are_errors(tmp_path):
    write(tmp_path / "orders.csv.gz")
    with pytest.raises(InputError, match=r"files outside a table folder: orders\.csv\.gz"):
        input_files(RETAIL, tmp_path)
    (tmp_path / "orders.csv.gz").unlink()
    (tmp_path / "orders").mkdir()
    with pytest.raises(InputError, match="no raw files"):
        input_files(RETAIL, tmp_path)
    with pytest.raises(InputError, match="not a folder"):
        input_files(RETAIL, tmp_path / "missing")


def test_parts_are_even_and_never_empty():
    assert part_sizes(10, 3) == [4, 3, 3]
    assert part_sizes(5, 5) == [1] * 5
    with pytest.raises(InputError, match="cannot split 2 rows into 3 non-empty files"):
        part_sizes(2, 3)


GENERATOR = """
from datalake.inputs import GeneratedInput


def generate(out, *, rows, files, seed):
    (out / "orders").mkdir()
    (out / "orders" / "orders.csv").write_text("order_id\\n" + "\\n".join(map(str, range(rows))))
    return GeneratedInput(out, f"{rows} orders")
"""


def example(tmp_path: Path, generator: str | None) -> Path:
    folder = tmp_path / "example"
    folder.mkdir()
    shutil.copy(ROOT / "examples" / "retail" / "domain.yaml", folder / "domain.yaml")
    if generator is not None:
        (folder / "generate.py").write_text(generator)
    return folder / "domain.yaml"


def test_a_generator_beside_the_domain_file_is_loaded_by_path(tmp_path):
    domain = load_domain(example(tmp_path, GENERATOR))
    assert generator_path(domain) == tmp_path / "example" / "generate.py"
    generated = generate_input(domain, tmp_path / "out", rows=3, files=1, seed=1)
    assert isinstance(generated, GeneratedInput) and generated.summary == "3 orders"
    assert [f.key for f in input_files(domain, tmp_path / "out")] == ["raw/orders/orders.csv.gz"]
    with pytest.raises(InputError, match="takes no first_id"):
        generate_input(domain, tmp_path / "again", rows=3, files=1, seed=1, first_id=5)


def test_no_generator_or_a_bad_one_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match=r"has no generator \(generate.py in .*\); give an input"):
        generate_input(RETAIL, tmp_path / "out", rows=1, files=1, seed=1)
    bad = load_domain(example(tmp_path, "def generate(out, *, rows, files, seed):\n    return 1\n"))
    with pytest.raises(InputError, match="returned int, not a GeneratedInput"):
        generate_input(bad, tmp_path / "out", rows=1, files=1, seed=1)


def test_the_beer_generator_writes_an_input_folder_of_its_domain(tmp_path):
    generated = generate_input(BEER, tmp_path, rows=40, files=2, seed=7)
    assert generated.summary == "40 reviews in 2 files"
    assert (generated.malformed_lines, generated.duplicate_files) == (1, 1)
    keys = [f.key for f in input_files(BEER, tmp_path)]
    assert keys[:5] == [
        "raw/brewery/brewery.csv.gz",
        "raw/beer/beer.csv.gz",
        "raw/profile/profile.csv.gz",
        "raw/review/reviews-0001.csv.gz",
        "raw/review/reviews-0002.csv.gz",
    ]
    assert "raw/beer/cdc/changes-0001-redelivered.jsonl.gz" in keys
    again = tmp_path / "again"
    generate_input(BEER, again, rows=40, files=2, seed=7)
    for file in input_files(BEER, again):  # the same arguments, the same bytes
        assert file.path.read_bytes() == (tmp_path / file.path.relative_to(again)).read_bytes()
