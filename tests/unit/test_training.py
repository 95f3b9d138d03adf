import gzip
from pathlib import Path
from typing import Any

import pytest

from pipeline.text.clauses import Clause
from pipeline.text.features import clause_features
from pipeline.text.sentiment import load_sentiment_model
from pipeline.text.tokenize import build_tokenizer

training = pytest.importorskip("pipeline.text.training", reason="needs the train extra (scikit-learn)")

POSITIVE = ["味道很好", "很新鲜，好吃", "送餐很快，满意", "非常好吃", "好评，还会再来", "包装很好，很满意"]
NEGATIVE = ["太难吃了", "不新鲜", "送餐太慢，失望", "很差，不会再买", "难吃，差评", "包装破了，很失望"]


def _corpus(domain: str) -> Any:
    tokenize = build_tokenizer("rjieba")
    examples = [training.prepare(t, 1, "", tokenize) for t in POSITIVE] + [
        training.prepare(t, 0, "", tokenize) for t in NEGATIVE
    ]
    return training.Corpus(domain, examples)


def test_negated_words_are_their_own_features() -> None:
    features = clause_features("水果不新鲜", ["水果", "不", "新鲜"])
    assert "!新鲜" in features and "新鲜" not in features
    assert "#鲜" not in features and "#新鲜" in features


def test_fit_save_load_round_trip_is_deterministic(tmp_path: Path) -> None:
    corpora = [_corpus("a"), _corpus("b")]
    first, second = tmp_path / "1.json.gz", tmp_path / "2.json.gz"
    training.fit(corpora, "test-1", min_df=1).save(first)
    training.fit(corpora, "test-1", min_df=1).save(second)
    assert first.read_bytes() == second.read_bytes()
    model = load_sentiment_model(first)
    assert model.clause_log_odds(Clause("不新鲜", 0, 3, ["不", "新鲜"]), 0) < 0
    assert model.version == "test-1"


def test_loading_a_missing_or_corrupt_model_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="make train"):
        load_sentiment_model(tmp_path / "absent.json.gz")
    corrupt = tmp_path / "bad.json.gz"
    corrupt.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="not a gzip'd JSON model"):
        load_sentiment_model(corrupt)
    wrong = tmp_path / "wrong.json.gz"
    wrong.write_bytes(gzip.compress(b'{"format": 99}'))
    with pytest.raises(ValueError, match="format 99"):
        load_sentiment_model(wrong)
