"""Scoring a tagger on labelled sentences: span P/R/F1, token accuracy, ambiguous and OOV accuracy, and
the calibration of span confidences. ``seqlab evaluate`` and training's dev and test scores both use
``Evaluator``."""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path

from seqlab.data.readers import Sentence, read_corpus
from seqlab.data.schemes import check_tags, is_valid, spans
from seqlab.tagger.inference import Tagger
from seqlab.tagger.metrics import Report, expected_calibration_error, report

log = logging.getLogger("seqlab.evaluate")


class Evaluator:
    """Scores a tagger on one labelled split, encoded once (training calls it every epoch).

    Gold tags the model cannot output count as errors and are named in a warning; gold sequences that are
    invalid in the files' scheme are read with conlleval's rules and counted in a warning (both once, when
    the split is set up). With ``confidence`` the report also holds the span confidences' mean and
    expected calibration error (forward–backward on top of Viterbi).
    """

    def __init__(self, tagger: Tagger, sentences: Sequence[Sentence], confidence: bool = True) -> None:
        self.tagger = tagger
        self.confidence = confidence
        self.tokens = [s.tokens for s in sentences]
        self.gold = [s.tags or () for s in sentences]
        self.encoded = tagger.encode_tokens(self.tokens)
        unknown = sorted({t for tags in self.gold for t in tags} - set(tagger.tags))
        if unknown:
            log.warning("gold tags the model never saw in training (counted as errors): %s", ", ".join(unknown))
        invalid = sum(not is_valid(tags, tagger.output_scheme) for tags in self.gold)
        if invalid:
            log.warning("%d gold sentence(s) are not valid %s; read the conlleval way", invalid, tagger.output_scheme.upper())

    def __call__(self) -> Report:
        tagger = self.tagger
        analyses = tagger.analyse(self.tokens, probs=self.confidence, encoded=self.encoded)
        rep = report(self.tokens, self.gold, [a.tags for a in analyses], tagger.bundle.ambiguous.__contains__, tagger.is_oov)
        if not self.confidence:
            return rep
        confidences, correct = [], []
        for analysis, gold_tags in zip(analyses, self.gold):
            gold_spans = {(s.start, s.end, s.type) for s in spans(gold_tags)}
            for span in analysis.spans:
                confidences.append(span.confidence)
                correct.append((span.start, span.end, span.type) in gold_spans)
        mean = sum(confidences) / len(confidences) if confidences else 0.0
        return dataclasses.replace(rep, calibration_error=expected_calibration_error(confidences, correct), mean_confidence=mean)


def evaluate_file(tagger: Tagger, path: str | Path) -> Report:
    """The report of ``tagger`` on a labelled file in the model's data format."""
    sentences = read_corpus(path, tagger.bundle.config.data)
    check_tags(sentences, tagger.bundle.config.data.tag_scheme, path)
    return Evaluator(tagger, sentences)()
