"""The compiled hot path (pipeline/text/native/_hotpath.pyx) against the pure-Python reference:
the same clauses, and the same domain and scores to 1e-9."""

import csv
import dataclasses
import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config import REPO_ROOT
from pipeline.text.clauses import Clause, compiled_splitter, split_clauses
from pipeline.text.features import NEGATORS
from pipeline.text.sentiment import LinearSentimentModel, load_sentiment_model, read_clauses
from pipeline.text.tokenize import build_tokenizer

_TOKENIZE = build_tokenizer("rjieba")

_WORDS = [
    *("好吃", "不错", "味道", "送餐", "很快", "太慢", "包装", "新鲜", "难吃", "服务", "态度", "一般", "还行"),
    *("外卖", "小时", "凉了", "分量", "足", "贵", "便宜", "下次", "再来", "推荐", "满意", "失望", "差评"),
    *("好评", "骑手", "饭菜", "米饭", "有点", "有些", "非常", "特别", "就是", "但是", "但", "不过", "可是"),
    *("只是", "不但", "但愿", "而且", "吗", "呢", "难道", "怎么这么", "不只是", "非", "冷", "热", "咸", "辣"),
]
_MARKS = [*",.!?;~、。，！？；…:：", " ", "  ", "\n", "\t", "_", "!", "<s>", "</s>", "\ufffd", "iPhone", "15"]
_FRAGMENTS = st.sampled_from([*_WORDS, *sorted(NEGATORS), *_MARKS]) | st.characters(
    min_codepoint=0x4E00, max_codepoint=0x4FFF
)
_TEXTS = st.lists(_FRAGMENTS, max_size=30).map("".join)
# Tokens that a segmenter would not give but that the interface allows: empty, white space
# inside, feature syntax (prev_word, !word, <s>), Latin next to Chinese.
_TOKENS = st.lists(
    st.sampled_from([*_WORDS[:20], "不", "没有", "", " ", "\n", " \n", ",", "?", "？", "…", "a", "a_b"])
    | st.sampled_from(["好吃_</s>", "<s>", "</s>", "<s>_好吃", "不_新鲜", "x__y", "_", "!", "!好吃"])
    | st.text(alphabet="好吃不新鲜没有_! ,?a", max_size=4),
    max_size=25,
)


@functools.cache
def _models() -> tuple[LinearSentimentModel, LinearSentimentModel]:
    reference = load_sentiment_model(implementation="python")
    return reference, dataclasses.replace(reference, implementation="compiled")  # shares the dicts


def _assert_same(text: str, tokens: list[str]) -> None:
    reference, compiled = _models()
    clauses = split_clauses(text, tokens)
    assert compiled_splitter()(text, tokens) == clauses
    assert all(type(clause) is Clause for clause in compiled_splitter()(text, tokens))
    got_clauses, got_domain, got_evidence = read_clauses(compiled, text, tokens)
    want_clauses, want_domain, want_evidence = read_clauses(reference, text, tokens)
    assert got_clauses == want_clauses == clauses
    assert got_domain == want_domain
    assert got_evidence == pytest.approx(want_evidence, abs=1e-9)
    words = [word for clause in clauses for word in clause.tokens]
    assert compiled.domain_of(words) == reference.domain_of(words)
    for clause in clauses:
        assert compiled.opinion_words(clause.tokens) == reference.opinion_words(clause.tokens)
        for domain in range(len(reference.domains)):
            want = reference.clause_log_odds(clause, domain)
            assert compiled.clause_log_odds(clause, domain) == pytest.approx(want, abs=1e-9)


@settings(deadline=None, max_examples=300)  # the first example loads the model
@given(_TEXTS)
def test_compiled_equals_reference_on_segmented_texts(text: str) -> None:
    _assert_same(text, _TOKENIZE(text))


@settings(deadline=None, max_examples=300)
@given(_TOKENS)
def test_compiled_equals_reference_on_any_tokens(tokens: list[str]) -> None:
    _assert_same("".join(tokens), tokens)


def test_compiled_equals_reference_on_the_demo_reviews() -> None:
    with (REPO_ROOT / "deploy" / "demo" / "reviews_sample.csv").open(encoding="utf-8") as handle:
        texts = [row["review"] for row in csv.DictReader(handle)]
    assert len(texts) > 100
    for text in texts:
        _assert_same(text, _TOKENIZE(text))


def _toy(implementation: str) -> LinearSentimentModel:
    # Keys with several "_" and feature syntax, a bigram key of another length (never
    # matched), a domain override, a router that needs two words to change its mind.
    return LinearSentimentModel(
        version="toy",
        domains=("a", "b"),
        bias=(0.0, 0.5),
        word_weights={"x_y_z": 1.0, "!好": -2.0, "好": 1.5, "<s>_不": 0.25, "好_</s>": 0.125, "不": -0.5},
        bigram_weights={"好吃": 0.75, "吃": 9.0, "好吃的": 9.0},
        domain_word_weights=({}, {"好": -1.0, "y_z": 4.0}),
        domain_bigram_weights=({}, {"好吃": 0.0}),
        router_bias=(0.0, -0.1),
        router_weights={"好": (0.0, 0.06), "吃": (0.0, 0.06)},
        opinion_threshold=1.0,
        implementation=implementation,  # type: ignore[arg-type]
    )


def test_compiled_reads_feature_syntax_exactly() -> None:
    reference, compiled = _toy("python"), _toy("compiled")
    cases = [
        ["x_y", "z"],  # both ways of cutting x_y_z at one of its "_" hit the key
        ["x", "y_z"],
        ["x_y_z"],
        ["不", "好"],
        ["好", "吃"],
        ["吃", "好"],
    ]
    for tokens in cases:
        clause = Clause("".join(tokens), 0, len("".join(tokens)), tokens)
        for domain in (0, 1, -1):
            want = reference.clause_log_odds(clause, domain)
            assert compiled.clause_log_odds(clause, domain) == pytest.approx(want, abs=1e-12)
        assert compiled.domain_of(tokens) == reference.domain_of(tokens)
        assert compiled.opinion_words(tokens) == reference.opinion_words(tokens)
    assert compiled.clause_log_odds(Clause("x_y z", 0, 5, ["x_y", "z"]), 0) == 1.0
    assert compiled.clause_log_odds(Clause("x y_z", 0, 5, ["x", "y_z"]), 1) == 1.0 + 4.0
    assert compiled.domain_of(["好"]) == 0 and compiled.domain_of(["好", "吃", "好"]) == 1
    assert reference.domain_of(["好", "吃", "好"]) == 1
    assert compiled.opinion_words(["不", "好", "好"]) == ["不好"]
    with pytest.raises(IndexError):
        compiled.clause_log_odds(Clause("好", 0, 1, ["好"]), 2)


def test_implementation_is_checked() -> None:
    with pytest.raises(ValueError, match="implementation"):
        _toy("cython")


def test_compiled_model_still_gives_trainings_view() -> None:
    # features_log_odds (training, cross-validation) builds the merged dicts on first use.
    compiled = _toy("compiled")
    assert compiled.features_log_odds(["好", "#好吃"], 1) == pytest.approx(0.5 - 1.0 + 0.0)
    assert compiled == _toy("python")
