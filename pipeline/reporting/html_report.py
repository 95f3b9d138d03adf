"""``voc report --html FILE``: one self-contained page (inline CSS and SVG, no script, nothing
fetched) with the headline numbers, trend lines, aspect bars, competitor gaps and the tables
an analyst acts on. Every number comes from a documented query of docs/bi.md, so the page,
the Grafana dashboard and the tests read the same SQL.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline.reporting.bi_queries import QueryClient, bi_params, read_bi_queries

__all__ = ["ReportScope", "default_scope", "render_html_report"]

# A palette that stays apart for readers with the common colour-vision deficiencies.
_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
_BAD, _GOOD = "#d55e00", "#009e73"


@dataclass(frozen=True, slots=True)
class ReportScope:
    """Whose report, over which range."""

    brand: str
    competitors: tuple[str, ...]
    aspect: str
    start: datetime
    end: datetime


def default_scope(client: QueryClient, brand_groups: Mapping[str, Sequence[str]]) -> ReportScope | None:
    """The first configured brand (else the brand with most feedback) over the 30 days up to
    its latest feedback, drilled into its most complained-about aspect; None without data."""
    brand_rows = client.execute(
        "SELECT brand, count() AS n FROM feedback_rollup_day GROUP BY brand ORDER BY n DESC"
    )
    if not brand_rows:
        return None
    brand = next(iter(brand_groups), brand_rows[0][0])
    competitors = tuple(brand_groups.get(brand, ())) or tuple(b for b, _ in brand_rows if b != brand)[:3]
    # The end of the hour of the latest feedback, from the rollup rather than the facts.
    latest_hour = client.execute(
        "SELECT max(period) FROM feedback_rollup_hour WHERE brand = %(b)s", {"b": brand}
    )[0][0]
    end = latest_hour + timedelta(hours=1)
    start = end - timedelta(days=30)
    top = client.execute(
        "SELECT aspect_l1 FROM aspect_rollup_day WHERE brand = %(b)s GROUP BY aspect_l1 "
        "ORDER BY sum(negative) DESC LIMIT 1",
        {"b": brand},
    )
    return ReportScope(brand, competitors, top[0][0] if top else "", start, end)


def _e(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return html.escape(str(value))


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]], limit: int = 15) -> str:
    if not rows:
        return '<p class="empty">No rows in this range.</p>'
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(row.get(key))}</td>" for key, _ in columns) + "</tr>"
        for row in rows[:limit]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def line_chart(series: Mapping[str, Sequence[tuple[datetime, float]]], y_label: str, percent: bool) -> str:
    """An SVG line chart, one line per series, x = time, with axes, grid and a legend."""
    points = [p for values in series.values() for p in values]
    if not points:
        return '<p class="empty">No data in this range.</p>'
    width, height, left, right, top, bottom = 760, 260, 56, 150, 12, 34
    xs = [p[0].timestamp() for p in points]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    ys = [p[1] for p in points]
    y0, y1 = (0.0, max(1e-9, max(ys))) if percent or min(ys) >= 0 else (min(ys), max(ys))
    y1 = y1 if y1 > y0 else y0 + 1

    def sx(t: datetime) -> float:
        return left + (t.timestamp() - x0) / (x1 - x0) * (width - left - right)

    def sy(v: float) -> float:
        return top + (1 - (v - y0) / (y1 - y0)) * (height - top - bottom)

    fmt: Callable[[float], str] = (lambda v: f"{100 * v:.0f}%") if percent else (lambda v: f"{v:.0f}")
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(y_label)}">']
    for i in range(5):
        v = y0 + (y1 - y0) * i / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" class="grid"/>'
        )
        parts.append(f'<text x="{left - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{fmt(v)}</text>')
    for i in range(4):
        t = datetime.fromtimestamp(x0 + (x1 - x0) * i / 3)
        parts.append(
            f'<text x="{sx(t):.1f}" y="{height - 12}" text-anchor="middle">{t.strftime("%m-%d %H:%M")}</text>'
        )
    for n, (name, values) in enumerate(series.items()):
        colour = _COLOURS[n % len(_COLOURS)]
        path = " ".join(f"{sx(t):.1f},{sy(v):.1f}" for t, v in sorted(values))
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        if len(values) == 1:
            t, v = values[0]
            parts.append(f'<circle cx="{sx(t):.1f}" cy="{sy(v):.1f}" r="3" fill="{colour}"/>')
        y = top + 14 + 18 * n
        parts.append(f'<rect x="{width - right + 12}" y="{y - 9}" width="12" height="3" fill="{colour}"/>')
        parts.append(f'<text x="{width - right + 30}" y="{y - 4}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(bars: Sequence[tuple[str, float, str]], unit: str, signed: bool = False) -> str:
    """Horizontal SVG bars (label, value, colour); negative values extend left of zero;
    ``signed`` labels values with their sign (for differences)."""
    if not bars:
        return '<p class="empty">No data in this range.</p>'
    width, left, right, row = 760, 120, 70, 24
    height = 10 + row * len(bars)
    low, high = min(0.0, *(v for _, v, _ in bars)), max(0.0, *(v for _, v, _ in bars))
    span = (high - low) or 1.0

    def sx(v: float) -> float:
        return left + (v - low) / span * (width - left - right)

    parts = [f'<svg viewBox="0 0 {width} {height}" role="img">']
    parts.append(f'<line x1="{sx(0):.1f}" x2="{sx(0):.1f}" y1="0" y2="{height}" class="axis"/>')
    for i, (label, value, colour) in enumerate(bars):
        y = 5 + row * i
        x = min(sx(0), sx(value))
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{html.escape(label)}</text>')
        parts.append(
            f'<rect x="{x:.1f}" y="{y + 3}" width="{abs(sx(value) - sx(0)):.1f}" '
            f'height="{row - 8}" fill="{colour}"/>'
        )
        anchor, tx = ("start", max(sx(0), sx(value)) + 4)
        label_value = f"{value:+.1f}" if signed else f"{value:.1f}"
        parts.append(f'<text x="{tx:.1f}" y="{y + 15}" text-anchor="{anchor}">{label_value}{unit}</text>')
    parts.append("</svg>")
    return "".join(parts)


_CSS = """
body{font-family:-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC","WenQuanYi Zen Hei",sans-serif;
margin:0;
background:#f4f5f7;color:#1d2129}
header{background:#1d2b3a;color:#fff;padding:20px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#b8c4d0}main{padding:20px 32px;display:grid;gap:18px;
grid-template-columns:repeat(auto-fit,minmax(560px,1fr))}
section{background:#fff;border-radius:8px;padding:16px 20px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
section.wide{grid-column:1/-1}h2{font-size:16px;margin:0 0 4px}
p.what{color:#5c6670;margin:0 0 12px;font-size:13px}
.kpis{display:flex;gap:14px;flex-wrap:wrap}.kpi{flex:1;min-width:150px;background:#f4f5f7;border-radius:6px;
padding:12px}.kpi b{display:block;font-size:26px}.kpi span{color:#5c6670;font-size:13px}
svg{width:100%;height:auto;font-size:11px;fill:#1d2129}svg .grid{stroke:#e3e6ea}svg .axis{stroke:#8a939c}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:5px 8px;
border-bottom:1px solid #eceef1;vertical-align:top}th{color:#5c6670;font-weight:600}
td:nth-child(n+2){max-width:420px}.empty{color:#8a939c;font-style:italic}
"""


def render_html_report(client: QueryClient, scope: ReportScope) -> str:
    """The whole page for ``scope``."""
    queries = {q.number: q for q in read_bi_queries()}
    params = bi_params(scope.brand, scope.competitors, scope.aspect, scope.start, scope.end)

    def rows(number: int) -> list[dict[str, Any]]:
        return queries[number].records(client, params)

    headline = (rows(1) or [{}])[0]
    trend: dict[str, list[tuple[datetime, float]]] = {}
    for row in rows(8):
        trend.setdefault(row["aspect_l1"], []).append((row["period"], row["negative_share"]))
    top_aspects = sorted(trend, key=lambda a: -sum(1 for _ in trend[a]))[:6]
    nps = {"NPS": [(r["period"], r["nps"]) for r in rows(7)]}
    csat_trend = {"CSAT": [(r["period"], r["csat_pct"] / 100) for r in rows(13)]}
    touchpoints = rows(14)
    csat_answers = sum(r["csat_responses"] for r in touchpoints)
    csat_satisfied = sum(r["csat_pct"] * r["csat_responses"] / 100 for r in touchpoints)
    gaps = rows(6)
    drill = rows(3)
    kpis = [
        ("feedback", _e(headline.get("feedback_count"))),
        (
            "negative share",
            f"{100 * headline['negative_share']:.1f}%" if headline.get("negative_share") else "–",
        ),
        ("average rating", _e(headline.get("average_rating"))),
        ("NPS", _e(headline.get("nps"))),
        ("CSAT", f"{100 * csat_satisfied / csat_answers:.1f}%" if csat_answers else "–"),
    ]
    sections = [
        ("wide", "Headline", "Volume, sentiment, stars, NPS and CSAT over the range.",
         '<div class="kpis">' + "".join(f"<div class=kpi><b>{v}</b><span>{k}</span></div>" for k, v in kpis)
         + "</div>"),
        ("", "Negative share per aspect", "Share of each aspect's mentions that are negative, per hour.",
         line_chart({a: trend[a] for a in top_aspects}, "negative share", percent=True)),
        ("", "NPS trend", "Promoters minus detractors, in % of answers, per hour.",
         line_chart(nps, "NPS", percent=False)),
        ("", "CSAT trend", "Share of satisfied survey answers (4-5 of 5), per hour.",
         line_chart(csat_trend, "CSAT", percent=True)),
        ("", "CSAT by touchpoint", "Where the survey was taken, and how satisfied customers were there.",
         _table(touchpoints, [("touchpoint", "touchpoint"), ("csat_responses", "answers"),
                              ("csat_pct", "CSAT %"), ("dissatisfied_pct", "dissatisfied %"),
                              ("average_csat", "mean")])),
        ("", f"Competitor gap vs {', '.join(scope.competitors) or 'none'}",
         "Negative share of the brand minus that of its competitors, percentage points: right = worse.",
         bar_chart([(r["aspect_l1"], r["gap_pp"], _BAD if r["gap_pp"] > 0 else _GOOD) for r in gaps], " pp",
                   signed=True)),
        ("", f"Drill-down: {scope.aspect or '–'}", "Negative share of its sub-aspects.",
         bar_chart([(r["aspect_l2"] or scope.aspect, 100 * r["negative_share"], _BAD) for r in drill], "%")),
        ("wide", "Problems ranked by severity", " ".join(queries[2].description.split()).replace("`", ""),
         _table(rows(2), [("aspect", "aspect"), ("product_sku", "product"), ("mention_count", "mentions"),
                          ("negative_count", "negative"), ("negative_share", "share"),
                          ("previous_share", "previous share"), ("severity", "severity")])),
        ("wide", f"What customers say about {scope.aspect or '–'}", "The most negative verbatims (masked).",
         _table(rows(4), [("event_time", "time"), ("product_sku", "product"), ("variant", "variant"),
                          ("channel", "channel"), ("aspect", "aspect"), ("evidence", "verbatim")], 10)),
        ("", "Approval per variant", "Share of positive feedback per product variant.",
         _table(rows(5), [("product_sku", "product"), ("variant", "variant"), ("feedback_count", "feedback"),
                          ("approval_rate", "approval"), ("average_rating", "stars")], 12)),
        ("", "Channel mix", "Where the feedback comes from and how negative it is.",
         _table(rows(9), [("source", "source"), ("channel", "channel"), ("feedback_count", "feedback"),
                          ("share_of_feedback", "share"), ("negative_share", "negative")])),
        ("wide", "Alerts", "Window alerts and critical feedback, newest first.",
         _table(rows(10), [("window_start", "window"), ("kind", "kind"), ("severity", "severity"),
                           ("product", "product"), ("aspect", "aspect"), ("routing_key", "route to"),
                           ("reason", "reason")], 12)),
        ("wide", "Customers with repeated complaints", "Call them back: complaints ≥ 2, latest first.",
         _table(rows(11), [("customer_ref", "customer"), ("complaint_count", "complaints"),
                           ("feedback_count", "feedback"), ("last_contact", "last contact"),
                           ("channel", "channel"), ("last_said", "last said")], 10)),
        ("wide", "Actions and their effect", "Negative share of the action's scope 24 h before and after.",
         _table(rows(12), [("taken_at", "taken at"), ("description", "action"), ("share_before", "before"),
                           ("share_after", "after"), ("target_negative_share", "target"),
                           ("back_under_target", "under target")])),
    ]  # fmt: skip
    body = "".join(
        f'<section class="{cls}"><h2>{html.escape(title)}</h2>'
        f'<p class="what">{html.escape(what)}</p>{content}</section>'
        for cls, title, what, content in sections
    )
    period = f"{scope.start:%Y-%m-%d %H:%M} – {scope.end:%Y-%m-%d %H:%M}"
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>Voice of customer: {html.escape(scope.brand)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>Voice of customer: {html.escape(scope.brand)}</h1><p>{period} · "
        f"competitors {html.escape(', '.join(scope.competitors) or '–')} · generated by voc-pipeline"
        "</p></header>"
        f"<main>{body}</main></body></html>"
    )
