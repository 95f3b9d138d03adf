"""The headline report read back from ClickHouse, printed in the terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from clickhouse_driver import Client

__all__ = [
    "CHANNEL_MIX_SQL",
    "COMPETITOR_GAP_SQL",
    "NEGATIVE_ASPECTS_SQL",
    "action_effects",
    "RECENT_ALERTS_SQL",
    "competitor_gaps",
    "format_table",
    "render_report",
]

# FINAL collapses rows a replay wrote twice (ReplacingMergeTree), so counts are exact. Every
# query orders completely and picks examples deterministically: on a sharded cluster the
# shards answer in any order, and every server must print the same report.
CHANNEL_MIX_SQL = """
SELECT source, channel, count() AS feedback,
       round(avg(polarity = -1), 3) AS negative_share
FROM feedback FINAL
GROUP BY source, channel
ORDER BY source, feedback DESC, channel
"""

CSAT_SQL = """
SELECT brand, channel AS touchpoint, sum(responses) AS answers,
       round(100 * sum(satisfied) / answers, 1) AS csat_pct,
       round(100 * sum(dissatisfied) / answers, 1) AS dissatisfied_pct,
       round(sum(csat_sum) / answers, 2) AS average_csat
FROM csat_rollup_day
GROUP BY brand, touchpoint
HAVING answers > 0
ORDER BY brand, answers DESC, touchpoint
"""

CASES_SQL = """
SELECT route_kind, count() AS cases, countIf(status = 'acknowledged') AS acknowledged,
       countIf(status = 'resolved') AS resolved, countIf(status IN ('open', 'reopened')) AS waiting,
       countIf(sla_breached = 1) AS breached,
       round(countIf(isNotNull(first_response_at) AND first_response_at <= sla_due_at) / cases, 3)
           AS within_sla,
       round(quantileIf(0.5)(toUInt32(ifNull(first_response_at, opened_at)) - toUInt32(opened_at),
                             isNotNull(first_response_at)), 1) AS response_p50_s
FROM (SELECT splitByChar(':', route)[1] AS route_kind, status, sla_breached, first_response_at, opened_at,
             sla_due_at
      FROM cases FINAL)
GROUP BY route_kind
ORDER BY cases DESC, route_kind
"""

NEGATIVE_ASPECTS_SQL = """
SELECT brand, product_sku, aspect, count() AS mentions, sum(polarity = -1) AS negative,
       round(negative / mentions, 2) AS negative_share,
       argMinIf(evidence, feedback_id, polarity = -1) AS example
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
ORDER BY window_start DESC, rule, brand, product, aspect, alert_id
LIMIT %(limit)s
"""


# Per top-level aspect and day: the own brand's negative share minus the average of its
# competitors' negative shares (each competitor weighs the same, however loud), in
# percentage points; a brand needs min_mentions that day for its share to count.
COMPETITOR_GAP_SQL = """
SELECT day, aspect_l1,
       round(100 * (sumIf(share, brand = %(own)s) - avgIf(share, brand != %(own)s)), 1) AS gap_pp,
       round(100 * sumIf(share, brand = %(own)s), 1) AS own_pct,
       round(100 * avgIf(share, brand != %(own)s), 1) AS competitors_pct,
       sumIf(mentions, brand = %(own)s) AS own_mentions,
       sumIf(mentions, brand != %(own)s) AS competitor_mentions
FROM (
    SELECT toDate(event_time) AS day, aspect_l1, brand, count() AS mentions,
           avg(polarity = -1) AS share
    FROM aspect_mentions FINAL
    WHERE brand IN %(brands)s
    GROUP BY day, aspect_l1, brand
    HAVING mentions >= %(min_mentions)s
)
GROUP BY day, aspect_l1
HAVING countIf(brand = %(own)s) = 1 AND countIf(brand != %(own)s) >= 1
ORDER BY day DESC, gap_pp DESC, aspect_l1
LIMIT %(limit)s
"""


def competitor_gaps(
    client: Client, own: str, competitors: Sequence[str], min_mentions: int = 5, limit: int = 20
) -> list[tuple[Any, ...]]:
    """Rows of :data:`COMPETITOR_GAP_SQL` for one brand group (a positive gap: the own brand
    draws more complaints about the aspect than its competitors do on average)."""
    params = {
        "own": own,
        "brands": (own, *competitors),  # a tuple renders as (..), which IN takes on 18.16
        "min_mentions": min_mentions,
        "limit": limit,
    }
    return list(client.execute(COMPETITOR_GAP_SQL, params))


ACTIONS_SQL = """
SELECT action_id, brand, product, aspect, taken_at, description, target_negative_share
FROM actions FINAL
ORDER BY taken_at DESC, action_id
LIMIT %(limit)s
"""

# Mentions of an action's scope (sub-aspects included) before and after it was taken.
ACTION_WINDOW_SQL = """
SELECT countIf(event_time >= %(before)s AND event_time < %(taken)s) AS before_mentions,
       countIf(polarity = -1 AND event_time >= %(before)s AND event_time < %(taken)s) AS before_negative,
       countIf(event_time >= %(taken)s AND event_time < %(after)s) AS after_mentions,
       countIf(polarity = -1 AND event_time >= %(taken)s AND event_time < %(after)s) AS after_negative
FROM aspect_mentions FINAL
WHERE brand = %(brand)s
  AND (%(product)s = '' OR product_sku = %(product)s)
  AND (%(aspect)s = '' OR aspect = %(aspect)s OR startsWith(aspect, concat(%(aspect)s, '/')))
  AND event_time >= %(before)s AND event_time < %(after)s
"""


def action_effects(client: Client, horizons_h: Sequence[int], limit: int = 20) -> list[tuple[Any, ...]]:
    """Per action and horizon: negative share of its scope over the horizon before and
    after it, the change in percentage points, and whether the scope is back inside the
    action's target (``None`` without a target or without mentions after)."""
    rows: list[tuple[Any, ...]] = []
    for action_id, brand, product, aspect, taken, description, target in client.execute(
        ACTIONS_SQL, {"limit": limit}
    ):
        for hours in horizons_h:
            span = timedelta(hours=hours)
            params = {
                "brand": brand, "product": product, "aspect": aspect,
                "before": taken - span, "taken": taken, "after": taken + span,
            }  # fmt: skip
            before_n, before_neg, after_n, after_neg = client.execute(ACTION_WINDOW_SQL, params)[0]
            before = before_neg / before_n if before_n else None
            after = after_neg / after_n if after_n else None
            change = round(100 * (after - before), 1) if before is not None and after is not None else None
            inside = None if target is None or after is None else after <= target
            scope = "/".join(part for part in (brand, product, aspect) if part)
            rows.append((
                action_id, scope, taken, description, f"{hours}h",
                _share(before, before_n), _share(after, after_n), change, inside,
            ))  # fmt: skip
    return rows


def _share(share: float | None, mentions: int) -> str:
    return "-" if share is None else f"{100 * share:.1f}% of {mentions}"


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


def render_cases(client: Client) -> str:
    """Cases per kind of route (store, agent, customer): where they stand and their SLAs."""
    rows = client.execute(CASES_SQL)
    return "Cases and SLAs per route (voc.cases → ClickHouse `cases`; docs/bi.md 15-17)\n" + format_table(
        ["route", "cases", "acknowledged", "resolved", "waiting", "past SLA", "within SLA", "response p50 s"],
        rows,
    )


def render_report(
    client: Client,
    limit: int = 10,
    min_mentions: int = 5,
    brand_groups: Mapping[str, Sequence[str]] | None = None,
    action_horizons_h: Sequence[int] = (24, 168),
) -> str:
    """Channel mix, CSAT per touchpoint, the most negative aspects per product with a verbatim, the competitor
    gap of each brand group, recent alerts."""
    parts = []
    rows = client.execute(CHANNEL_MIX_SQL)
    total = sum(r[2] for r in rows)
    parts.append(
        f"Feedback per channel ({total} in all)\n"
        + format_table(["source", "channel", "feedback", "negative share"], rows)
    )
    rows = client.execute(CSAT_SQL)
    if rows:
        parts.append(
            "CSAT per touchpoint (satisfied = 4-5 of 5)\n"
            + format_table(["brand", "touchpoint", "answers", "CSAT %", "dissatisfied %", "mean"], rows)
        )
    rows = client.execute(NEGATIVE_ASPECTS_SQL, {"min_mentions": min_mentions, "limit": limit})
    parts.append(
        "Most negative aspects per product\n"
        + format_table(
            ["brand", "product", "aspect", "mentions", "negative", "share", "example (masked)"], rows
        )
    )
    for own, competitors in (brand_groups or {}).items():
        rows = competitor_gaps(client, own, competitors, min_mentions, limit)
        parts.append(
            f"Competitor gap: {own} vs {', '.join(competitors)} (negative share, percentage points)\n"
            + format_table(
                ["day", "aspect", "gap pp", f"{own} %", "competitors %", f"{own} n", "competitors n"], rows
            )
        )
    rows = action_effects(client, action_horizons_h, limit)
    if rows:
        parts.append(
            "Actions and their effect (negative share of the scope before → after)\n"
            + format_table(
                ["action", "scope", "taken at", "what", "horizon", "before", "after", "change pp", "inside"],
                rows,
            )
        )
    if client.execute("SELECT count() FROM cases")[0][0]:
        parts.append(render_cases(client))
    rows = client.execute(RECENT_ALERTS_SQL, {"limit": limit})
    parts.append(
        "Alerts stored in ClickHouse\n"
        + format_table(
            ["window start", "rule", "severity", "brand", "product", "aspect", "observed", "mentions"], rows
        )
    )
    return "\n\n".join(parts)
