"""Self-agreement of the aspect labels: first pass (labelled.csv) against the blind-ish second
pass on a seeded sample of 60 rows (relabel_sample.csv).

    python tests/data/ecommerce_aspects/agreement.py            # figures
    python tests/data/ecommerce_aspects/agreement.py --sample   # print the 60 texts to relabel
    python tests/data/ecommerce_aspects/agreement.py OTHER.csv  # compare labelled.csv with
        another annotator's labels of the same 60 rows (same columns as relabel_sample.csv)

Per aspect and overall (all aspect slots pooled):
  mention agreement  = share of (row, aspect) slots where both passes agree on mentioned yes/no
  Cohen's kappa      = the same, corrected for chance (mention yes/no)
  polarity agreement = share of slots mentioned in both passes whose value (1/0/-1) agrees
Also the count of mentions in each pass, and precision/recall of the first pass's mentions
taking the second pass as reference.
"""

import csv
import random
import sys
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
SAMPLE_SEED, SAMPLE_SIZE = 6014, 60


def read(name: str | Path) -> dict[int, dict[str, str]]:
    with open(HERE / name, encoding="utf-8", newline="") as fh:
        return {int(r["index"]): r for r in csv.DictReader(fh)}


def sample_indices() -> list[int]:
    indices = sorted(read("selected.csv"))
    return sorted(random.Random(SAMPLE_SEED).sample(indices, SAMPLE_SIZE))


def kappa(pairs: list[tuple[bool, bool]]) -> float:
    n = len(pairs)
    if n == 0:
        return float("nan")
    po = sum(a == b for a, b in pairs) / n
    pa = sum(a for a, _ in pairs) / n
    pb = sum(b for _, b in pairs) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def stats(
    first: dict[int, dict[str, str]],
    second: dict[int, dict[str, str]],
    idxs: list[int],
    aspects: list[str],
) -> dict[str, float]:
    mention = [(int(first[i][a]) != -2, int(second[i][a]) != -2) for i in idxs for a in aspects]
    both = [
        (int(first[i][a]), int(second[i][a]))
        for i in idxs
        for a in aspects
        if int(first[i][a]) != -2 and int(second[i][a]) != -2
    ]
    n1 = sum(a for a, _ in mention)
    n2 = sum(b for _, b in mention)
    tp = sum(a and b for a, b in mention)
    return {
        "n1": n1,
        "n2": n2,
        "mention_agree": sum(a == b for a, b in mention) / len(mention),
        "kappa": kappa(mention),
        "pol_n": len(both),
        "pol_agree": (sum(a == b for a, b in both) / len(both)) if both else float("nan"),
        "p": tp / n1 if n1 else float("nan"),
        "r": tp / n2 if n2 else float("nan"),
    }


def main() -> None:
    if "--sample" in sys.argv:
        sel = read("selected.csv")
        for i in sample_indices():
            print(i, sel[i]["cat"], sel[i]["review"].replace("\n", " "))
        return
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    second_name = args[0] if args else "relabel_sample.csv"
    second_path = Path(second_name) if args else HERE / second_name
    first, second = read("labelled.csv"), read(second_path.resolve())
    idxs = sample_indices()
    if sorted(second) != idxs:
        raise SystemExit(f"{second_name} does not hold exactly the seeded sample")
    print(f"{len(idxs)} rows relabelled; first pass = labelled.csv, second = {second_name}")
    print(
        f"{'aspect':<12} {'ment1':>5} {'ment2':>5} {'agree':>6} {'kappa':>6} "
        f"{'P':>5} {'R':>5} {'pol_n':>5} {'pol_agree':>9}"
    )
    rows = [(a, stats(first, second, idxs, [a])) for a in ASPECTS]
    rows.append(("overall", stats(first, second, idxs, ASPECTS)))
    for name, s in rows:
        print(
            f"{name:<12} {s['n1']:>5} {s['n2']:>5} {s['mention_agree']:>6.3f} {s['kappa']:>6.3f} "
            f"{s['p']:>5.2f} {s['r']:>5.2f} {s['pol_n']:>5} {s['pol_agree']:>9.3f}"
        )


if __name__ == "__main__":
    main()
