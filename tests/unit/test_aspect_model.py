"""The learned aspect model (pipeline/text/aspect_model.py, pipeline/text/aspect_training.py): the
runtime's arithmetic is sklearn's, the artefact round-trips byte for byte, and the analyzer
uses it for the labels it knows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from config import REPO_ROOT, Settings
from pipeline.runtime.context import build_analyzer
from pipeline.text import aspect_training
from pipeline.text.analysis import Analyzer
from pipeline.text.aspect_model import ASPECT_CLASSES, load_aspect_model
from pipeline.text.aspect_training import fit, label_design, load_examples, text_design
from pipeline.text.evaluation import ASAP_ASPECTS
from pipeline.text.normalize import normalize_text

DATA = REPO_ROOT.parent / "shared" / "data" / "aspects"
LABELS = ("dish_taste", "environment_noise", "price_level")
CATERING = REPO_ROOT / "config" / "taxonomy" / "catering.yaml"


@pytest.fixture(scope="module")
def lexicon_only() -> Analyzer:
    return build_analyzer(Settings(), CATERING, learned_aspects=False)


@pytest.fixture(scope="module")
def examples(lexicon_only: Analyzer) -> list[aspect_training.AspectExample]:
    path = DATA / "ai_challenger_samples" / "labelled.csv"
    if not path.exists():
        pytest.skip(f"{path} not found (../shared/data)")
    return load_examples([path], LABELS, lexicon_only)[:400]


def test_runtime_decisions_are_sklearns(
    examples: list[aspect_training.AspectExample], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aspect_training, "PRUNE_BELOW", 0.0)  # compare every weight
    model = fit(examples, LABELS, "catering-test")
    text_matrix, _ = text_design(examples)
    runtime = np.stack([model.decision_values(e.inputs) for e in examples])
    for j, label in enumerate(LABELS):
        design, _ = label_design(examples, label, text_matrix)
        truth = np.array([e.truth[label] for e in examples])
        reference = OneVsRestClassifier(
            LogisticRegression(C=aspect_training.C, solver="liblinear", class_weight="balanced")
        ).fit(design, truth)
        columns = [ASPECT_CLASSES.index(int(c)) for c in reference.classes_]
        expected = reference.decision_function(design)
        # float16 storage: a relative error of 1e-3 per weight.
        assert np.abs(runtime[:, j, columns] - expected).max() < 0.05
        assert (np.array(columns)[expected.argmax(axis=1)] == runtime[:, j].argmax(axis=1)).mean() > 0.99


def test_artefact_round_trips_to_the_same_bytes_and_decisions(
    examples: list[aspect_training.AspectExample], tmp_path: Path
) -> None:
    model = fit(examples, LABELS, "catering-test")
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    model.save(first)
    load_aspect_model(first).save(second)
    assert first.read_bytes() == second.read_bytes()
    loaded = load_aspect_model(first)
    for example in examples[:50]:
        assert loaded.decide(example.inputs) == model.decide(example.inputs)


def test_bad_artefacts_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not found: run `make train`"):
        load_aspect_model(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not an aspect model artefact"):
        load_aspect_model(junk)


def test_the_catering_analyzer_finds_what_the_lexicon_cannot(lexicon_only: Analyzer) -> None:
    learned = build_analyzer(Settings(), CATERING)
    text = normalize_text("环境不错,就是停车不方便")
    lexicon = {m.aspect for m in lexicon_only.analyze(text).aspects}
    found = {m.aspect: m for m in learned.analyze(text).aspects}
    assert lexicon == {"环境/装修", "服务/停车"}
    # AI Challenger labels a general 环境不错 on every environment column: learned, not a term.
    implicit = {a for a in found if a.startswith("环境/")} - lexicon
    assert implicit and all(found[a].polarity == 1 and found[a].evidence == "环境不错" for a in implicit)
    assert found["服务/停车"].polarity == -1
    assert learned.model_version.endswith("+" + aspect_training.MODEL_VERSION)


def test_an_aspect_model_of_another_taxonomy_version_is_refused(
    examples: list[aspect_training.AspectExample], lexicon_only: Analyzer
) -> None:
    model = fit(examples[:100], LABELS, "catering-0.0")
    with pytest.raises(ValueError, match=r"trained for taxonomy catering-0\.0"):
        Analyzer(lexicon_only.taxonomy, lambda t: list(t), lexicon_only._model, aspect_model=model)


def test_the_default_taxonomy_has_no_learned_model() -> None:
    analyzer = build_analyzer(Settings())
    assert "+" not in analyzer.model_version


def test_make_train_reproduces_the_shipped_artefact(tmp_path: Path) -> None:
    """The versioned artefact is what `make train` writes from the shared data, byte for byte
    (a retrain that changes it shows up in git)."""
    if not (DATA / "ai_challenger_samples" / "labelled.csv").exists():
        pytest.skip("../shared/data not found")
    analyzer = build_analyzer(Settings(), CATERING, learned_aspects=False)
    files = [REPO_ROOT.parent / "shared" / "data" / name for name in aspect_training.CATERING_FILES]
    labels = [node.label for _, node in analyzer.taxonomy.paths() if node.label in ASAP_ASPECTS]
    out = tmp_path / "aspects-catering.npz"
    fit(load_examples(files, labels, analyzer), labels, analyzer.taxonomy_version).save(out)
    shipped = Settings().aspect_models_dir / "aspects-catering.npz"
    assert out.read_bytes() == shipped.read_bytes()
