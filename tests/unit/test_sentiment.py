import csv
import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import REPO_ROOT
from pipeline.text.clauses import split_clauses
from pipeline.text.features import clause_features
from pipeline.text.sentiment import LinearSentimentModel, load_sentiment_model, load_snownlp_model
from pipeline.text.tokenize import build_tokenizer


def test_log_odds_model_matches_snownlp_bayes_exactly() -> None:
    snownlp_sentiment = pytest.importorskip("snownlp.sentiment")
    from snownlp import normal

    model = load_snownlp_model()
    tokenize = build_tokenizer("jieba")
    for text in ["包装没有封口，汤都洒了", "味道很好，送餐很快", "太难吃了，再也不买了", "还行吧"]:
        tokens = tokenize(text)
        label, prob = snownlp_sentiment.classifier.classifier.classify(normal.filter_stop(tokens))
        expected = prob if label == "pos" else 1 - prob
        assert model.score(tokens) == pytest.approx(expected, abs=1e-9)


def test_extreme_inputs_do_not_overflow() -> None:
    model = load_snownlp_model()
    assert model.score(["难吃"] * 10_000) == pytest.approx(0.0, abs=1e-12)
    assert model.score([]) == pytest.approx(1 / (1 + 2.718281828 ** -model.prior_log_odds()), rel=1e-6)


def test_rjieba_segments_like_jieba_on_the_demo_reviews() -> None:
    with (REPO_ROOT / "deploy" / "demo" / "reviews_sample.csv").open(encoding="utf-8") as handle:
        texts = [row["review"] for row in csv.DictReader(handle)]
    fast, reference = build_tokenizer("rjieba", ["没封口"]), build_tokenizer("jieba", ["没封口"])
    same = sum(fast(t) == reference(t) for t in texts)
    # LOCAL_STACK_NOTES.md measured 99.98% identical (HMM off) on 20k docs.
    assert same / len(texts) >= 0.99, f"{same}/{len(texts)} identical"


@settings(deadline=None)  # the first example loads the model
@given(st.text(alphabet=st.sampled_from("好吃不新鲜没有味道送餐很快太慢了包装 ,?a1"), max_size=30))
def test_runtime_clause_log_odds_equals_the_training_features_sum(text: str) -> None:
    # LinearSentimentModel.clause_log_odds inlines pipeline.text.features for speed: it must give
    # exactly the sum of the weights of the features training fits on.
    model = _linear_model()
    for clause in split_clauses(text, _TOKENIZE(text)):
        features = clause_features(clause.text, clause.tokens)
        for domain in range(len(model.domains)):
            expected = model.features_log_odds(features, domain) - model.prior_log_odds(domain)
            assert model.clause_log_odds(clause, domain) == pytest.approx(expected, abs=1e-9)


def test_linear_model_reads_negation() -> None:
    model = _linear_model()
    fresh, stale = (split_clauses(t, _TOKENIZE(t))[0] for t in ("水果很新鲜", "水果不新鲜"))
    assert model.clause_log_odds(fresh, 0) > 0 > model.clause_log_odds(stale, 0)
    assert model.opinion_words(stale.tokens) == ["不新鲜"]


_TOKENIZE = build_tokenizer("rjieba")


@functools.cache
def _linear_model() -> LinearSentimentModel:
    return load_sentiment_model()
