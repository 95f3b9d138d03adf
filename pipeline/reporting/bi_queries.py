"""The documented BI queries (docs/bi.md): read, parameterized, run.

``docs/bi.md`` is the single source: each ``## N. Title`` section holds a panel hint
(``<!-- panel: table -->``), a description and one ``sql`` block. Tests run every query, the
query benchmark times them and the Grafana dashboard is generated from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from config.resources import resource_path

__all__ = ["BI_DOC", "BiQuery", "QueryClient", "bi_params", "read_bi_queries"]

BI_DOC = resource_path("docs/bi.md")

_SECTION = re.compile(r"^## (\d+)\. (.+)$", re.MULTILINE)
_ANY_SECTION = re.compile(r"^## ", re.MULTILINE)
_PANEL = re.compile(r"<!-- panel: (\w+) -->")
_SQL = re.compile(r"```sql\n(.*?)```", re.DOTALL)
_PARAM = re.compile(r"%\((\w+)\)s")


class QueryClient(Protocol):
    """The slice of clickhouse-driver's Client the queries need."""

    def execute(self, query: str, params: Any = None, with_column_types: bool = False) -> Any:
        """Run ``query`` with ``%(name)s`` parameters: rows as tuples, or ``(rows, [(name,
        type), ...])`` with ``with_column_types``."""


@dataclass(frozen=True, slots=True)
class BiQuery:
    """One documented query."""

    number: int
    title: str
    panel: str
    description: str
    sql: str

    @property
    def parameters(self) -> frozenset[str]:
        """The ``%(name)s`` parameters the query takes."""
        return frozenset(_PARAM.findall(self.sql))

    def run(self, client: QueryClient, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Execute with the parameters it takes (others in ``params`` are ignored)."""
        return list(client.execute(self.sql, {k: params[k] for k in self.parameters}))

    def records(self, client: QueryClient, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Execute; each row as a dict keyed by column name."""
        rows, types = client.execute(
            self.sql, {k: params[k] for k in self.parameters}, with_column_types=True
        )
        names = [name for name, _ in types]
        return [dict(zip(names, row, strict=True)) for row in rows]


def read_bi_queries(path: Path = BI_DOC) -> list[BiQuery]:
    """Every numbered section of ``path`` with its query; raises ValueError on a section
    without exactly one ``sql`` block or without a panel hint. A section ends at the next
    ``## `` heading, numbered or not."""
    text = path.read_text(encoding="utf-8")
    queries = []
    for match in _SECTION.finditer(text):
        following = _ANY_SECTION.search(text, match.end())
        body = text[match.end() : following.start() if following else len(text)]
        blocks, panel = _SQL.findall(body), _PANEL.search(body)
        if len(blocks) != 1 or panel is None:
            raise ValueError(f"{path}: section {match.group(0)!r} needs one sql block and a panel hint")
        description = _SQL.sub("", _PANEL.sub("", body)).strip()
        number, title = int(match.group(1)), match.group(2).strip()
        queries.append(BiQuery(number, title, panel.group(1), description, blocks[0].strip()))
    return queries


def bi_params(
    brand: str, competitors: Sequence[str], aspect: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """Parameters for every query: ``brands`` is a tuple, which IN takes on 18.16 too."""
    return {
        "brand": brand,
        "brands": (brand, *competitors),
        "aspect": aspect,
        "from": start.strftime("%Y-%m-%d %H:%M:%S"),
        "to": end.strftime("%Y-%m-%d %H:%M:%S"),
    }
