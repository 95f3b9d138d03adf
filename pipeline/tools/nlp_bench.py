"""``make bench-nlp``: speed and memory of the text stage in one process.

Measures, on the review texts of a CSV (waimai_10k by default: 25 characters on average),
docs/s of normalize + PII mask + tokenize + aspects + sentiment on one core; the time to
import the analyzer and load taxonomy, tokenizer and model, in a fresh interpreter; and the
peak RSS of that interpreter after scoring every text. One run measures three scorers, each
in its own interpreter: our model compiled (what a worker runs), the same model in pure
Python (the reference, ``LinearSentimentModel(implementation="python")``) and snownlp's
bundled Bayes model (the baseline). Each also gets a breakdown of the time per document by
stage, every stage timed alone over all the texts.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from config import Settings

__all__ = ["GOALS", "SCORERS", "render_table", "run_nlp_bench"]

SCORERS = ("compiled", "python", "snownlp")
# Issue #14: per core, in one process.
GOALS = {"docs_per_s_per_core": 20_000, "import_and_load_s": 2.0, "peak_rss_mb": 400}

# Runs in a fresh interpreter so that import and load time are what a worker pays.
_CHILD = r"""
import time
started = time.perf_counter()
import csv, json, resource, sys
from config import Settings
from pipeline.runtime.context import build_analyzer
from pipeline.text.normalize import mask_pii, normalize_text
texts_csv, settings_json, column, rounds, scorer_name = sys.argv[1:6]
settings = Settings(**json.loads(settings_json))  # the parent's settings, not read again
if scorer_name == "compiled":
    scorer = None  # the worker's default: the trained model, compiled
elif scorer_name == "python":
    from pipeline.text.sentiment import load_sentiment_model
    scorer = load_sentiment_model(settings.sentiment_model_path, implementation="python")
else:
    from pipeline.text.sentiment import load_snownlp_model
    scorer = load_snownlp_model()
analyzer = build_analyzer(settings, scorer=scorer)
load_s = time.perf_counter() - started
with open(texts_csv, encoding="utf-8-sig", newline="") as handle:
    texts = [row[column] for row in csv.DictReader(handle)]
rounds = int(rounds)


def best_us(function, inputs):
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        for item in inputs:
            function(item)
        best = min(best, time.process_time() - t0)
    return best / len(inputs) * 1e6


us_per_doc = best_us(lambda text: analyzer.analyze(mask_pii(normalize_text(text))), texts)
from pipeline.text.sentiment import read_clauses
normalized = [normalize_text(text) for text in texts]
masked = [mask_pii(text) for text in normalized]
tokenize, model = analyzer._tokenize, analyzer._model
segmented = [(text, tokenize(text)) for text in masked]
stages = {
    "normalize": best_us(normalize_text, texts),
    "mask_pii": best_us(mask_pii, normalized),
    "tokenize": best_us(tokenize, masked),
    "clauses_and_scores": best_us(lambda pair: read_clauses(model, *pair), segmented),
    "analyze": best_us(analyzer.analyze, masked),
}
stages["aspects_and_rest"] = stages["analyze"] - stages["tokenize"] - stages["clauses_and_scores"]
print(json.dumps({
    "import_and_load_s": round(load_s, 3),
    "docs": len(texts),
    "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
    "docs_per_s_per_core": round(1e6 / us_per_doc),
    "us_per_doc": round(us_per_doc, 1),
    "stages_us_per_doc": {name: round(value, 2) for name, value in stages.items()},
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "model": analyzer.model_version,
    "taxonomy": analyzer.taxonomy_version,
}))
"""


def run_nlp_bench(
    texts_csv: Path,
    settings: Settings,
    text_column: str = "review",
    rounds: int = 3,
    scorers: tuple[str, ...] = SCORERS,
) -> dict[str, Any]:
    """Run the benchmark of each scorer (:data:`SCORERS`) in a child interpreter and return
    their JSON results by scorer name (best of ``rounds`` passes, CPU time of the process, so
    other load on the machine counts less), with the goals and whether the compiled scorer
    meets them."""
    if not texts_csv.exists():
        raise FileNotFoundError(f"{texts_csv} not found")
    with texts_csv.open(encoding="utf-8-sig", newline="") as handle:
        if text_column not in (csv.DictReader(handle).fieldnames or []):
            raise ValueError(f"{texts_csv} has no column {text_column!r}")
    unknown = set(scorers) - set(SCORERS)
    if unknown:
        raise ValueError(f"unknown scorers {sorted(unknown)}: expected some of {SCORERS}")
    result: dict[str, Any] = {"file": str(texts_csv), "goals": GOALS}
    # The children take these settings as they are (secrets left out: the text stage has none).
    child_settings = settings.model_dump_json(exclude={"customer_ref_salt", "clickhouse_password"})
    for scorer in scorers:
        completed = subprocess.run(
            [sys.executable, "-c", _CHILD, str(texts_csv), child_settings, text_column, str(rounds), scorer],
            check=True,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        result[scorer] = json.loads(completed.stdout.strip().splitlines()[-1])
    if "compiled" in result:
        compiled = result["compiled"]
        result["goals_met"] = {
            "docs_per_s_per_core": compiled["docs_per_s_per_core"] >= GOALS["docs_per_s_per_core"],
            "import_and_load_s": compiled["import_and_load_s"] < GOALS["import_and_load_s"],
            "peak_rss_mb": compiled["peak_rss_mb"] < GOALS["peak_rss_mb"],
        }
    return result


def render_table(result: dict[str, Any]) -> str:
    """The scorers of ``result`` side by side, one row per figure (Markdown)."""
    scorers = [name for name in SCORERS if name in result]
    labels = {"compiled": "ours, compiled", "python": "ours, pure Python", "snownlp": "snownlp bundled"}
    rows = [
        ("docs/s per core", "docs_per_s_per_core", "{:,.0f}"),
        ("µs per doc", "us_per_doc", "{:.1f}"),
        ("import + load s", "import_and_load_s", "{:.2f}"),
        ("peak RSS MB", "peak_rss_mb", "{:.0f}"),
    ]
    stages = list(result[scorers[0]]["stages_us_per_doc"]) if scorers else []
    lines = [
        "| " + " | ".join(["figure", *(labels[name] for name in scorers)]) + " |",
        "|" + "---|" * (len(scorers) + 1),
    ]
    for label, key, form in rows:
        lines.append("| " + " | ".join([label, *(form.format(result[name][key]) for name in scorers)]) + " |")
    for stage in stages:
        values = (f"{result[name]['stages_us_per_doc'][stage]:.1f}" for name in scorers)
        lines.append("| " + " | ".join([f"µs: {stage}", *values]) + " |")
    return "\n".join(lines)
