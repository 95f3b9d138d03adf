"""Turn the hand annotations into CSV files.

    python tests/data/ecommerce_aspects/build_labelled.py

annotations.txt          -> labelled.csv          (all 360 selected reviews, first pass)
relabel_annotations.txt  -> relabel_sample.csv    (the 60-row second pass, if present)

Annotation line format: "<source index> <code> <code> ..." or "<source index> ." where a code is
an aspect letter followed by + (1), 0 (0) or - (-1); every aspect not listed is -2.
"""

import csv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ASPECTS = [
    "logistics",
    "packaging",
    "quality",
    "price",
    "service",
    "size_fit",
    "appearance",
    "function",
    "after_sales",
    "taste",
]
LETTER = {
    "L": "logistics",
    "K": "packaging",
    "Q": "quality",
    "P": "price",
    "S": "service",
    "Z": "size_fit",
    "A": "appearance",
    "F": "function",
    "R": "after_sales",
    "T": "taste",
}
POLARITY = {"+": 1, "0": 0, "-": -1}


def read_selected() -> dict[int, dict[str, str]]:
    with open(HERE / "selected.csv", encoding="utf-8", newline="") as fh:
        return {int(r["index"]): r for r in csv.DictReader(fh)}


def parse(path: str | Path) -> dict[int, dict[str, int]]:
    labels: dict[int, dict[str, int]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        first, *codes = line.split()
        idx = int(first)
        if idx in labels:
            raise ValueError(f"{path}: index {idx} twice")
        row = {a: -2 for a in ASPECTS}
        for code in codes:
            if code == ".":
                continue
            aspect, pol = LETTER[code[0]], POLARITY[code[1:]]
            if row[aspect] != -2:
                raise ValueError(f"{path}: index {idx}: {aspect} twice")
            row[aspect] = pol
        labels[idx] = row
    return labels


def write(
    labels: dict[int, dict[str, int]],
    selected: dict[int, dict[str, str]],
    out: str,
    require_all: bool,
) -> None:
    missing = set(selected) - set(labels)
    unknown = set(labels) - set(selected)
    if unknown or (require_all and missing):
        raise SystemExit(f"{out}: unknown {sorted(unknown)[:5]}, missing {sorted(missing)[:5]}")
    with open(HERE / out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["index", "cat", "review", *ASPECTS])
        for idx in sorted(labels):
            s = selected[idx]
            w.writerow([idx, s["cat"], s["review"]] + [labels[idx][a] for a in ASPECTS])
    print(f"wrote {len(labels)} rows to {out}")


def main() -> None:
    selected = read_selected()
    write(parse(HERE / "annotations.txt"), selected, "labelled.csv", require_all=True)
    if (HERE / "relabel_annotations.txt").exists():
        write(parse(HERE / "relabel_annotations.txt"), selected, "relabel_sample.csv", require_all=False)


if __name__ == "__main__":
    main()
