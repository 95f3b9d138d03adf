import csv

import pytest

from config import REPO_ROOT
from pipeline.sentiment import load_snownlp_model
from pipeline.tokenize import build_tokenizer


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
