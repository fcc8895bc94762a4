"""``Tagger``: a trained model ready to tag tokens or raw text, from Python or the CLI.

    >>> tagger = Tagger.load("runs/apple_lstm")
    >>> tagger.predict(["I like eating apple!"])[0].tags
    ('O', 'O', 'O', 'B-FRUIT', 'O')
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from seqlab.bundle import Bundle, load_bundle, load_weights
from seqlab.data import EncodedSentence, Sentence, encode, make_batches, sorted_order, word_key
from seqlab.errors import ModelError
from seqlab.model import TaggerModel, build_model
from seqlab.tokenizer import tokenize


@dataclass(frozen=True)
class TaggedSentence:
    tokens: tuple[str, ...]
    tags: tuple[str, ...]


@torch.no_grad()
def decode_encoded(model: TaggerModel, encoded: Sequence[EncodedSentence], batch_size: int, device: torch.device) -> list[list[int]]:
    """Tag ids for each encoded sentence (in input order), decoding length-sorted batches."""
    was_training = model.training
    model.eval()
    results: list[list[int]] = [[] for _ in encoded]
    nonempty = [k for k, e in enumerate(encoded) if len(e.words) > 0]
    order = sorted_order([len(encoded[k].words) for k in nonempty], batch_size)
    for batch in make_batches([encoded[k] for k in nonempty], order):
        paths = model.decode(batch.to(device)).cpu().tolist()  # (B, L)
        for row, position in enumerate(batch.index):
            results[nonempty[position]] = paths[row][: int(batch.lengths[row])]
    model.train(was_training)
    return results


class Tagger:
    """A model with its vocabularies and config, on one device."""

    def __init__(self, model: TaggerModel, bundle: Bundle, device: torch.device) -> None:
        self.model = model.to(device).eval()
        self.bundle = bundle
        self.device = device

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu") -> "Tagger":
        """Load a model directory written by ``seqlab train`` (nothing is unpickled)."""
        bundle = load_bundle(directory)
        model = build_model(bundle.config.model, bundle.vocabs)
        load_weights(directory, model)
        return cls(model, bundle, torch.device(device))

    @property
    def tags(self) -> list[str]:
        return list(self.bundle.vocabs.tags.items)

    def is_oov(self, token: str) -> bool:
        """Whether ``token`` maps to the unknown-word id of the model's vocabulary."""
        data = self.bundle.config.data
        return word_key(token, data.lowercase, data.normalize_digits) not in self.bundle.vocabs.words

    def predict_tokens(self, sentences: Sequence[Sequence[str]], batch_size: int | None = None) -> list[tuple[str, ...]]:
        """One tag per token for each pre-tokenised sentence (an empty sentence gets no tags)."""
        for k, tokens in enumerate(sentences):
            if isinstance(tokens, str) or not all(isinstance(t, str) and t for t in tokens):
                raise ModelError(f"sentence {k}: expected a list of non-empty token strings")
        data = self.bundle.config.data
        encoded = [encode(Sentence(tuple(tokens), None), self.bundle.vocabs, data) for tokens in sentences]
        size = batch_size or self.bundle.config.train.eval_batch_size
        ids = decode_encoded(self.model, encoded, size, self.device)
        names = self.bundle.vocabs.tags.items
        return [tuple(names[i] for i in row) for row in ids]

    def predict(self, texts: Sequence[str], batch_size: int | None = None) -> list[TaggedSentence]:
        """Tokenise each raw text (``apple!`` → ``apple !``) and tag it."""
        if isinstance(texts, str):
            raise ModelError("predict() takes a list of texts; wrap a single text in a list")
        tokens = [tuple(tokenize(text)) for text in texts]
        tags = self.predict_tokens(tokens, batch_size)
        return [TaggedSentence(t, g) for t, g in zip(tokens, tags)]
