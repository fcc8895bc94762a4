"""``Evaluator``: the report equals the metrics computed on the tagger's own predictions, confidences
add the calibration only, warnings come once, and ``evaluate_file`` reads the model's format."""
from __future__ import annotations

import logging

import pytest

from seqlab.data.readers import Sentence, read_corpus
from seqlab.data.schemes import spans
from seqlab.tagger.evaluate import Evaluator, evaluate_file
from seqlab.tagger.inference import Tagger
from seqlab.tagger.metrics import expected_calibration_error, report
from seqlab.train.run import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from seqlab.config.settings import load_config
    from tests.conftest import tiny_overrides, tiny_sentences, write_conll

    base = tmp_path_factory.mktemp("evaluate")
    data = {name: write_conll(base / f"{name}.conll", tiny_sentences(n, seed)) for name, n, seed in (("train", 60, 1), ("dev", 20, 2), ("test", 30, 3))}
    result = train(load_config(None, tiny_overrides(data, base / "model") + ["train.epochs=4"]), progress=False)
    return Tagger.load(result.output_dir), data


def test_the_report_is_the_metrics_of_the_taggers_predictions(trained):
    tagger, data = trained
    sentences = read_corpus(data["test"], tagger.bundle.config.data)
    rep = Evaluator(tagger, sentences)()
    predicted = tagger.predict_tokens([s.tokens for s in sentences])
    expected = report([s.tokens for s in sentences], [s.tags for s in sentences], predicted, tagger.bundle.ambiguous.__contains__, tagger.is_oov)
    for field in ("precision", "recall", "f1", "accuracy", "ambiguous_accuracy", "oov_accuracy", "sentences", "tokens", "per_type"):
        assert getattr(rep, field) == getattr(expected, field), field
    analyses = tagger.analyse([s.tokens for s in sentences])
    confidences = [span.confidence for a in analyses for span in a.spans]
    correct = [(span.start, span.end, span.type) in {(g.start, g.end, g.type) for g in spans(s.tags)} for a, s in zip(analyses, sentences) for span in a.spans]
    assert confidences, "the tiny model should find some spans"
    assert rep.mean_confidence == pytest.approx(sum(confidences) / len(confidences))
    assert rep.calibration_error == pytest.approx(expected_calibration_error(confidences, correct))


def test_without_confidence_the_scores_are_the_same_and_no_calibration_is_claimed(trained):
    tagger, data = trained
    sentences = read_corpus(data["dev"], tagger.bundle.config.data)
    fast, full = Evaluator(tagger, sentences, confidence=False)(), Evaluator(tagger, sentences)()
    assert (fast.f1, fast.accuracy, fast.per_type) == (full.f1, full.accuracy, full.per_type)
    assert fast.calibration_error is None and fast.mean_confidence is None and full.calibration_error is not None


def test_gold_tags_the_model_never_saw_are_errors_named_once(trained, caplog):
    tagger, _ = trained
    sentences = [Sentence(("apple", "pie"), ("B-FOOD", "O"))]
    with caplog.at_level(logging.WARNING, logger="seqlab"):
        evaluator = Evaluator(tagger, sentences)
        first, second = evaluator(), evaluator()
    warnings = [r.message for r in caplog.records if "never saw" in r.message]
    assert warnings == ["gold tags the model never saw in training (counted as errors): B-FOOD"]
    assert first == second and first.recall == 0.0


def test_evaluate_file_reads_the_models_format(trained):
    tagger, data = trained
    assert evaluate_file(tagger, data["test"]) == Evaluator(tagger, read_corpus(data["test"], tagger.bundle.config.data))()
