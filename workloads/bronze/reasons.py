"""The one writer of quarantine reasons: built from parts, so a PII value cannot enter them.

A reason is ``<column>: <problem>``; a problem that refers to the offending value names it with
the ``{value}`` placeholder, and only :meth:`ReasonWriter.value` fills it in. For a table with
PII columns the placeholder becomes :data:`WITHHELD` whatever the column: a malformed line can
shift a PII value into another column (a missing delimiter), so in such a table no value is
trusted to be free of PII. Callers never format a value themselves: problems are fixed texts
written in the code.

Every reason has a **rule**: the reason without any value, ``<column>: <problem>`` with
``{value}`` elided (:data:`ELIDED`), in every table alike (:func:`rule_of`). Columns named there
come from the contract (or a file, through :func:`safe_name`): rules are bounded and free of
row content, so they are what the control record and the ``QuarantineReasons`` metric count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from datalake.contracts import TableContract

WITHHELD = "<value withheld: the table has PII columns>"
"""What a reason (and a quarantined row, for its failing fields) shows instead of a value."""
SHOWN_CHARACTERS = 80
"""Longer values are cut in reasons (the quarantined row keeps them, masked where PII)."""
ELIDED = "..."
"""What a rule shows where its reason shows a value (ASCII: a rule is a CloudWatch dimension
value, and those must be ASCII)."""


def rule_of(column: str, problem: str) -> str:
    """The rule of a reason of ``column`` with ``problem``: no value, whatever the table."""
    return f"{column}: {problem.replace('{value}', ELIDED)}"


class Reason(NamedTuple):
    """A reason as the quarantine shows it (``text``) and the rule it breaks (``rule``)."""

    text: str
    rule: str

    @classmethod
    def fixed(cls, text: str) -> Reason:
        """A reason that names no value: it is its own rule."""
        return cls(text, text)


def shown(value: object) -> str:
    """A non-PII value as reasons show it: numbers as such, text quoted and cut."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = str(value)
        if len(text) > SHOWN_CHARACTERS:
            return f"{text[:SHOWN_CHARACTERS]!r}… ({len(text):,} characters)"
        return repr(text)
    return str(value)


def safe_name(name: str) -> str:
    """A column or key name from a file, printable and bounded (names are not values)."""
    if name.isprintable() and 0 < len(name) <= 64:
        return name
    return repr(name[:64]) + ("…" if len(name) > 64 else "")


@dataclass(frozen=True)
class ReasonWriter:
    """Writes the reasons of one table's rows; knows which columns hold PII."""

    pii_columns: frozenset[str]

    @classmethod
    def for_contract(cls, contract: TableContract) -> ReasonWriter:
        return cls(frozenset(contract.pii_columns))

    @property
    def withholds_values(self) -> bool:
        """True for a table with PII columns: no value is shown."""
        return bool(self.pii_columns)

    def value(self, column: str, problem: str, value: object) -> str:
        """``column: problem`` with ``{value}`` in ``problem`` filled in, or withheld."""
        text = WITHHELD if self.withholds_values else shown(value)
        return f"{column}: {problem.replace('{value}', text)}"

    def column(self, column: str, problem: str) -> str:
        """A problem of a column that does not involve its value (the reason is its rule)."""
        return f"{column}: {problem}"

    @staticmethod
    def rule(column: str, problem: str) -> str:
        """The rule of :meth:`value` or :meth:`column` of the same ``column`` and ``problem``."""
        return rule_of(column, problem)

    def value_reason(self, column: str, problem: str, value: object) -> Reason:
        """:meth:`value` with its rule."""
        return Reason(self.value(column, problem, value), rule_of(column, problem))

    def column_reason(self, column: str, problem: str) -> Reason:
        """:meth:`column` with its rule (the same text)."""
        return Reason.fixed(self.column(column, problem))
