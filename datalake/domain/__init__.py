"""The lake's domain: tables, joined views and marts, declared in one validated file.

``load_domain(path)`` reads a domain file (YAML); every layer builds from the ``Domain`` it
returns. The workloads find the file through ``DATALAKE_DOMAIN`` (``load_domain_uri``).
"""

from __future__ import annotations

from datalake.domain.domain import Domain
from datalake.domain.errors import DomainError, DomainIssue
from datalake.domain.evolution import check_evolution, check_table_evolution, evolution_issues
from datalake.domain.load import (
    DOMAIN_VARIABLE,
    clear_domain_cache,
    default_domain_path,
    load_domain,
    load_domain_uri,
    parse_domain_text,
)
from datalake.domain.marts import Mart, Measure, MeasureFilter, partition_condition
from datalake.domain.views import Period, View, ViewJoin

__all__ = [
    "DOMAIN_VARIABLE",
    "Domain",
    "DomainError",
    "DomainIssue",
    "Mart",
    "Measure",
    "MeasureFilter",
    "Period",
    "View",
    "ViewJoin",
    "check_evolution",
    "check_table_evolution",
    "clear_domain_cache",
    "default_domain_path",
    "evolution_issues",
    "load_domain",
    "load_domain_uri",
    "parse_domain_text",
    "partition_condition",
]
