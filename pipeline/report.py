"""The headline report read back from ClickHouse, printed in the terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clickhouse_driver import Client

__all__ = ["CHANNEL_MIX_SQL", "NEGATIVE_ASPECTS_SQL", "RECENT_ALERTS_SQL", "format_table", "render_report"]

# FINAL collapses rows a replay wrote twice (ReplacingMergeTree), so counts are exact.
CHANNEL_MIX_SQL = """
SELECT source, channel, count() AS feedback,
       round(avg(polarity = -1), 3) AS negative_share
FROM feedback FINAL
GROUP BY source, channel
ORDER BY source, feedback DESC
"""

NEGATIVE_ASPECTS_SQL = """
SELECT brand, product_sku, aspect, count() AS mentions, sum(polarity = -1) AS negative,
       round(negative / mentions, 2) AS negative_share,
       anyIf(evidence, polarity = -1) AS example
FROM aspect_mentions FINAL
GROUP BY brand, product_sku, aspect
HAVING mentions >= %(min_mentions)s
ORDER BY negative DESC, negative_share DESC, brand, product_sku, aspect
LIMIT %(limit)s
"""

RECENT_ALERTS_SQL = """
SELECT window_start, rule, severity, brand, product, aspect, round(observed, 2) AS observed,
       mentions
FROM alerts FINAL
ORDER BY window_start DESC, rule, brand, product, aspect
LIMIT %(limit)s
"""


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], max_width: int = 40) -> str:
    """A plain-text table; CJK characters count as two columns so columns line up."""

    def width(text: str) -> int:
        return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)

    def cut(text: str) -> str:
        out, used = "", 0
        for ch in text:
            w = 2 if ord(ch) > 0x2E80 else 1
            if used + w > max_width:
                return out + "…"
            out, used = out + ch, used + w
        return out

    cells = [[cut(str(v)) for v in row] for row in rows]
    widths = [max([width(h)] + [width(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v + " " * (w - width(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    return "\n".join([line(list(headers)), line(["-" * w for w in widths]), *map(line, cells)])


def render_report(client: Client, limit: int = 10, min_mentions: int = 5) -> str:
    """Channel mix, the most negative aspects per product with a verbatim, recent alerts."""
    parts = []
    rows = client.execute(CHANNEL_MIX_SQL)
    total = sum(r[2] for r in rows)
    parts.append(
        f"Feedback per channel ({total} in all)\n"
        + format_table(["source", "channel", "feedback", "negative share"], rows)
    )
    rows = client.execute(NEGATIVE_ASPECTS_SQL, {"min_mentions": min_mentions, "limit": limit})
    parts.append(
        "Most negative aspects per product\n"
        + format_table(
            ["brand", "product", "aspect", "mentions", "negative", "share", "example (masked)"], rows
        )
    )
    rows = client.execute(RECENT_ALERTS_SQL, {"limit": limit})
    parts.append(
        "Alerts stored in ClickHouse\n"
        + format_table(
            ["window start", "rule", "severity", "brand", "product", "aspect", "observed", "mentions"], rows
        )
    )
    return "\n\n".join(parts)
