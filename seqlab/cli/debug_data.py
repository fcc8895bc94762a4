"""``seqlab debug data``: what is in a corpus and what is wrong with it, before any training.

Each split is read with the same readers training uses, in a mode that reports every unreadable line
instead of stopping at the first. The report gives the format and tag scheme, per-split counts (sentences,
tokens, tags, entities per type, sentence-length percentiles), the out-of-vocabulary rate of dev/test
against train, and findings with ``file:line`` examples. A finding is an *error* when training on the
corpus as it is would fail or be wrong (unreadable lines, tags a span scheme cannot read, dev/test tags
training never saw, no tags at all); the rest are *warnings* (sequences training repairs, sentences
shared between splits, runaway sentences, rare types, tokens that look like tags).
"""
from __future__ import annotations

import argparse
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from seqlab.config.settings import DataConfig, load_config
from seqlab.data.readers import Sentence, iter_sentences, sniff_format
from seqlab.data.schemes import SCHEMES, detect_scheme, is_valid, spans, split_tag
from seqlab.errors import ConfigError, DataError

EXAMPLES = 5
"""``file:line`` examples kept per finding."""
LONG_SENTENCE = 250
"""Tokens beyond which a sentence is probably two or more run together (a missing blank line)."""
RARE_TYPE = 10
"""Training mentions below which an entity type is too rare to learn well."""
TAG_LIKE = re.compile(r"^(?:[BIES]-[A-Za-z][\w.-]*|O)$")


@dataclass
class Finding:
    """One kind of problem, with how often it occurs and where."""

    severity: Literal["error", "warning"]
    kind: str
    message: str
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, where: str) -> None:
        self.count += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(where)

    def to_json(self) -> dict:
        return {"severity": self.severity, "kind": self.kind, "message": self.message, "count": self.count, "examples": self.examples}


@dataclass(frozen=True)
class Split:
    """What one file holds."""

    name: str
    path: str
    sentences: int
    tokens: int
    tags: dict[str, int]
    entities: dict[str, int]
    """Spans per entity type (span schemes only)."""
    lengths: dict[str, int]
    """Sentence-length percentiles: p50, p90, p99 and max."""

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class DataReport:
    format: str
    scheme: str
    splits: list[Split]
    oov: dict[str, dict[str, float]]
    """Per dev/test split: the share of its tokens and of its word types not in the training file."""
    findings: list[Finding]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error" and f.count]

    def to_json(self) -> dict:
        return {
            "format": self.format, "scheme": self.scheme, "splits": [s.to_json() for s in self.splits], "oov": self.oov,
            "findings": [f.to_json() for f in self.findings if f.count],
        }


def percentiles(lengths: Sequence[int]) -> dict[str, int]:
    """Nearest-rank percentiles: ``p_q`` is the ``⌈q·n⌉``-th smallest length."""
    ordered = sorted(lengths)
    if not ordered:
        return {"p50": 0, "p90": 0, "p99": 0, "max": 0}
    rank = lambda q: ordered[max(0, math.ceil(q * len(ordered)) - 1)]  # noqa: E731
    return {"p50": rank(0.5), "p90": rank(0.9), "p99": rank(0.99), "max": ordered[-1]}


def _label(tag: str, scheme: str) -> str:
    """What a model learns from a tag: the entity type under a span scheme (its prefix is rewritten
    into the model's scheme), the tag itself otherwise."""
    return split_tag(tag)[1] if scheme in SCHEMES and tag != "O" else tag


def _where(path: str, sentence: Sentence, token: int | None, fmt: str) -> str:
    """``file:line`` of a sentence's token: CoNLL puts token ``k`` on the sentence's line + ``k``."""
    line = sentence.line + (token or 0) if fmt == "conll" and sentence.line else sentence.line
    return f"{path}:{line}" if line else path


KINDS = (
    ("error", "unreadable", "lines the reader cannot read (training stops at the first)"),
    ("error", "no-sentences", "files with no sentence at all (empty, blank lines or -DOCSTART- only): training stops with 'no sentences found'"),
    ("error", "bare-tag", "tags that are neither O nor PREFIX-TYPE under a span scheme (training refuses them; data.tag_scheme: none reads them as plain labels)"),
    ("error", "unseen-tag", "dev/test tags never seen in training (under a span scheme: of an entity type training never saw), which the model cannot predict"),
    ("warning", "no-prefixes", "training files whose tags have no B-/I- prefix: read as one label per token, no spans (set data.tag_scheme to say so)"),
    ("warning", "invalid-sequence", "sentences whose tags are not a valid sequence in the scheme (training repairs them the conlleval way)"),
    ("warning", "duplicate", "dev/test sentences that also occur in the training file (their scores flatter the model)"),
    ("warning", "long-sentence", f"sentences of more than {LONG_SENTENCE} tokens (a missing blank line?)"),
    ("warning", "token-like-tag", "tokens that look like tags (token and tag columns swapped?)"),
    ("warning", "rare-type", f"entity types with fewer than {RARE_TYPE} training mentions"),
)
"""Every kind of finding, in the report's order: (severity, kind, what it means)."""

_Findings = dict[str, Finding]


def _read(path: str, data: DataConfig, fmt: str, found: _Findings) -> list[Sentence]:
    """A labelled split's sentences; every CoNLL line that cannot be read becomes an ``unreadable`` example
    (JSONL and CoNLL-U: the first one, where reading stops)."""
    problems: list[DataError] = []
    sentences: list[Sentence] = []
    try:
        for sentence in iter_sentences(path, data, fmt=fmt, problems=problems):
            sentences.append(sentence)
    except DataError as err:  # a problem that ends the reading (the file is missing, or a format without line recovery)
        problems.append(err)
    for err in problems:
        found["unreadable"].add(str(err))
    return sentences


def debug_data(train: str, dev: str | None = None, test: str | None = None, data: DataConfig | None = None, fmt: str | None = None) -> DataReport:
    """Read the splits and report on them (nothing is written)."""
    data = data or DataConfig()
    if fmt is None:
        sniffed = sniff_format(train)
        fmt = sniffed[0] if sniffed is not None and sniffed[0] != "text" else data.format
    found: _Findings = {kind: Finding(severity, kind, message) for severity, kind, message in KINDS}
    named = [("train", train), ("dev", dev), ("test", test)]
    read = {name: _read(path, data, fmt, found) for name, path in named if path is not None}
    train_sents = read.get("train", [])  # read as labelled: every sentence has its tags
    scheme = data.tag_scheme if data.tag_scheme != "auto" else detect_scheme(s.tags or () for s in train_sents)
    if data.tag_scheme == "auto" and scheme == "none":
        found["no-prefixes"].add(str(train))
    span_scheme = scheme in SCHEMES
    train_tags = {_label(t, scheme) for s in train_sents for t in s.tags or ()}
    train_words = {t for s in train_sents for t in s.tokens}
    train_sentences = {s.tokens for s in train_sents}
    splits, oov = [], {}
    for name, path in named:
        if path is None:
            continue
        sentences = read[name]
        tags: Counter[str] = Counter()
        entities: Counter[str] = Counter()
        for s in sentences:
            _sentence_findings(s, name, path, fmt, scheme, train_tags, train_sentences, found)
            tags.update(s.tags or ())
            if span_scheme and s.tags is not None and all(split_tag(t)[0] for t in s.tags):
                entities.update(span.type for span in spans(s.tags))
        if not sentences and not any(e.startswith(f"{path}") for e in found["unreadable"].examples):
            found["no-sentences"].add(str(path))
        splits.append(Split(name, path, len(sentences), sum(len(s.tokens) for s in sentences), dict(tags.most_common()), dict(entities.most_common()),
                            percentiles([len(s.tokens) for s in sentences])))
        if name != "train" and sentences and train_words:
            words = [t for s in sentences for t in s.tokens]
            types = set(words)
            oov[name] = {"tokens": sum(w not in train_words for w in words) / len(words), "types": len(types - train_words) / len(types)}
    if span_scheme and splits and splits[0].name == "train":
        for kind, count in splits[0].entities.items():
            if count < RARE_TYPE:
                found["rare-type"].add(f"{kind}: {count} in {train}")
    return DataReport(fmt, scheme, splits, oov, list(found.values()))


def _sentence_findings(
    s: Sentence, name: str, path: str, fmt: str, scheme: str, train_tags: set[str], train_sentences: set[tuple[str, ...]], found: _Findings,
) -> None:
    """Every finding one sentence gives."""
    if len(s.tokens) > LONG_SENTENCE:
        found["long-sentence"].add(f"{_where(path, s, None, fmt)}: {len(s.tokens)} tokens")
    if name != "train" and s.tokens in train_sentences:
        found["duplicate"].add(f"{_where(path, s, None, fmt)}: {' '.join(s.tokens)[:60]}")
    tags = s.tags or ()
    for k, (token, tag) in enumerate(zip(s.tokens, tags)):
        if scheme in SCHEMES and split_tag(tag)[0] == "":
            found["bare-tag"].add(f"{_where(path, s, k, fmt)}: '{tag}'")
        if name != "train" and train_tags and _label(tag, scheme) not in train_tags and (scheme not in SCHEMES or split_tag(tag)[0] != ""):
            found["unseen-tag"].add(f"{_where(path, s, k, fmt)}: '{tag}'")
        if TAG_LIKE.match(token) and token != "O" and not TAG_LIKE.match(tag):
            found["token-like-tag"].add(f"{_where(path, s, k, fmt)}: token '{token}', tag '{tag}'")
    if scheme in SCHEMES and tags and all(split_tag(t)[0] for t in tags) and not is_valid(tags, scheme):
        found["invalid-sequence"].add(f"{_where(path, s, None, fmt)}: {' '.join(tags)[:60]}")


def render(report: DataReport) -> str:
    """The report as text, one finding per block, errors first."""
    out = [f"format: {report.format}; tag scheme: {report.scheme}"]
    for split in report.splits:
        out.append(f"{split.name}: {split.path}: {split.sentences:,} sentences, {split.tokens:,} tokens, {len(split.tags)} tags; "
                   f"sentence length p50 {split.lengths['p50']}, p90 {split.lengths['p90']}, p99 {split.lengths['p99']}, max {split.lengths['max']}")
        if split.tags:
            out.append("  tags: " + ", ".join(f"{t} {n:,}" for t, n in split.tags.items()))
        if split.entities:
            out.append("  entities: " + ", ".join(f"{t} {n:,}" for t, n in split.entities.items()))
    for name, rates in report.oov.items():
        out.append(f"{name}: {100 * rates['tokens']:.1f}% of tokens and {100 * rates['types']:.1f}% of word types are not in train")
    shown = sorted((f for f in report.findings if f.count), key=lambda f: f.severity != "error")
    for finding in shown:
        out.append(f"{finding.severity}: {finding.kind}: {finding.count:,} {finding.message}")
        out.extend(f"  {example}" for example in finding.examples)
    errors = len(report.errors)
    out.append(f"{errors} error(s): training on these files would fail or be wrong" if errors else "no errors" + (f"; {len(shown)} warning(s)" if shown else ""))
    return "\n".join(out)


def command(args: argparse.Namespace) -> int:
    """``seqlab debug data``: print the report; exit status 1 when it found errors."""
    data = load_config(args.config, args.set).data
    train = args.train or data.train
    if train is None:
        raise ConfigError(["--train: required (or a --config with data.train)"])
    report = debug_data(train, args.dev or data.dev, args.test or data.test, data, args.format)
    print(json.dumps(report.to_json(), indent=1, ensure_ascii=False) if args.json else render(report))
    return 1 if report.errors else 0
