"""Models and their quality: ``voc train`` and ``voc eval``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from config import REPO_ROOT, ConfigError, resources
from pipeline.cli._common import (
    DATA_DIR_OPTION,
    MODEL_OPTION,
    current_settings,
    sentiment_scorer,
    text_analyzer,
)  # fmt: skip

if TYPE_CHECKING:
    from pipeline.text.analysis import Analyzer

__all__ = ["COMMANDS"]


@click.group()
def train() -> None:
    """Train models on labelled data (needs the `train` extra: pip install -e '.[train]')."""


@train.command("sentiment")
@DATA_DIR_OPTION
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Artefact path.")
@click.option("--cv-folds", default=0, show_default=True, help="Also cross-validate with this many folds.")
def train_sentiment(data_dir: Path, out: Path | None, cv_folds: int) -> None:
    """Fit the sentence sentiment model and write its artefact; print CV accuracy as JSON."""
    import orjson

    from pipeline.text.training import train_and_save

    settings = current_settings()
    result = train_and_save(
        data_dir, out or settings.sentiment_model_path, settings.tokenizer, cv_folds, click.echo
    )
    click.echo(orjson.dumps(result).decode())


@train.command("aspects")
@DATA_DIR_OPTION
@click.option(
    "--taxonomy", "taxonomy_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=REPO_ROOT / "config" / "taxonomy" / "catering.yaml", show_default=True,
    help="The taxonomy whose labels are the files' columns.",
)  # fmt: skip
@click.option(
    "--file", "files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labelled CSV (reviewbody + one column per label), repeatable [the catering files of --data-dir].",
)  # fmt: skip
@click.option("--text-column", default="reviewbody", show_default=True, help="The column holding the text.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Artefact path.")
@click.option("--cv-folds", default=0, show_default=True, help="Also cross-validate with this many folds.")
def train_aspects(
    data_dir: Path,
    taxonomy_path: Path,
    files: tuple[Path, ...],
    text_column: str,
    out: Path | None,
    cv_folds: int,
) -> None:
    """Fit the learned aspect model of a taxonomy on labelled reviews and write its artefact
    (pipeline/models/aspects-<industry>.npz); print CV figures as JSON."""
    import orjson

    from pipeline.runtime.context import aspect_model_path, build_analyzer
    from pipeline.text.aspect_training import CATERING_FILES, cross_validate, fit, load_examples

    settings = current_settings()
    try:
        analyzer = build_analyzer(settings, taxonomy_path, learned_aspects=False)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    paths = list(files) or [data_dir / name for name in CATERING_FILES]
    labels = _label_columns(paths[0], analyzer)
    if not labels:
        raise click.ClickException(
            f"no column of {paths[0]} is a label of taxonomy {analyzer.taxonomy_version}"
        )
    try:
        examples = load_examples(paths, labels, analyzer, text_column)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    result: dict[str, object] = {"rows": len(examples), "labels": len(labels)}
    if cv_folds:
        cv = cross_validate(examples, labels, analyzer.taxonomy_version, cv_folds, progress=click.echo)
        result["cv"] = {
            "folds": cv_folds, "macro_f1": round(cv.macro_f1, 4), "mention_f1": round(cv.mention_f1, 4),
            "polarity_accuracy": round(cv.polarity_accuracy, 4),
            "lexicon_macro_f1": round(cv.lexicon_macro_f1, 4),
        }  # fmt: skip
    target = out or aspect_model_path(settings, analyzer.taxonomy.industry)
    fit(examples, labels, analyzer.taxonomy_version).save(target)
    result["artefact"] = str(target)
    click.echo(orjson.dumps(result).decode())


def _label_columns(path: Path, analyzer: Analyzer) -> list[str]:
    """The columns of ``path`` that are labels of the analyzer's taxonomy, in taxonomy order."""
    import csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        columns = set(next(csv.reader(handle), []))
    return [node.label for _, node in analyzer.taxonomy.paths() if node.label in columns]


@click.group("eval")
def evaluate() -> None:
    """Measure the text stage on labelled CSV files, or the alert rules on a scenario; one
    JSON line per run."""


@evaluate.command("pii")
@click.option("--seed", default=13, show_default=True, help="Seed of the generated corpus.")
@click.option("--per-type", default=40, show_default=True, help="Positives per PII type (10 types).")
@click.option("--negatives", default=400, show_default=True, help="Look-alikes that must survive.")
def eval_pii(seed: int, per_type: int, negatives: int) -> None:
    """What `make eval-pii` runs: mask a seeded corpus of personal data in the forms customers
    type and of numbers analysts need; print recall per type, false masks per kind and
    precision (one JSON object)."""
    import orjson

    from pipeline.text.pii_eval import evaluate_pii, generate_corpus

    result = evaluate_pii(generate_corpus(seed, per_type, negatives))
    click.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


@evaluate.command("alerts")
@click.argument("scenario_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--rules",
    "rules_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Alert rules YAML (default: VOC_ALERT_RULES_PATH).",
)
def eval_alerts(scenario_dir: Path, rules_path: Path | None) -> None:
    """Stream a scenario (`voc scenario generate`) through the detector and print recall per
    anomaly kind, false alarms per 1,000 stationary scope-windows and delay in windows."""
    import orjson

    from config import load_alert_rules
    from pipeline.tools.scenarios import evaluate_alerts, read_scenario

    try:
        scenario = read_scenario(scenario_dir)
        rules = load_alert_rules(rules_path or current_settings().alert_rules_path)
    except (ValueError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(orjson.dumps(evaluate_alerts(scenario, rules)).decode())


@evaluate.command("sentiment")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--text-column", default="review", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write one `label` (1/0) per input row, in input order.",
)
@MODEL_OPTION
def eval_sentiment(
    file: Path, text_column: str, label_column: str, predictions: Path | None, model: str
) -> None:
    """Binary sentence-level accuracy, macro-F1 and docs/s on FILE (label 1/0)."""
    import orjson

    from pipeline.text.evaluation import EvaluationInputError, evaluate_sentiment

    settings = current_settings()
    analyzer = text_analyzer(settings, None, sentiment_scorer(settings, model))
    try:
        report = evaluate_sentiment(file, analyzer, text_column, label_column, predictions)
    except EvaluationInputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(orjson.dumps(report.to_json()).decode())


@evaluate.command("aspects")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--predictions",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the predicted aspect columns per input row, in input order.",
)
@click.option(
    "--taxonomy",
    "taxonomy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=REPO_ROOT / "config" / "taxonomy" / "catering.yaml",
    show_default=True,
    help="The taxonomy whose node labels are FILE's aspect columns (catering: the 18 ASAP columns).",
)
@click.option("--text-column", default="reviewbody", show_default=True, help="The column holding the text.")
@click.option("--lexicon-only", is_flag=True, help="Leave the taxonomy's learned aspect model out.")
@MODEL_OPTION
def eval_aspects(
    file: Path,
    predictions: Path | None,
    taxonomy_path: Path,
    text_column: str,
    lexicon_only: bool,
    model: str,
) -> None:
    """Aspect evaluation (AI Challenger 2018 macro-F1) on FILE, in the ASAP layout: a text
    column and one column per taxonomy label holding 1 / 0 / -1 / -2 (every label of the
    taxonomy that is a column of FILE is evaluated)."""
    import orjson

    from pipeline.runtime.context import build_analyzer
    from pipeline.text.evaluation import EvaluationInputError, evaluate_aspects

    settings = current_settings()
    try:
        analyzer = build_analyzer(
            settings,
            taxonomy_path,
            sentiment_scorer(settings, model),
            learned_aspects=not lexicon_only and model == "ours",
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    labels = _label_columns(file, analyzer)
    if not labels:
        raise click.ClickException(f"no column of {file} is a label of {analyzer.taxonomy_version}")
    try:
        report = evaluate_aspects(file, analyzer, predictions, labels, text_column)
    except EvaluationInputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(orjson.dumps(report.to_json()).decode())


@evaluate.command("report")
@DATA_DIR_OPTION
@click.option(
    "--readme",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Write the results table into this README's results section.",
)
def eval_report(data_dir: Path, readme: Path | None) -> None:
    """Ours against snownlp's model on the labelled data (needs the `train` extra)."""
    import dataclasses

    import orjson

    from pipeline.runtime.context import build_analyzer
    from pipeline.text.eval_report import render_table, run_eval_report, write_into_readme

    settings = current_settings()
    catering = REPO_ROOT / "config" / "taxonomy" / "catering.yaml"
    # Each model is loaded once and shared by the analyzers of both taxonomies.
    ours, baseline = sentiment_scorer(settings, "ours"), sentiment_scorer(settings, "snownlp")
    result = run_eval_report(
        data_dir,
        resources.work_dir("eval"),
        text_analyzer(settings, None, ours),
        text_analyzer(settings, None, baseline),
        build_analyzer(settings, catering, ours, learned_aspects=False),
        build_analyzer(settings, catering, baseline, learned_aspects=False),
        build_analyzer(settings, catering, ours, learned_aspects=True),
        lambda line: click.echo(line, err=True),
    )
    table = render_table(result)
    click.echo(table)
    if readme is not None:
        write_into_readme(readme, table)
    result["aspects"] = {name: report.to_json() for name, report in result["aspects"].items()}
    result["ecommerce"] = result["ecommerce"].to_json()
    result["learned_cv"] = dataclasses.asdict(result["learned_cv"])
    click.echo(orjson.dumps(result).decode())


COMMANDS: list[click.Command] = [train, evaluate]
