"""Critical feedback: one alert per feedback that meets a critical rule (safety, legal,
fraud, a detractor's strong negative text), routed to whoever at the front line can act on
it. Pure; runs on every counted feedback, apart from the windows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from config.alert_rules import CriticalRule
from pipeline.detection.alert_ids import hashed_id
from schemas.alerts import Alert, AlertScope
from schemas.feedback import ScoredFeedback

__all__ = ["DETRACTOR_MAX", "VERBATIM_CHARS", "critical_alerts", "is_reported"]

# Alerts quote this many characters of a window's samples (twice that of a critical feedback).
VERBATIM_CHARS = 60
# An NPS detractor scores 0-6 (Reichheld).
DETRACTOR_MAX = 6


def critical_alerts(feedback: ScoredFeedback, rules: Iterable[CriticalRule], now: datetime) -> list[Alert]:
    """One alert per critical rule that ``feedback`` meets, routed to its store, agent or
    customer so that a front-line service can act on it."""
    alerts: list[Alert] = []
    aspects = [m.aspect for m in feedback.aspects] or [""]
    for rule in rules:
        if not any(rule.scope.matches(feedback.brand, feedback.product_sku, a) for a in aspects):
            continue
        reasons = [
            f"{category}: {', '.join(found)}"
            for category, terms in rule.terms.items()
            if feedback.score <= rule.term_max_score.get(category, 1.0)
            and (
                found := [
                    term
                    for term in terms
                    if term in feedback.text
                    and (category not in rule.reported_only or is_reported(feedback.text, term))
                ]
            )
        ]
        # "Strong negative text": the text must say something, and the overall score (text
        # averaged with the NPS and rating) be low.
        detractor = (
            rule.detractor_max_score is not None
            and bool(feedback.text)
            and feedback.nps is not None
            and feedback.nps <= DETRACTOR_MAX
            and feedback.score <= rule.detractor_max_score
        )
        if detractor:
            reasons.append(f"detractor: NPS {feedback.nps}, score {feedback.score:.2f}")
        if not reasons:
            continue
        alerts.append(
            Alert(
                alert_id=hashed_id(f"{rule.name}|{feedback.feedback_id}"),
                kind="critical_feedback",
                rule=rule.name,
                severity=rule.severity,
                scope=AlertScope(
                    brand=feedback.brand,
                    product=feedback.product_sku,
                    aspect=feedback.aspects[0].aspect if feedback.aspects else "",
                ),
                metric="feedback_score",
                observed=feedback.score,
                mentions=1,
                window_start=feedback.event_time,
                window_end=feedback.event_time,
                sample_feedback_ids=(feedback.feedback_id,),
                verbatims=(feedback.text[: VERBATIM_CHARS * 2],),
                reason="; ".join(reasons),
                created_at=now,
                routing_key=_front_line_route(feedback),
                customer_ref=feedback.customer_ref,
            )
        )
    return alerts


# What makes a term supposed rather than reported: a modal of possibility or a warning
# shortly before it (喝多了会中毒, 小心过敏, 以免中毒), unless 了 follows (会中毒了 is not said;
# 就中毒了 is). Quotes and a reposted chain (//@name:) are someone else's words.
_SUPPOSING = (
    "会",
    "可能",
    "容易",
    "小心",
    "以免",
    "防止",
    "担心",
    "害怕",
    "怕",
    "据说",
    "听说",
    "万一",
    "如果",
)
_SUPPOSING_WINDOW = 4
_QUOTES = (("“", "”"), ("「", "」"), ("『", "』"), ('"', '"'))
_REPOST = "//@"


def is_reported(text: str, term: str) -> bool:
    """Whether some occurrence of ``term`` in ``text`` is the writer reporting it: outside
    quotes and reposted text, and not supposed (see ``_SUPPOSING``)."""
    own = text.split(_REPOST, 1)[0]
    start = own.find(term)
    while start >= 0:
        end = start + len(term)
        before = own[max(0, start - _SUPPOSING_WINDOW) : start]
        happened = own[end : end + 1] == "了"
        quoted = any(_inside(own, start, opening, closing) for opening, closing in _QUOTES)
        if not quoted and (happened or not any(marker in before for marker in _SUPPOSING)):
            return True
        start = own.find(term, start + 1)
    return False


def _inside(text: str, position: int, opening: str, closing: str) -> bool:
    """Whether ``position`` lies inside an opened and not yet closed quote."""
    if opening == closing:
        return text.count(opening, 0, position) % 2 == 1
    return text.count(opening, 0, position) > text.count(closing, 0, position)


def _front_line_route(feedback: ScoredFeedback) -> str:
    """Who can act on one feedback: its store, else its agent, else its customer."""
    if feedback.store_id:
        return f"store:{feedback.store_id}"
    if feedback.agent_id:
        return f"agent:{feedback.agent_id}"
    if feedback.customer_ref:
        return f"customer:{feedback.customer_ref}"
    return f"{feedback.brand}|{feedback.product_sku}"
