"""Evaluate a tagger on a labelled file: span P/R/F1, token accuracy, ambiguous and OOV accuracy."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from seqlab.data import Sentence, read_corpus
from seqlab.metrics import Report, report
from seqlab.tagger import Tagger

log = logging.getLogger(__name__)


def evaluate_sentences(tagger: Tagger, sentences: Sequence[Sentence]) -> Report:
    """Compare the tagger's predictions with the gold tags of ``sentences``.

    Gold tags the model never saw in training cannot be predicted; they count as errors and are logged.
    """
    gold = [s.tags or () for s in sentences]
    unknown = sorted({t for tags in gold for t in tags} - set(tagger.tags))
    if unknown:
        log.warning("gold tags never seen in training (counted as errors): %s", ", ".join(unknown))
    predicted = tagger.predict_tokens([s.tokens for s in sentences])
    return report([s.tokens for s in sentences], gold, predicted, tagger.bundle.ambiguous.__contains__, tagger.is_oov)


def evaluate_file(tagger: Tagger, path: str | Path) -> Report:
    return evaluate_sentences(tagger, read_corpus(path, tagger.bundle.config.data))
