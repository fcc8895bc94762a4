"""Evaluate a tagger on a labelled file: span P/R/F1, token accuracy, ambiguous and OOV accuracy, and
the calibration of span confidences."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

from seqlab.data import Sentence, read_corpus
from seqlab.metrics import Report, expected_calibration_error, report, spans
from seqlab.schemes import is_valid
from seqlab.tagger import Tagger

log = logging.getLogger(__name__)


def evaluate_sentences(tagger: Tagger, sentences: Sequence[Sentence]) -> Report:
    """Compare the tagger's predictions with the gold tags of ``sentences``.

    Gold tags the model cannot output count as errors and are named in a warning; gold sequences that are
    invalid in the files' scheme are read with conlleval's rules and counted in a warning.
    """
    gold = [s.tags or () for s in sentences]
    unknown = sorted({t for tags in gold for t in tags} - set(tagger.tags))
    if unknown:
        log.warning("gold tags the model never saw in training (counted as errors): %s", ", ".join(unknown))
    invalid = sum(not is_valid(tags, tagger.output_scheme) for tags in gold)
    if invalid:
        log.warning("%d gold sentence(s) are not valid %s; read the conlleval way", invalid, tagger.output_scheme.upper())
    analyses = tagger.analyse([s.tokens for s in sentences])
    predicted = [a.tags for a in analyses]
    rep = report([s.tokens for s in sentences], gold, predicted, tagger.bundle.ambiguous.__contains__, tagger.is_oov)
    confidences, correct = [], []
    for analysis, gold_tags in zip(analyses, gold):
        gold_spans = {(s.start, s.end, s.type) for s in spans(gold_tags)}
        for span in analysis.spans:
            confidences.append(span.confidence)
            correct.append((span.start, span.end, span.type) in gold_spans)
    mean = sum(confidences) / len(confidences) if confidences else 0.0
    return dataclasses.replace(rep, calibration_error=expected_calibration_error(confidences, correct), mean_confidence=mean)


def evaluate_file(tagger: Tagger, path: str | Path) -> Report:
    return evaluate_sentences(tagger, read_corpus(path, tagger.bundle.config.data))
