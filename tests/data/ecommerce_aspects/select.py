"""Reproducibly select 36 reviews per category from online_shopping_10_cats/dev.csv.

Run from the repository root:  python tests/data/ecommerce_aspects/select.py
Writes selected.csv (index, cat, label, review) next to this file.

* index  = 0-based data-row number in dev.csv (header not counted).
* Reviews shorter than 8 or longer than 200 characters (after stripping surrounding
  whitespace, text itself kept verbatim) are skipped, and so is every row whose review
  text is an exact duplicate of an earlier row (first occurrence kept).
* Categories are processed in sorted order; one random.Random(14) draws
  rng.sample(candidates, 36) from each category's candidate list (in file order).
"""

import csv
import random
from pathlib import Path

Row = tuple[int, str, str, str]

HERE = Path(__file__).resolve().parent
SOURCE = Path("/work/shared/data/sentiment/online_shopping_10_cats/dev.csv")
PER_CAT = 36
SEED = 14
MIN_LEN, MAX_LEN = 8, 200


def candidates(path: Path = SOURCE) -> dict[str, list[Row]]:
    seen: set[str] = set()
    by_cat: dict[str, list[Row]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            text = row["review"]
            if text in seen:
                continue
            seen.add(text)
            n = len(text.strip().lstrip("\ufeff"))
            if n < MIN_LEN or n > MAX_LEN:
                continue
            by_cat.setdefault(row["cat"], []).append((i, row["cat"], row["label"], text))
    return by_cat


def main() -> None:
    by_cat = candidates()
    rng = random.Random(SEED)
    out: list[Row] = []
    for cat in sorted(by_cat):
        out.extend(sorted(rng.sample(by_cat[cat], PER_CAT)))
    with open(HERE / "selected.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["index", "cat", "label", "review"])
        w.writerows(out)
    print(f"wrote {len(out)} rows to {HERE / 'selected.csv'}")


if __name__ == "__main__":
    main()
