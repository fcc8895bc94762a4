"""Retraining on what has been labelled so far, and scoring the pool with the new model: the one code
path of ``seqlab annotate``'s background trainer and of ``seqlab active simulate``.

The vocabularies are fixed for a whole annotation session, built once over the entire pool (its text
is known before anyone labels it) and the label set: every word of a sentence labelled later already
has a row, and every model of the session has the same shapes, so each retraining starts from the
previous model's weights (a warm start) instead of from scratch. A pool word no labelled sentence has
held yet never received a gradient: after each retraining its row is set to the trained ``<unk>`` row,
so the model reads it as the unknown word it is to the model, not as a random vector.
"""
from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from seqlab.annotate.store import PoolSentence, Span
from seqlab.annotate.strategies import STRATEGIES, random_scores
from seqlab.config.settings import Config, DataConfig
from seqlab.data.batches import Vocabularies, build_vocabularies, word_key
from seqlab.data.readers import Sentence
from seqlab.data.schemes import spans as tag_spans
from seqlab.data.schemes import tag_set
from seqlab.data.vocab import Vocab
from seqlab.errors import DataError
from seqlab.files import write_atomic
from seqlab.tagger.bundle import WEIGHTS, save_tensors
from seqlab.tagger.inference import Tagger
from seqlab.train.prepare import WarmStart
from seqlab.train.run import TrainResult, quiet_training, train

Labelled = tuple[tuple[str, ...], tuple[str, ...]]
"""A labelled sentence: tokens and their tags."""


def pool_vocabularies(pool: Sequence[Sequence[str]], tags: Sequence[str], data: DataConfig) -> Vocabularies:
    """Words and characters of the whole pool (``data``'s word key and ``min_count``), and ``tags``."""
    words_and_chars = build_vocabularies([Sentence(tuple(tokens), None) for tokens in pool], data)
    return Vocabularies(words_and_chars.words, words_and_chars.chars, Vocab(list(tags), specials=False))


def label_tags(labels: Sequence[str], scheme: str) -> list[str]:
    """Every tag a model over ``labels`` (entity types) outputs in ``scheme``, ``O`` first."""
    prefixed = tag_set(["O", *(f"B-{label}" for label in labels)], scheme)
    return ["O", *(t for t in prefixed if t != "O")]


def spans_to_tags(length: int, spans: Sequence[Span]) -> tuple[str, ...]:
    """BIO tags of a sentence of ``length`` tokens holding ``spans`` (which do not overlap)."""
    tags = ["O"] * length
    for start, end, label in spans:
        tags[start] = f"B-{label}"
        for k in range(start + 1, end):
            tags[k] = f"I-{label}"
    return tuple(tags)


def tags_to_spans(tags: Sequence[str]) -> tuple[Span, ...]:
    return tuple((s.start, s.end, s.type) for s in tag_spans(tags))


def tagged(pool: Sequence[PoolSentence], labelled: Mapping[int, Sequence[Span]]) -> list[Labelled]:
    """The ``labelled`` pool sentences (id → spans) with their BIO tags, in pool order."""
    return [(s.tokens, spans_to_tags(len(s.tokens), labelled[s.id])) for s in pool if s.id in labelled]


def write_labelled(path: Path, sentences: Sequence[Labelled], data: DataConfig) -> Path:
    """The sentences in the file format ``data`` reads (so that the dev and test files, read with the same
    settings, keep theirs): JSONL objects, CoNLL-U lines with the tag in ``conllu_tag``, or CoNLL columns
    with the token and the tag where ``token_column`` and ``tag_column`` say (other columns ``_``)."""
    if data.format == "jsonl":
        text = "".join(json.dumps({"tokens": list(t), "tags": list(g)}, ensure_ascii=False) + "\n" for t, g in sentences)
    elif data.format == "conllu":
        field = 3 if data.conllu_tag == "upos" else 4
        text = "".join("".join("\t".join([str(k + 1), w, "_", *(["_"] * 7)][:field] + [t] + ["_"] * (9 - field)) + "\n"
                               for k, (w, t) in enumerate(zip(tokens, tags))) + "\n" for tokens, tags in sentences)
    else:
        width = max(2, *(c + 1 if c >= 0 else -c for c in (data.token_column, data.tag_column)))
        where = [c % width for c in (data.token_column, data.tag_column)]
        if where[0] == where[1]:
            raise DataError(path, None, "data.token_column and data.tag_column name the same column")
        glue = "\t" if data.separator == "tab" else " "
        if glue == " " and any(ch.isspace() for tokens, _ in sentences for w in tokens for ch in w):
            raise DataError(path, None, "a token holds white space, which whitespace-separated CoNLL cannot write; set data.separator: tab")

        def line(word: str, tag: str) -> str:
            columns = ["_"] * width
            columns[where[0]], columns[where[1]] = word, tag
            return glue.join(columns) + "\n"

        text = "".join("".join(line(w, t) for w, t in zip(tokens, tags)) + "\n" for tokens, tags in sentences)
    write_atomic(path, text.encode("utf-8"))
    return path


@dataclass(frozen=True)
class Retraining:
    """One retraining: the config every round shares and the session's fixed vocabularies."""

    config: Config
    """The training config; its data files are replaced by the labelled sentences (``data.dev`` and
    ``data.test`` are kept)."""
    vocabs: Vocabularies
    scheme: str
    """The labelled sentences' tag scheme (``bio`` for answers)."""

    def run(self, labelled: Sequence[Labelled], out: Path, previous: Path | None) -> TrainResult:
        """Train on ``labelled`` into ``out``, starting from ``previous``'s weights (or from the seed);
        then give the rows of pool words no labelled sentence holds the trained ``<unk>`` row."""
        written = write_labelled(out.parent / f"{out.name}.train", labelled, self.config.data)
        data = dataclasses.replace(self.config.data, train=str(written), tag_scheme=self.scheme)
        config = dataclasses.replace(self.config, data=data)
        weights = load_file(str(previous / WEIGHTS)) if previous is not None else None
        with quiet_training():
            result = train(config, out, overwrite=True, progress=False, warm=WarmStart(self.vocabs, weights))
        self._unknown_rows(out, labelled)
        return result

    def _unknown_rows(self, out: Path, labelled: Sequence[Labelled]) -> None:
        name = "embedding.words.weight"
        tensors = load_file(str(out / WEIGHTS))
        if name not in tensors:
            return
        data = self.config.data
        seen = {self.vocabs.words.id(word_key(t, data.lowercase, data.normalize_digits)) for tokens, _ in labelled for t in tokens}
        unseen = torch.tensor([i for i in range(2, len(self.vocabs.words)) if i not in seen], dtype=torch.long)  # 0, 1: <pad>, <unk>
        if len(unseen):
            table = tensors[name].clone()
            table[unseen] = table[self.vocabs.words.unk_id].clone()
            tensors[name] = table
            save_tensors(out, tensors)


def score_pool(tagger: Tagger, pool: Sequence[Sequence[str]], strategy: str, seed: int = 0) -> list[tuple[float, tuple[tuple[int, int, str, float], ...]]]:
    """For each pool sentence: its uncertainty under ``strategy`` (higher: ask sooner) and the spans the
    model predicts, each ``(start, end, label, confidence)``."""
    found = tagger.infer(tagger.encode_tokens(pool), probs=True, uncertainty=True)
    score = STRATEGIES.get(strategy)
    randoms = random_scores(list(range(len(pool))), seed) if score is None else {}
    out = []
    for k, inference in enumerate(found):
        value = randoms[k] if score is None else score(inference)
        spans = tags_to_spans(tagger.to_output(tagger.tag_names(inference.ids)))
        out.append((value if math.isfinite(value) else math.inf, tuple((*span, round(c, 4)) for span, c in zip(spans, inference.confidences))))
    return out
