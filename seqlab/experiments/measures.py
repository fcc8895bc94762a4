"""What the experiments measure on a trained (or freshly initialised) model. Pure functions of a model
and sentences; no training, no files written."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from seqlab.data.batches import collate, encode_all
from seqlab.data.readers import Sentence, read_corpus
from seqlab.data.schemes import convert
from seqlab.experiments.tasks import read_meta
from seqlab.nn.model import TaggerModel
from seqlab.tagger.inference import Tagger
from seqlab.tagger.metrics import span_scores
from seqlab.tagger.trace import scratch_encoder


def apple_accuracy(tagger: Tagger, data_dir: Path, split: str = "test") -> dict[str, float]:
    """Accuracy on the *apple* tokens of ``{split}.conll``: overall, and split by where the deciding cue
    stands (``before`` the word, or only ``after`` it), plus span F1 over all entities and the share of the
    majority sense among the apple tokens (what a context-free classifier can reach at best)."""
    sentences = read_corpus(data_dir / f"{split}.conll", tagger.bundle.config.data)
    meta = read_meta(data_dir / f"{split}.meta.jsonl")
    predicted = tagger.predict_tokens([s.tokens for s in sentences])
    hits: dict[str, list[int]] = {"all": [], "before": [], "after": []}
    gold_tags = []
    for sentence, info, tags in zip(sentences, meta, predicted):
        at = info["apple"]
        if at is None:
            continue
        gold = (sentence.tags or ())[at]
        gold_tags.append(gold)
        hit = int(tags[at] == gold)
        hits["all"].append(hit)
        hits[info["cue"]].append(hit)
    scores = {key: sum(v) / len(v) for key, v in hits.items() if v}
    scores["f1"] = span_scores([s.tags or () for s in sentences], predicted).f1
    scores["apple_tokens"] = len(hits["all"])
    scores["majority"] = max(gold_tags.count(t) for t in set(gold_tags)) / len(gold_tags) if gold_tags else 0.0
    return scores


def last_token_accuracy(tagger: Tagger, sentences: Sequence[Sentence]) -> float:
    """Fraction of sentences whose last token gets its gold tag (the long-range task's query)."""
    predicted = tagger.predict_tokens([s.tokens for s in sentences])
    right = sum(p[-1] == (s.tags or ())[-1] for s, p in zip(sentences, predicted))
    return right / len(sentences)


def gradient_by_distance(tagger: Tagger, model: TaggerModel, sentences: Sequence[Sentence]) -> list[float]:
    """``g[k]`` = mean over sentences of ``‖∂ log p(y_n | x) / ∂x_{n-k}‖``, ``k = 0 … n-1``.

    ``p(y_n | x)`` is the softmax of the last token's emission scores at its gold tag; ``x_t`` the token
    representation entering the encoder. ``g[k]`` measures how much the last decision can still be moved
    by the input ``k`` steps back: the notes' product ``∏ ∂S_j/∂S_{j-1}`` at work. Sentences must share
    one length. ``model`` may differ from ``tagger.model`` (e.g. the same architecture freshly
    initialised); ``tagger`` supplies the vocabularies and tag scheme.
    """
    lengths = {len(s.tokens) for s in sentences}
    assert len(lengths) == 1, "gradient_by_distance needs sentences of one length"
    scheme = tagger.bundle.config.model.decoder.scheme
    data = tagger.bundle.config.data
    encoded = encode_all([Sentence(s.tokens, tuple(convert(s.tags or (), scheme))) for s in sentences], tagger.bundle.vocabs, data)
    batch = collate(encoded, range(len(encoded))).to(tagger.device)
    was_training = model.training
    model.eval()
    x = model.embed(batch).detach().requires_grad_()  # (B, n, D)
    emissions = model.projection(model.encoder(x, batch.lengths))  # (B, n, T)
    assert batch.tags is not None
    gold = batch.tags[:, -1]  # (B,)
    log_p = emissions[:, -1].log_softmax(dim=1).gather(1, gold.unsqueeze(1)).sum()
    (grad,) = torch.autograd.grad(log_p, x)  # (B, n, D)
    model.train(was_training)
    norms = grad.norm(dim=2).mean(dim=0)  # (n,)
    return norms.flip(0).tolist()  # index k = distance from the last token


@torch.no_grad()
def gate_means(tagger: Tagger, sentences: Sequence[Sentence], decisive: Sequence[Sequence[int]]) -> dict[str, dict[str, float]]:
    """Mean gate value (over units, tokens and sentences) of the first layer's forward direction, on the
    ``decisive`` positions of each sentence and on all its other positions.

    Returns ``{gate: {"decisive": m, "other": m}}`` for the LSTM's forget/input/output or the GRU's
    update/reset gates (the GRU keeps its state where ``z_t ≈ 1``).
    """
    rnn = scratch_encoder(tagger)
    encoded = tagger.encode_tokens([s.tokens for s in sentences])
    batch = collate(encoded, range(len(encoded))).to(tagger.device)
    x = tagger.model.embed(batch)  # (B, L, D)
    record: list[dict[str, torch.Tensor]] = []
    rnn(x, batch.lengths, record=record)
    layer = record[0]
    marks = torch.zeros_like(batch.mask)  # (B, L)
    for row, positions in enumerate(decisive):
        marks[row, list(positions)] = True
    out = {}
    for name, values in layer.items():
        if name in ("hidden", "cell"):
            continue
        means = values[:, 0].mean(dim=2).t()  # (B, L): forward direction, averaged over units
        out[name] = {
            "decisive": float(means[marks & batch.mask].mean()),
            "other": float(means[~marks & batch.mask].mean()),
        }
    return out
