"""The retail example's silver views and gold marts, computed by hand from the shipped files.

Plain Python only (``csv``, ``json``, ``gzip``): never the project's engines, readers or SQL.
It applies the rules the domain file and docs/domain.md state: batch rows are inserts; the CDC
lines apply in landing order, an insert or update replacing the row; a malformed line is
skipped. The local run lands every file before silver runs, so each table is merged as one
batch, which gives the rows the changes give applied one by one: a delete keeps the row with its
last values (here: those the batch file or an earlier CDC line gave it), marked deleted, and a
delete of a key never seen leaves a tombstone, the key alone, marked deleted. A view joins the
live rows of its lookups (LEFT JOIN) to every row of its base, deleted ones too (marked), derives
the UTC year and month of its time column and leaves rows without one out; a mart aggregates
the live view rows per period and grain.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RETAIL = ROOT / "examples" / "retail"
DATA = RETAIL / "data"
LONG, DOUBLE, TIME = int, float, "timestamp"
COLUMNS: dict[str, dict[str, Any]] = {
    "customers": {"customer_id": LONG, "customer_name": str, "email": str, "phone": str,
                  "state": str},
    "products": {"product_id": LONG, "product_name": str, "category": str, "list_price": DOUBLE},
    "orders": {"order_id": LONG, "customer_id": LONG, "ordered_at": TIME, "status": str,
               "order_total": DOUBLE, "item_count": LONG},
    "order_lines": {"order_line_id": LONG, "order_id": LONG, "product_id": LONG,
                    "quantity": LONG, "unit_price": DOUBLE, "line_total": DOUBLE},
}  # fmt: skip
KEYS = {"customers": "customer_id", "products": "product_id", "orders": "order_id",
        "order_lines": "order_line_id"}  # fmt: skip


def _value(text: Any, kind: Any) -> Any:
    if text is None or text == "":
        return None
    if kind == TIME:
        return datetime.fromisoformat(str(text)).astimezone(UTC)
    return kind(text)


def _open(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.name.endswith(".gz") else data).decode()


@dataclass
class Silver:
    """Each table's rows by key, with whether the row is (soft-)deleted."""

    rows: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    deleted: dict[str, set[Any]] = field(default_factory=lambda: defaultdict(set))
    malformed: int = 0

    def live(self, table: str, key: Any) -> dict[str, Any] | None:
        if key is None or key in self.deleted[table]:
            return None
        return self.rows[table].get(key)


def silver() -> Silver:
    """Every table after the batch files, then the CDC files in name order."""
    state = Silver()
    for table, columns in COLUMNS.items():
        for path in sorted(p for p in (DATA / table).glob("*.csv*")):
            for row in csv.DictReader(io.StringIO(_open(path))):
                typed = {c: _value(row.get(c), kind) for c, kind in columns.items()}
                state.rows[table][typed[KEYS[table]]] = typed
    changes = sorted((DATA / "orders" / "cdc").glob("*.jsonl*"), key=lambda p: p.name)
    for path in changes:
        for line in _open(path).splitlines():
            try:
                change = json.loads(line)
            except json.JSONDecodeError:
                state.malformed += 1
                continue
            key = int(change["order_id"])
            if change["operation"] == "delete":  # soft: see the module's docstring
                state.deleted["orders"].add(key)
                tombstone = {c: None for c in COLUMNS["orders"]} | {"order_id": key}
                state.rows["orders"].setdefault(key, tombstone)
            else:
                state.rows["orders"][key] = {
                    c: _value(change.get(c), kind) for c, kind in COLUMNS["orders"].items()
                }
                state.deleted["orders"].discard(key)
    return state


def _period(moment: datetime | None) -> tuple[int, int] | None:
    return None if moment is None else (moment.year, moment.month)


def order_flat(state: Silver) -> list[dict[str, Any]]:
    """One row per order with a time (deleted ones flagged), its live customer's columns."""
    rows = []
    for key, order in state.rows["orders"].items():
        period = _period(order.get("ordered_at"))
        if period is None:
            continue
        customer = state.live("customers", order.get("customer_id")) or {}
        rows.append({**order, "customer_name": customer.get("customer_name"),
                     "state": customer.get("state"), "period": period,
                     "deleted": key in state.deleted["orders"]})  # fmt: skip
    return rows


def order_line_flat(state: Silver) -> list[dict[str, Any]]:
    """One row per line whose live order has a time: the order's, its customer's (a chained
    lookup) and its product's columns."""
    rows = []
    for line in state.rows["order_lines"].values():
        order = state.live("orders", line["order_id"]) or {}
        period = _period(order.get("ordered_at"))
        if period is None:
            continue
        customer = state.live("customers", order.get("customer_id")) or {}
        product = state.live("products", line["product_id"]) or {}
        rows.append({**line, "customer_id": order.get("customer_id"),
                     "ordered_at": order.get("ordered_at"), "status": order.get("status"),
                     "customer_state": customer.get("state"),
                     "product_name": product.get("product_name"),
                     "category": product.get("category"), "period": period,
                     "deleted": False})  # fmt: skip
    return rows


Measures = Callable[[list[dict[str, Any]]], dict[str, Any]]


def _group(
    rows: Iterable[dict[str, Any]], grain: tuple[str, ...], measures: Measures, min_count: int = 1
) -> dict[tuple, dict[str, Any]]:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if not row["deleted"]:
            groups[(*row["period"], *(row[c] for c in grain))].append(row)
    return {key: measures(group) for key, group in groups.items() if len(group) >= min_count}


def _values(rows: list[dict[str, Any]], column: str, keep: Callable[[dict], bool] = bool):
    return [r[column] for r in rows if keep(r) and r[column] is not None]


def _sum(values: list[Any]) -> Any:
    return sum(values) if values else None


def _avg(values: list[Any]) -> float | None:
    return sum(values) / len(values) if values else None


def marts(state: Silver) -> dict[str, dict[tuple, dict[str, Any]]]:
    """Every mart of the retail domain: (period..., grain...) -> measures."""
    lines, orders = order_line_flat(state), order_flat(state)
    completed = lambda r: r["status"] == "completed"  # noqa: E731
    return {
        "revenue_by_category_month": _group(lines, ("category",), lambda g: {
            "revenue": _sum(_values(g, "line_total")),
            "completed_revenue": _sum(_values(g, "line_total", completed)),
            "order_count": len(set(_values(g, "order_id"))),
            "units": _sum(_values(g, "quantity")),
        }),
        "top_customers_by_spend": _group(orders, ("customer_id", "customer_name"), lambda g: {
            "total_spend": _sum(_values(g, "order_total")),
            "order_count": len(set(_values(g, "order_id"))),
            "largest_order": max(_values(g, "order_total"), default=None),
            "first_order_at": min(_values(g, "ordered_at"), default=None),
        }),
        "orders_by_state": _group(orders, ("state",), lambda g: {
            "order_count": len(g),
            "cancelled_orders": sum(1 for r in g if r["status"] == "cancelled"),
            "large_orders": sum(1 for r in g if (r["order_total"] or 0) >= 100),
        }),
        "avg_basket_size": _group(orders, (), lambda g: {
            "avg_order_total": _avg(_values(g, "order_total")),
            "min_order_total": min(_values(g, "order_total"), default=None),
            "max_order_total": max(_values(g, "order_total"), default=None),
            "avg_item_count": _avg(_values(g, "item_count")),
        }),
        "popular_products": _group(lines, ("product_id", "product_name"), lambda g: {
            "units": _sum(_values(g, "quantity")),
            "lines": len(g),
            "open_lines": sum(1 for r in g if r["status"] in ("pending", "shipped")),
            "buyers": len(set(_values(g, "customer_id"))),
        }, min_count=3),
    }  # fmt: skip
