"""``make eval``: our model and snownlp's bundled model on the labelled data, side by side,
written as a table into the README's results section.

Sentence level, ours is measured by 5-fold cross-validation (it was trained on these
files); snownlp's by scoring the rows it was not trained on. Aspect level, both run on the
ASAP samples, which no model here was trained on.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pipeline.analysis import Analyzer
from pipeline.evaluation import AspectReport, evaluate_aspects, evaluate_sentiment
from pipeline.training import CORPORA, SNOWNLP_SEEN_CATEGORIES

__all__ = ["README_BEGIN", "README_END", "render_table", "run_eval_report", "write_into_readme"]

README_BEGIN = "<!-- make eval: begin -->"
README_END = "<!-- make eval: end -->"
_ASAP_FILES = ("train_sample.csv", "dev_sample.csv", "test_sample.csv")


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


def _concatenate_asap(data_dir: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as out:
        writer: Any = None
        for name in _ASAP_FILES:
            with (data_dir / "aspects" / "asap_samples" / name).open(encoding="utf-8-sig", newline="") as inp:
                reader = csv.DictReader(inp)
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=list(reader.fieldnames or []))
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
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Run every measurement; return them as one JSON-able dict."""
    from pipeline.tokenize import build_tokenizer
    from pipeline.training import cross_validate, load_corpus

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

    asap = _concatenate_asap(data_dir, work_dir / "asap_samples_all.csv")
    progress("aspects on the ASAP samples...")
    aspects = {
        "ours": evaluate_aspects(asap, ours_catering),
        "snownlp": evaluate_aspects(asap, baseline_catering),
    }
    return {
        "sentence": sentence,
        "aspects": aspects,
        "model": ours.model_version,
        "taxonomy": ours_catering.taxonomy_version,
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
    ours: AspectReport = result["aspects"]["ours"]
    base_a: AspectReport = result["aspects"]["snownlp"]
    lines += [
        "",
        "| aspect level, ASAP samples (300 rows, 18 aspects) | macro-F1 | mention F1 "
        "| polarity accuracy | docs/s |",
        "|---|---|---|---|---|",
    ]
    for name, report in (("ours (catering taxonomy + our model)", ours), ("same, snownlp's model", base_a)):
        lines.append(
            f"| {name} | {report.macro_f1:.4f} | {report.mention_f1:.4f} | "
            f"{report.polarity_accuracy:.4f} | {report.docs_per_s:,.0f} |"
        )
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
