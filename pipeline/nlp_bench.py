"""``make bench-nlp``: speed and memory of the text stage in one process.

Measures, on the review texts of a CSV (waimai_10k by default: 25 characters on average),
docs/s of normalize + PII mask + tokenize + aspects + sentiment on one core; the time to
import the analyzer and load taxonomy, tokenizer and model, in a fresh interpreter; and the
peak RSS of that interpreter after scoring every text.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["run_nlp_bench"]

# Runs in a fresh interpreter so that import and load time are what a worker pays.
_CHILD = r"""
import time
started = time.perf_counter()
import csv, json, resource, sys
from pathlib import Path
from config import Settings
from pipeline.context import build_analyzer
from pipeline.text import mask_pii, normalize_text
settings = Settings(taxonomy_path=Path(sys.argv[2]))
analyzer = build_analyzer(settings)
load_s = time.perf_counter() - started
with open(sys.argv[1], encoding="utf-8-sig", newline="") as handle:
    texts = [row[sys.argv[3]] for row in csv.DictReader(handle)]
rounds = int(sys.argv[4])
best = float("inf")
for _ in range(rounds):
    t0 = time.process_time()
    for text in texts:
        analyzer.analyze(mask_pii(normalize_text(text)))
    best = min(best, time.process_time() - t0)
print(json.dumps({
    "import_and_load_s": round(load_s, 3),
    "docs": len(texts),
    "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
    "docs_per_s_per_core": round(len(texts) / best, 0),
    "us_per_doc": round(best / len(texts) * 1e6, 1),
    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    "model": analyzer.model_version,
    "taxonomy": analyzer.taxonomy_version,
}))
"""


def run_nlp_bench(
    texts_csv: Path, taxonomy: Path, text_column: str = "review", rounds: int = 3
) -> dict[str, Any]:
    """Run the benchmark in a child interpreter and return its JSON result (best of
    ``rounds`` passes, CPU time of the process, so other load on the machine counts less)."""
    if not texts_csv.exists():
        raise FileNotFoundError(f"{texts_csv} not found")
    with texts_csv.open(encoding="utf-8-sig", newline="") as handle:
        if text_column not in (csv.DictReader(handle).fieldnames or []):
            raise ValueError(f"{texts_csv} has no column {text_column!r}")
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD, str(texts_csv), str(taxonomy), text_column, str(rounds)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    result["file"] = str(texts_csv)
    return result
