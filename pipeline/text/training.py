"""Training the sentence-level sentiment model (``make train``). Needs the ``train`` extra
(scikit-learn, numpy); the worker never imports this module.

Data: the labelled files of ../shared/data/sentiment, one domain each. The model is logistic
regression over :mod:`pipeline.text.features` with shared weights plus one copy per domain (see
:class:`pipeline.text.sentiment.LinearSentimentModel`), and an L1 router that picks the domain
from a text's words. Cross-validation groups identical texts into one fold and scores the
exported runtime model, so the figures it reports are those of the artefact.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.multiclass import OneVsRestClassifier

from pipeline.text.clauses import split_clauses
from pipeline.text.evaluation import macro_f1
from pipeline.text.features import CHAR_BIGRAM_PREFIX, document_features
from pipeline.text.normalize import normalize_text
from pipeline.text.sentiment import LinearSentimentModel, probability
from pipeline.text.tokenize import Tokenizer, TokenizerName, build_tokenizer

__all__ = [
    "CORPORA",
    "MODEL_VERSION",
    "Corpus",
    "Example",
    "cross_validate",
    "fit",
    "load_corpus",
    "prepare",
    "train_and_save",
]

# The corpora and the domain each stands for. Categories 书籍/计算机/酒店 of online_shopping
# are trained on but reported apart: snownlp saw them, so the baseline is inflated there.
CORPORA: dict[str, str] = {
    "food_delivery": "sentiment/waimai_10k/dev.csv",
    "ecommerce": "sentiment/online_shopping_10_cats/dev.csv",
    "hotel": "sentiment/chnsenticorp_htl/dev.csv",
}
SNOWNLP_SEEN_CATEGORIES = frozenset({"书籍", "计算机", "酒店"})
# Bump when features, data or hyper-parameters change: stored beside every score.
MODEL_VERSION = "linear-2026.11.2"
# Chosen by 5-fold CV on the dev files (issue #3 note): C=1 with the per-domain copies
# scaled by 0.6 beat scales 1 and 2, a heavier weight on the food-delivery corpus, and
# character trigrams (which doubled the model for +0.1 point outside food delivery).
C = 1.0
DOMAIN_SCALE = 0.6


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled text, featurized."""

    features: list[str]
    words: list[str]
    label: int
    group: str
    category: str


@dataclass(frozen=True, slots=True)
class Corpus:
    """The examples of one domain."""

    domain: str
    examples: list[Example]


def load_corpus(path: Path, domain: str, tokenize: Tokenizer) -> Corpus:
    """Read a ``label,review[,cat]`` CSV (UTF-8, optional BOM) and featurize every row."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return Corpus(
        domain, [prepare(row["review"], int(row["label"]), row.get("cat") or "", tokenize) for row in rows]
    )


def prepare(text: str, label: int, category: str, tokenize: Tokenizer) -> Example:
    """Normalize, split, tokenize and featurize one text exactly as the analyzer does."""
    normalized = normalize_text(text)
    clauses = split_clauses(normalized, tokenize(normalized))
    return Example(
        features=document_features((c.text, c.tokens) for c in clauses),
        words=[w for c in clauses for w in c.tokens],
        label=label,
        group=hashlib.blake2b(normalized.encode(), digest_size=8).hexdigest(),
        category=category,
    )


def _identity(items: list[str]) -> list[str]:
    return items


def fit(
    corpora: Sequence[Corpus],
    version: str,
    c: float = C,
    domain_scale: float = DOMAIN_SCALE,
    example_weight: dict[str, float] | None = None,
    min_df: int = 2,
) -> LinearSentimentModel:
    """Fit shared + per-domain weights and the domain router on ``corpora``.

    ``domain_scale`` multiplies the per-domain copies of the features: above 1 their weights
    are cheaper under the L2 penalty, so each domain departs further from the shared model.
    ``example_weight`` weighs the examples of a domain (default 1), so a small corpus is not
    drowned by a large one in the shared weights.
    """
    domains = tuple(corpus.domain for corpus in corpora)
    docs = [e.features for corpus in corpora for e in corpus.examples]
    labels = np.array([e.label for corpus in corpora for e in corpus.examples])
    domain_index = np.array([i for i, corpus in enumerate(corpora) for _ in corpus.examples])

    vectorizer = CountVectorizer(analyzer=_identity, min_df=min_df, dtype=np.float64)
    shared_x = vectorizer.fit_transform(docs).tocsr()
    blocks = [shared_x]
    for i in range(len(domains)):
        blocks.append(sparse.diags((domain_index == i) * domain_scale) @ shared_x)
    indicators = sparse.csr_matrix(np.eye(len(domains))[domain_index])
    x = sparse.hstack([*blocks, indicators]).tocsr()
    classifier = LogisticRegression(C=c, solver="liblinear", max_iter=1000, random_state=0)
    weight_of = example_weight or {}
    sample_weight = np.array([weight_of.get(domains[i], 1.0) for i in domain_index])
    classifier.fit(x, labels, sample_weight=sample_weight)
    coef = classifier.coef_.ravel()
    vocabulary = vectorizer.get_feature_names_out()
    size = len(vocabulary)
    intercept = float(classifier.intercept_[0])

    def weights(block: int) -> dict[str, float]:
        values = coef[block * size : (block + 1) * size] * (domain_scale if block else 1.0)
        return {str(vocabulary[j]): float(values[j]) for j in np.flatnonzero(np.abs(values) >= 5e-5)}

    shared = weights(0)
    # A domain's weight is shared + its own copy's; stored in full where the copy is non-zero.
    overrides = [{f: shared.get(f, 0.0) + w for f, w in weights(i + 1).items()} for i in range(len(domains))]
    router_bias, router_weights = _fit_router(corpora)
    return LinearSentimentModel(
        version=version,
        domains=domains,
        bias=tuple(
            round(intercept + float(coef[(len(domains) + 1) * size + i]), 4) for i in range(len(domains))
        ),
        word_weights=_word_level(shared),
        bigram_weights=_char_bigrams(shared),
        domain_word_weights=tuple(_word_level(own) for own in overrides),
        domain_bigram_weights=tuple(_char_bigrams(own) for own in overrides),
        router_bias=router_bias,
        router_weights=router_weights,
    )


def _word_level(weights: dict[str, float]) -> dict[str, float]:
    return {f: round(w, 4) for f, w in weights.items() if not f.startswith(CHAR_BIGRAM_PREFIX)}


def _char_bigrams(weights: dict[str, float]) -> dict[str, float]:
    return {f[1:]: round(w, 4) for f, w in weights.items() if f.startswith(CHAR_BIGRAM_PREFIX)}


def _fit_router(corpora: Sequence[Corpus]) -> tuple[tuple[float, ...], dict[str, tuple[float, ...]]]:
    """One-vs-rest L1 logistic regression on word presence: few words, cheap to apply."""
    docs = [e.words for corpus in corpora for e in corpus.examples]
    target = np.array([i for i, corpus in enumerate(corpora) for _ in corpus.examples])
    vectorizer = CountVectorizer(analyzer=_identity, min_df=3, binary=True, dtype=np.float64)
    x = vectorizer.fit_transform(docs)
    router = OneVsRestClassifier(
        LogisticRegression(
            C=0.5, l1_ratio=1.0, solver="liblinear", class_weight="balanced", max_iter=1000, random_state=0
        )
    )
    router.fit(x, target)
    coef = np.vstack([estimator.coef_ for estimator in router.estimators_])  # (domains, words)
    intercepts = [float(estimator.intercept_[0]) for estimator in router.estimators_]
    vocabulary = vectorizer.get_feature_names_out()
    keep = np.flatnonzero(np.abs(coef).max(axis=0) >= 1e-4)
    rows = {str(vocabulary[j]): tuple(round(float(v), 4) for v in coef[:, j]) for j in keep}
    return tuple(round(b, 4) for b in intercepts), rows


def _folds(corpus: Corpus, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    groups = [e.group for e in corpus.examples]
    return list(GroupKFold(n_splits=k).split(groups, groups=groups))


def cross_validate(
    corpora: Sequence[Corpus],
    folds: int = 5,
    c: float = C,
    domain_scale: float = DOMAIN_SCALE,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """K-fold accuracy per domain (and per subset) of models fit on the other folds of every
    domain; identical texts share a fold. Scores with the runtime model, routed."""
    splits = {corpus.domain: _folds(corpus, folds) for corpus in corpora}
    outcomes: dict[str, list[tuple[int, int]]] = {}
    for fold in range(folds):
        train = [Corpus(c_.domain, [c_.examples[j] for j in splits[c_.domain][fold][0]]) for c_ in corpora]
        model = fit(train, version="cv", c=c, domain_scale=domain_scale)
        for corpus in corpora:
            for j in splits[corpus.domain][fold][1]:
                example = corpus.examples[j]
                predicted = int(_predict(model, example) >= 0.5)
                for key in _report_keys(corpus.domain, example.category):
                    outcomes.setdefault(key, []).append((example.label, predicted))
        progress(
            f"fold {fold + 1}/{folds}: " + ", ".join(f"{k} {_accuracy(v):.4f}" for k, v in outcomes.items())
        )
    return {
        key: {
            "n": len(pairs),
            "accuracy": round(_accuracy(pairs), 4),
            "macro_f1": round(macro_f1(pairs, (1, 0)), 4),
        }
        for key, pairs in outcomes.items()
    }


def _accuracy(pairs: Sequence[tuple[int, int]]) -> float:
    return sum(t == p for t, p in pairs) / len(pairs)


def train_and_save(
    data_dir: Path, out: Path, tokenizer_name: TokenizerName, cv_folds: int, progress: Callable[[str], None]
) -> dict[str, Any]:
    """``make train``: load the corpora, optionally cross-validate, fit on everything, save.

    Deterministic (liblinear with a fixed seed, sorted JSON, gzip without a timestamp): the
    same data gives the same artefact bytes.
    """
    tokenize = build_tokenizer(tokenizer_name)
    corpora = [load_corpus(data_dir / relative, domain, tokenize) for domain, relative in CORPORA.items()]
    result: dict[str, Any] = {"version": MODEL_VERSION, "rows": {c.domain: len(c.examples) for c in corpora}}
    if cv_folds:
        result["cross_validation"] = cross_validate(corpora, cv_folds, C, DOMAIN_SCALE, progress)
    model = fit(corpora, MODEL_VERSION, C, DOMAIN_SCALE)
    model.save(out)
    result.update(
        artefact=str(out),
        artefact_bytes=out.stat().st_size,
        shared_weights=len(model.word_weights) + len(model.bigram_weights),
        domain_overrides={
            domain: len(words) + len(bigrams)
            for domain, words, bigrams in zip(
                model.domains, model.domain_word_weights, model.domain_bigram_weights, strict=True
            )
        },
    )
    return result


def _report_keys(domain: str, category: str) -> Iterator[str]:
    yield domain
    if category:
        yield f"{domain}/{'snownlp_seen' if category in SNOWNLP_SEEN_CATEGORIES else 'snownlp_unseen'}"


def _predict(model: LinearSentimentModel, example: Example) -> float:
    return probability(model.features_log_odds(example.features, model.domain_of(example.words)))
