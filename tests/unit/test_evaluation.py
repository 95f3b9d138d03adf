import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import REPO_ROOT, Settings, load_taxonomy
from pipeline.cli import main
from pipeline.runtime.context import build_analyzer
from pipeline.text.analysis import Analyzer
from pipeline.text.evaluation import (
    ASAP_ASPECTS,
    EvaluationInputError,
    evaluate_aspects,
    evaluate_sentiment,
    macro_f1,
)
from pipeline.text.sentiment import load_sentiment_model
from pipeline.text.tokenize import build_tokenizer


@pytest.fixture(scope="module")
def catering() -> Analyzer:
    taxonomy = load_taxonomy(REPO_ROOT / "config" / "taxonomy" / "catering.yaml")
    return Analyzer(taxonomy, build_tokenizer("rjieba", taxonomy.dictionary_words()), load_sentiment_model())


def test_macro_f1_counts_every_class_even_when_absent() -> None:
    # All "not mentioned", truth has one positive: F1(-2)=2*3/(2*3+1)=6/7, others 0.
    pairs = [(-2, -2)] * 3 + [(1, -2)]
    assert macro_f1(pairs, (1, 0, -1, -2)) == pytest.approx((6 / 7) / 4)
    assert macro_f1([(1, 1), (0, 0)], (1, 0)) == 1.0


def test_eval_sentiment_writes_one_prediction_per_row_in_order(tmp_path: Path, analyzer: Analyzer) -> None:
    data = tmp_path / "s.csv"
    rows = "label,review\n1,味道很好，送餐很快\n0,太难吃了，再也不买了\n1,非常满意\n"
    data.write_text(rows, encoding="utf-8-sig")
    out = tmp_path / "p.csv"
    report = evaluate_sentiment(data, analyzer, predictions=out)
    with out.open(encoding="utf-8") as handle:
        labels = [row["label"] for row in csv.DictReader(handle)]
    assert labels == ["1", "0", "1"]
    assert (report.n, report.accuracy, report.macro_f1) == (3, 1.0, 1.0)


def test_eval_sentiment_names_missing_columns_and_bad_labels(tmp_path: Path, analyzer: Analyzer) -> None:
    data = tmp_path / "s.csv"
    data.write_text("label,text\n1,好\n", encoding="utf-8")
    with pytest.raises(EvaluationInputError, match="missing column"):
        evaluate_sentiment(data, analyzer)
    assert evaluate_sentiment(data, analyzer, text_column="text").n == 1
    data.write_text("label,review\npositive,好\n", encoding="utf-8")
    with pytest.raises(EvaluationInputError, match="line 2: label='positive'"):
        evaluate_sentiment(data, analyzer)


def _asap_file(path: Path, rows: list[tuple[str, str, dict[str, int]]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "reviewbody", "star", *ASAP_ASPECTS])
        for index, (text, star, labels) in enumerate(rows):
            writer.writerow([index, text, star, *(labels.get(a, -2) for a in ASAP_ASPECTS)])


def test_eval_aspects_on_an_asap_shaped_file(tmp_path: Path, catering: Analyzer) -> None:
    data = tmp_path / "a.csv"
    _asap_file(
        data,
        [
            ("服务员态度很好，菜的味道非常好吃", "5", {"service_waiters_attitude": 1, "dish_taste": 1}),
            (
                "停车很不方便，上菜太慢了",
                "",
                {"service_parking_convenience": -1, "service_serving_speed": -1},
            ),
        ],
    )
    out = tmp_path / "p.csv"
    report = evaluate_aspects(data, catering, predictions=out)
    assert report.n == 2
    assert report.mention_f1 == 1.0
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == list(ASAP_ASPECTS)
    assert rows[0]["dish_taste"] == "1" and rows[1]["service_serving_speed"] == "-1"
    assert rows[0]["location_traffic"] == "-2"
    assert set(report.per_aspect) == set(ASAP_ASPECTS)


def test_eval_aspects_rejects_labels_outside_the_four_classes(tmp_path: Path, catering: Analyzer) -> None:
    data = tmp_path / "a.csv"
    _asap_file(data, [("好吃", "5", {"dish_taste": 2})])
    with pytest.raises(EvaluationInputError, match="dish_taste='2'"):
        evaluate_aspects(data, catering)


def test_cli_eval_sentiment_prints_one_json_line(tmp_path: Path) -> None:
    data = tmp_path / "s.csv"
    data.write_text("review,label\n好吃,1\n难吃,0\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "sentiment", str(data)])
    assert result.exit_code == 0, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith('{"n":2,"accuracy":')


def test_cli_eval_reports_bad_input_as_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "s.csv"
    data.write_text("text\n好吃\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["eval", "sentiment", str(data)])
    assert result.exit_code != 0
    assert "missing column(s) review, label" in result.output


def test_default_settings_build_the_trained_model() -> None:
    assert build_analyzer(Settings()).model_version.startswith("linear-")


def test_eval_aspects_needs_a_taxonomy_labelled_with_asap_columns(tmp_path: Path, analyzer: Analyzer) -> None:
    data = tmp_path / "a.csv"
    _asap_file(data, [("好吃", "5", {"dish_taste": 1})])
    with pytest.raises(EvaluationInputError, match="no aspect labelled as an ASAP column"):
        evaluate_aspects(data, analyzer)  # the default e-commerce taxonomy
