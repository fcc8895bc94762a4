"""Streaming prediction: read sentences lazily, tag them in chunks, format each as it is done.

Memory stays bounded by the chunk size whatever the input length, and the output keeps the input order.
With ``batch_size="auto"`` the decode batch size is measured on the machine at hand: the first chunk is
decoded in parts, one per size in ``CANDIDATES``, and the fastest size is kept for the rest (the best
size depends on the machine: small batches on a few CPU cores, large ones on a GPU).
"""
from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice

from seqlab.config.settings import DataConfig
from seqlab.data.readers import Sentence, iter_sentences
from seqlab.data.schemes import spans
from seqlab.data.tokenizer import Source
from seqlab.errors import DataError
from seqlab.tagger.inference import Analysis, Tagger

log = logging.getLogger("seqlab")

FORMATS = ("conll", "jsonl", "text")
CANDIDATES = (8, 16, 32, 64, 128, 256, 512)
"""Decode batch sizes ``tune_batch_size`` tries."""
TUNE_MIN = 1024
"""Inputs whose first chunk has fewer sentences are not worth tuning for: the model's
``train.eval_batch_size`` is used."""


def read_sentences(source: str, input_format: str, data: DataConfig, split: bool = False) -> Iterator[Sentence]:
    """Sentences streamed from a file (or ``-`` for stdin) in ``input_format`` (``text``: one raw sentence
    per line, or with ``split`` the sentences of each line, tokens with their offsets; ``conll``/``conllu``/
    ``jsonl`` read with the model's data settings, tags ignored)."""
    return iter_sentences(source, data, require_tags=False, fmt=input_format, split=split)


def tune_batch_size(
    decode: Callable[[list[Sentence], int], list], block: list[Sentence], candidates: tuple[int, ...] = CANDIDATES
) -> tuple[list, int, dict[int, float]]:
    """Decode ``block`` in ``len(candidates)`` consecutive parts, part k at batch size ``candidates[k]``,
    timing each: ``(every sentence's result in order, the fastest size, tokens/s by size)``. Nothing is
    decoded twice (a warm-up on 8 sentences aside); tokens/s, not sentences/s, so parts of different
    lengths compare."""
    decode(block[:8], candidates[0])  # first-call costs (allocations, kernels) out of the timing
    step = max(len(block) // len(candidates), 1)
    results: list = []
    rates: dict[int, float] = {}
    for k, size in enumerate(candidates):
        part = block[k * step : (k + 1) * step if k < len(candidates) - 1 else len(block)]
        if not part:
            break
        began = time.perf_counter()
        results.extend(decode(part, size))
        rates[size] = sum(len(s.tokens) for s in part) / max(time.perf_counter() - began, 1e-9)
    return results, max(rates, key=rates.__getitem__), rates


def tag_stream(
    tagger: Tagger, sentences: Iterable[Sentence | Sequence[str]], with_probs: bool = False, nbest: int = 0, chunk: int = 2048,
    batch_size: int | str | None = None,
) -> Iterator[Analysis]:
    """Tag sentences ``chunk`` at a time (each chunk is length-sorted into batches of ``batch_size``,
    default ``train.eval_batch_size``; ``"auto"``: the first chunk, when it holds at least ``TUNE_MIN``
    sentences, goes through ``tune_batch_size`` and the rest uses the fastest size), in input order.

    Without ``with_probs`` or ``nbest`` only Viterbi runs; the analyses then carry no probabilities.
    """

    def decode(block: list[Sentence], size: int | None) -> list[Analysis]:
        return tagger.tag(block, nbest=nbest, batch_size=size, probs=with_probs or bool(nbest))

    iterator = (s if isinstance(s, Sentence) else Sentence(tuple(s), None) for s in sentences)
    while True:
        block = list(islice(iterator, chunk))
        if not block:
            return
        if batch_size == "auto":
            batch_size = None
            if len(block) >= TUNE_MIN:
                results, batch_size, rates = tune_batch_size(decode, block)
                log.info("decode batch size %d (tokens/s by size: %s)", batch_size, ", ".join(f"{k}: {v:.0f}" for k, v in rates.items()))
                yield from results
                continue
        assert batch_size is None or isinstance(batch_size, int)
        yield from decode(block, batch_size)


def _span_of_token(analysis: Analysis) -> list[float | None]:
    owner: list[float | None] = [None] * len(analysis.tokens)
    for span in analysis.spans:
        for k in range(span.start, span.end):
            owner[k] = span.confidence
    return owner


def marked(analysis: Analysis, tags: Sequence[str], confidences: dict[tuple[int, int], float] | None = None) -> str:
    """The sentence with each span of ``tags`` bracketed as ``[TYPE text]`` (with its confidence when
    given): inside the original text, whitespace and all, for raw text; else the tokens joined by spaces."""
    source = analysis.source or _joined(analysis.tokens)
    begin, finish = source.region
    parts, at = [], begin
    for span in spans(tags):
        start, end = source.offsets[span.start][0], source.offsets[span.end - 1][1]
        extra = f" {confidences[(span.start, span.end)]:.3f}" if confidences and (span.start, span.end) in confidences else ""
        parts += [source.text[at:start], f"[{span.type} {source.text[start:end]}{extra}]"]
        at = end
    parts.append(source.text[at:finish])
    return "".join(parts)


def _joined(tokens: Sequence[str]) -> Source:
    """Pre-tokenised words as if they were the text ``" ".join(tokens)``."""
    offsets, at = [], 0
    for token in tokens:
        offsets.append((at, at + len(token)))
        at += len(token) + 1
    text = " ".join(tokens)
    return Source(text, tuple(offsets), (0, len(text)))


def record(analysis: Analysis) -> dict:
    """One sentence as a JSON object: ``tokens``, ``tags``, ``spans`` (``start``, ``end``, ``type``, ``text``,
    and for raw text ``start_char``/``end_char`` into the original; ``confidence`` when known), for raw text
    ``offsets`` (each token's ``[start, end]``), and ``probs`` and ``nbest`` when asked for. The service
    answers with the same objects."""
    out: dict = {"tokens": list(analysis.tokens), "tags": list(analysis.tags)}
    if analysis.source is not None:
        out["offsets"] = [list(pair) for pair in analysis.source.offsets]
    if analysis.token_probs:
        out["probs"] = [round(p, 6) for p in analysis.token_probs]
    entities = []
    for span in analysis.spans:
        entity: dict = {"start": span.start, "end": span.end, "type": span.type, "text": span.text}
        if span.start_char is not None:
            entity.update(start_char=span.start_char, end_char=span.end_char)
        if span.confidence is not None:
            entity["confidence"] = round(span.confidence, 6)
        entities.append(entity)
    out["spans"] = entities
    if analysis.nbest:
        out["nbest"] = [{"tags": list(tags), "prob": round(p, 6)} for tags, p in analysis.nbest]
    return out


def format_sentence(analysis: Analysis, fmt: str) -> str:
    """One sentence as text, newline-terminated.

    ``conll``: ``token<TAB>tag`` lines (then, when present, the tag probability, the confidence of the
    entity holding the token or ``-``, and the tags of the 2nd…k-th best sequences) and a blank line;
    ``jsonl``: ``record``'s object on one line; ``text``: the sentence with each entity bracketed as
    ``[TYPE text]`` (``marked``; with its confidence when known), then one line ``#r p=…: …`` per
    alternative sequence.
    """
    if fmt == "conll":
        owners = _span_of_token(analysis)
        lines = []
        for k, (token, tag) in enumerate(zip(analysis.tokens, analysis.tags)):
            cols = [token, tag]
            if analysis.token_probs:
                cols += [f"{analysis.token_probs[k]:.4f}", "-" if owners[k] is None else f"{owners[k]:.4f}"]
            cols += [tags[k] for tags, _ in analysis.nbest[1:]]
            lines.append("\t".join(cols) + "\n")
        return "".join(lines) + "\n"
    if fmt == "jsonl":
        return json.dumps(record(analysis), ensure_ascii=False) + "\n"
    confidences = {(s.start, s.end): s.confidence for s in analysis.spans if s.confidence is not None} or None
    lines = [marked(analysis, analysis.tags, confidences)]
    for rank, (tags, prob) in enumerate(analysis.nbest, start=1):
        lines.append(f"#{rank} p={prob:.4f}: {marked(analysis, tags)}")
    return "\n".join(lines) + "\n"


def write_texts(texts: Iterable[str], output: str | None) -> int:
    """Write ``texts`` to ``output`` (standard output when None); returns how many."""
    count = 0
    try:
        out = sys.stdout if output is None else open(output, "w", encoding="utf-8")
    except OSError as err:
        raise DataError(output, None, f"cannot write ({err.strerror or err})") from None
    try:
        for text in texts:
            out.write(text)
            count += 1
        out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
    return count
