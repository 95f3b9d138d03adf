import pytest

from config import Settings, load_taxonomy
from pipeline.analysis import Analyzer, clause_log_odds_adjusted, polarity_of
from pipeline.aspects import AspectMatcher
from pipeline.clauses import split_clauses
from tests.unit.conftest import feedback


def test_split_clauses_keeps_offsets_into_the_text() -> None:
    text = "包装没有封口，汤都洒了。  好 "
    clauses = split_clauses(text)
    assert [c.text for c in clauses] == ["包装没有封口", "汤都洒了", "好"]
    assert all(text[c.start : c.end] == c.text for c in clauses)


def test_split_clauses_on_contrast_spaces_and_questions() -> None:
    clauses = split_clauses("味道不错但是有点贵 送餐很快,还会再来吗?")
    assert [c.text for c in clauses] == ["味道不错", "但是有点贵", "送餐很快", "还会再来吗"]
    assert [c.question for c in clauses] == [False, False, False, True]
    # 不但 is not a contrast, 就是 only before a weakening word, a colon is no boundary.
    assert [c.text for c in split_clauses("不但好吃而且便宜")] == ["不但好吃而且便宜"]
    assert [c.text for c in split_clauses("就是好吃")] == ["就是好吃"]
    assert [c.text for c in split_clauses("服务:态度很好")] == ["服务:态度很好"]
    # Latin words keep their spaces.
    assert [c.text for c in split_clauses("iPhone 15 很好用")] == ["iPhone 15", "很好用"]


def test_matcher_prefers_the_most_specific_aspect() -> None:
    matcher = AspectMatcher(load_taxonomy(Settings().taxonomy_path))
    assert list(matcher.aspects_in("外包装破损")) == ["包装/破损"]
    assert list(matcher.aspects_in("包装一般")) == ["包装"]
    assert list(matcher.aspects_in("今天天气不错")) == []


def test_negative_packaging_complaint(analyzer: Analyzer) -> None:
    scored = analyzer.score(feedback("包装没有封口，汤都洒了"))
    assert scored.polarity == -1
    assert [(m.aspect, m.polarity) for m in scored.aspects] == [("包装/封口", -1)]
    mention = scored.aspects[0]
    assert scored.text[mention.evidence_start : mention.evidence_end] == mention.evidence


def test_each_aspect_is_scored_on_its_own_clause(analyzer: Analyzer) -> None:
    scored = analyzer.score(feedback("客服态度很差。味道很好"))
    assert {m.aspect: m.polarity for m in scored.aspects} == {"服务": -1, "口味": 1}


def test_contrast_gives_each_side_its_own_opinion(analyzer: Analyzer) -> None:
    scored = analyzer.score(feedback("味道很好，但是包装破损了"))
    assert {m.aspect: m.polarity for m in scored.aspects} == {"口味": 1, "包装/破损": -1}


def test_negation_turns_an_opinion_around(analyzer: Analyzer) -> None:
    fresh = analyzer.analyze("水果很新鲜").aspects
    stale = analyzer.analyze("水果不新鲜").aspects
    assert [m.polarity for m in fresh] == [1] and [m.polarity for m in stale] == [-1]
    assert "不新鲜" in stale[0].opinion_words


def test_degree_adverbs_scale_and_questions_turn_clauses() -> None:
    plain = split_clauses("好吃")[0]
    assert clause_log_odds_adjusted(2.0, plain, ["非常", "好吃"]) == 3.0
    assert clause_log_odds_adjusted(2.0, plain, ["有点", "好吃"]) == pytest.approx(1.2)
    rhetorical = split_clauses("难道不好吃吗?")[0]
    assert rhetorical.question
    assert clause_log_odds_adjusted(-2.0, rhetorical, ["难道", "不", "好吃", "吗"]) == 2.0
    complaint = split_clauses("怎么这么慢?")[0]
    assert clause_log_odds_adjusted(1.0, complaint, ["怎么", "这么", "慢"]) == -2.0


def test_rating_and_nps_pull_the_overall_score(analyzer: Analyzer) -> None:
    text_only = analyzer.score(feedback("还可以吧")).score
    with_low_rating = analyzer.score(feedback("还可以吧", rating=1)).score
    assert with_low_rating < text_only
    assert analyzer.score(feedback("", nps=10)).score == 1.0
    assert analyzer.score(feedback("")).polarity == 0


def test_versions_are_recorded(analyzer: Analyzer) -> None:
    scored = analyzer.score(feedback("好"))
    assert scored.taxonomy_version.startswith("ecommerce-")
    assert scored.model_version.startswith("linear-")


def test_polarity_thresholds() -> None:
    assert (polarity_of(0.0), polarity_of(0.5), polarity_of(0.99)) == (-1, 0, 1)
