from config import Settings, load_taxonomy
from pipeline.analysis import Analyzer, polarity_of
from pipeline.aspects import AspectMatcher, split_clauses
from tests.unit.conftest import feedback


def test_split_clauses_keeps_offsets_into_the_text() -> None:
    text = "包装没有封口，汤都洒了。  好 "
    clauses = split_clauses(text)
    assert [c.text for c in clauses] == ["包装没有封口", "汤都洒了", "好"]
    assert all(text[c.start : c.end] == c.text for c in clauses)


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


def test_rating_and_nps_pull_the_overall_score(analyzer: Analyzer) -> None:
    text_only = analyzer.score(feedback("还可以吧")).score
    with_low_rating = analyzer.score(feedback("还可以吧", rating=1)).score
    assert with_low_rating < text_only
    assert analyzer.score(feedback("", nps=10)).score == 1.0
    assert analyzer.score(feedback("")).polarity == 0


def test_versions_are_recorded(analyzer: Analyzer) -> None:
    scored = analyzer.score(feedback("好"))
    assert scored.taxonomy_version.startswith("ecommerce-")
    assert scored.model_version == "snownlp-0.12.3-bayes"


def test_polarity_thresholds() -> None:
    assert (polarity_of(0.0), polarity_of(0.5), polarity_of(0.99)) == (-1, 0, 1)
