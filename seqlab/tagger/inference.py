"""``Tagger``: a trained model ready to tag tokens or raw text, from Python, the CLI or training's own
dev scoring. Every prediction goes through one path, ``Tagger.infer``.

    >>> tagger = Tagger.load("runs/apple_lstm")
    >>> tagger.predict(["I like eating apple!"])[0].tags
    ('O', 'O', 'O', 'B-FRUIT', 'O')

The model decodes in its own scheme (``model.decoder.scheme``); every tag a ``Tagger`` returns is
converted back to the scheme of the training files (``data.tag_scheme``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from seqlab.config.settings import Config, with_impl
from seqlab.data.batches import (
    Batch,
    EncodedSentence,
    encode_all,
    make_batches,
    sorted_order,
    word_key,
)
from seqlab.data.readers import Sentence
from seqlab.data.schemes import SCHEMES, convert, spans, tag_set
from seqlab.data.tokenizer import Source, sentences_of
from seqlab.errors import ConfigError, ModelError
from seqlab.nn.backbone import saved_backbone
from seqlab.nn.crf import ChainHead
from seqlab.nn.model import TaggerModel, build_model, rebuild
from seqlab.tagger.bundle import (
    Bundle,
    check_bound,
    check_sizes,
    load_bundle,
    load_weights,
)

MAX_NBEST = 100
"""The most alternative sequences ``nbest`` gives (each costs ``B·T·k`` scores per position)."""


@dataclass(frozen=True)
class TaggedSentence:
    tokens: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True)
class EntitySpan:
    """A predicted span: tokens ``start`` to ``end`` (one past the last) of type ``type``."""

    start: int
    end: int
    type: str
    text: str
    """The span's text: the original's slice for raw text, else its tokens joined by spaces."""
    confidence: float | None = None
    """Probability under the model that the sentence contains exactly this span (same start, end, type);
    None unless asked for."""
    start_char: int | None = None
    """For raw text: where the span starts in the original text (``text == original[start_char:end_char]``)."""
    end_char: int | None = None


@dataclass(frozen=True)
class Analysis:
    """A tagged sentence with its spans and, when asked for, its confidences."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    token_probs: tuple[float, ...]
    """Marginal probability of each predicted tag (in the model's scheme); empty unless asked for."""
    spans: tuple[EntitySpan, ...]
    """Each predicted span (with its confidence when asked for)."""
    nbest: tuple[tuple[tuple[str, ...], float], ...]
    """The k best tag sequences with their probabilities, best first (empty unless asked for)."""
    source: Source | None = None
    """For raw text: the original text and each token's character offsets in it."""


@dataclass(frozen=True)
class Inference:
    """What the model says about one sentence, in its own tag ids and scheme."""

    ids: tuple[int, ...]
    """The best tag sequence."""
    probs: tuple[float, ...]
    """Marginal probability of each of those tags (empty unless asked for)."""
    confidences: tuple[float, ...]
    """The confidence of each span of the best sequence, in order (empty unless asked for)."""
    nbest: tuple[tuple[list[int], float], ...]
    """The k best sequences with their probabilities, best first (empty unless asked for)."""
    log_prob: float | None = None
    """``log p(ids | x)``, the best sequence's log-probability (None unless ``uncertainty`` was asked for)."""
    entropies: tuple[float, ...] = ()
    """Each token's tag entropy ``H(p_t) = −Σ_y p_t(y) log p_t(y)`` in nats under the marginals (empty
    unless ``uncertainty`` was asked for)."""


def batched(encoded: Sequence[EncodedSentence], batch_size: int) -> Iterator[tuple[Batch, list[int]]]:
    """Length-sorted batches of the non-empty sentences, each with its sentences' positions in ``encoded``."""
    nonempty = [k for k, e in enumerate(encoded) if e.words.shape[0] > 0]
    order = sorted_order([encoded[k].words.shape[0] for k in nonempty], batch_size)
    for batch in make_batches([encoded[k] for k in nonempty], order):
        yield batch, [nonempty[i] for i in batch.index]


class Tagger:
    """A model with its vocabularies and config, on one device."""

    def __init__(self, model: TaggerModel, bundle: Bundle, device: torch.device) -> None:
        self.model = model.to(device).eval()
        self.bundle = bundle
        self.device = device
        self.model_scheme = bundle.config.model.decoder.scheme
        self.directory: Path | None = None
        """The model directory it was loaded from (``load``), if any."""
        self.scores: Callable[[Batch], torch.Tensor] = self.model.emissions
        """What computes a batch's tag scores ``(B, L, T)`` for ``infer`` (``seqlab.export.runtime`` swaps it)."""
        self.runtime = "torch"
        scheme = bundle.config.data.tag_scheme
        self.output_scheme = scheme if scheme in (*SCHEMES, "none") else self.model_scheme

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu", impl: str | None = None) -> "Tagger":
        """Load a model directory written by ``seqlab train`` (nothing is unpickled).

        ``impl`` (``fused`` / ``scratch``) runs the recurrent encoder with the other implementation than the
        one it was trained with; the weights are the same parameters under the same names.
        """
        bundle = load_bundle(directory)
        if impl is not None:
            bundle = dataclasses.replace(bundle, config=_with_impl(bundle, impl, directory))
        check_bound(directory)
        declared = check_sizes(directory, bundle)  # before anything is allocated
        model = build_model(bundle.config.model, bundle.vocabs, saved_backbone(bundle.config.model.embedding.transformer, Path(directory), declared))
        load_weights(directory, model)
        tagger = cls(model, bundle, torch.device(device))
        tagger.directory = Path(directory)
        return tagger

    def with_impl(self, impl: str) -> "Tagger":
        """This tagger with its recurrent encoder computed by ``impl`` (the same weights; ``self`` when it
        already is)."""
        config = _with_impl(self.bundle, impl, "the model")
        if config == self.bundle.config:
            return self
        return Tagger(rebuild(self.model, config.model, self.bundle.vocabs), dataclasses.replace(self.bundle, config=config), self.device)

    @property
    def tags(self) -> list[str]:
        """Every tag the model can output, in the files' scheme."""
        return tag_set(self.bundle.vocabs.tags.items, self.output_scheme)

    def is_oov(self, token: str) -> bool:
        """Whether ``token`` maps to the unknown-word id of the model's vocabulary."""
        data = self.bundle.config.data
        return word_key(token, data.lowercase, data.normalize_digits) not in self.bundle.vocabs.words

    def encode_tokens(self, sentences: Sequence[Sequence[str]]) -> list[EncodedSentence]:
        """Ids of pre-tokenised sentences in this model's vocabularies (unknown words → ``<unk>``)."""
        for k, tokens in enumerate(sentences):
            if isinstance(tokens, str) or not all(isinstance(t, str) and t for t in tokens):
                raise ModelError(f"sentence {k}: expected a list of non-empty token strings")
        return encode_all([Sentence(tuple(tokens), None) for tokens in sentences], self.bundle.vocabs, self.bundle.config.data)

    def tag_names(self, ids: Sequence[int]) -> list[str]:
        """Tag ids → tag names of the model's scheme."""
        names = self.bundle.vocabs.tags.items
        return [names[i] for i in ids]

    def to_output(self, model_tags: Sequence[str]) -> tuple[str, ...]:
        """Tags of the model's scheme → the files' scheme."""
        if self.output_scheme in (self.model_scheme, "none"):
            return tuple(model_tags)
        return tuple(convert(model_tags, self.output_scheme))

    def predict_tokens(self, sentences: Sequence[Sequence[str]], batch_size: int | None = None) -> list[tuple[str, ...]]:
        """One tag per token for each pre-tokenised sentence (an empty sentence gets no tags)."""
        return [a.tags for a in self.analyse(sentences, batch_size=batch_size, probs=False)]

    def predict(self, texts: Sequence[str], batch_size: int | None = None) -> list[TaggedSentence]:
        """Tokenise each raw text (``apple!`` → ``apple !``) and tag it."""
        return [TaggedSentence(a.tokens, a.tags) for a in self.analyse_text(texts, probs=False, batch_size=batch_size)]

    def analyse_text(
        self, texts: Sequence[str], split: bool = False, nbest: int = 0, batch_size: int | None = None, probs: bool = True
    ) -> list[Analysis]:
        """``analyse`` for raw texts: each text tokenised (and with ``split`` cut into sentences, several
        analyses per text, in order), every token and span with its character offsets in its text."""
        if isinstance(texts, str):
            raise ModelError("expected a list of texts; wrap a single text in a list")
        if not all(isinstance(text, str) for text in texts):
            raise ModelError("expected a list of texts (strings)")
        sentences = [Sentence(tokens, None, 0, source) for text in texts for tokens, source in sentences_of(text, split)]
        return self.tag(sentences, nbest=nbest, batch_size=batch_size, probs=probs)

    def analyse(
        self,
        sentences: Sequence[Sequence[str]],
        nbest: int = 0,
        batch_size: int | None = None,
        probs: bool = True,
        encoded: Sequence[EncodedSentence] | None = None,
    ) -> list[Analysis]:
        """Tags and spans of pre-tokenised sentences and, with ``probs``, token marginals and span
        confidences; with ``nbest > 0`` the ``nbest`` best sequences. ``encoded`` (the sentences' ids, when
        the caller keeps them) skips encoding."""
        return self.tag([Sentence(tuple(tokens), None) for tokens in sentences], nbest, batch_size, probs, encoded)

    def tag(
        self,
        sentences: Sequence[Sentence],
        nbest: int = 0,
        batch_size: int | None = None,
        probs: bool = True,
        encoded: Sequence[EncodedSentence] | None = None,
    ) -> list[Analysis]:
        """``analyse`` for ``Sentence``\\ s: a sentence read from raw text carries its ``source``, and its
        analysis gives each span's character offsets in it.

        A span's confidence is the probability of the paths that contain exactly that span, computed from
        the forward–backward quantities: for BIOES the probability of its tag pattern (``S-X``, or
        ``B-X I-X… E-X``); for BIO that of ``B-X I-X…`` minus that of the same followed by ``I-X``. It is
        exact when the decoder is constrained (with invalid paths allowed they can also hold the span).
        """
        if encoded is None:
            encoded = self.encode_tokens([s.tokens for s in sentences])
        out = []
        for sentence, found in zip(sentences, self.infer(encoded, batch_size, probs, nbest)):
            model_tags = self.tag_names(found.ids)
            alternatives = tuple((self.to_output(self.tag_names(ids)), p) for ids, p in found.nbest)
            entity_spans = _entity_spans(sentence, model_tags, found.confidences)
            out.append(Analysis(sentence.tokens, self.to_output(model_tags), found.probs, entity_spans, alternatives, sentence.source))
        return out

    @torch.no_grad()
    def infer(
        self, encoded: Sequence[EncodedSentence], batch_size: int | None = None, probs: bool = False, nbest: int = 0, uncertainty: bool = False,
    ) -> list[Inference]:
        """The model's answer for each encoded sentence, in input order (the one inference path: every
        prediction, evaluation and the service go through it). ``batch_size`` defaults to ``train.eval_batch_size``;
        ``uncertainty`` adds the best sequence's log-probability and each token's tag entropy (for active learning)."""
        if not 0 <= nbest <= MAX_NBEST:
            raise ModelError(f"nbest: expected a number from 0 to {MAX_NBEST}, got {nbest}")
        results = [Inference((), (), (), ()) for _ in encoded]
        head = self.model.head
        was_training = self.model.training
        self.model.eval()
        for batch, positions in batched(encoded, batch_size or self.bundle.config.train.eval_batch_size):
            batch = batch.to(self.device)
            emissions = self.scores(batch)  # (B, L, T)
            paths = head.decode(emissions, batch.mask)  # (B, L)
            rows = paths.cpu().tolist()
            marginals: list[list[float]] = [[] for _ in positions]
            confidences: list[list[float]] = [[] for _ in positions]
            log_probs: list[float | None] = [None for _ in positions]
            entropies: list[list[float]] = [[] for _ in positions]
            if probs or uncertainty:
                full = head.marginals(emissions, batch.mask)  # (B, L, T)
            if probs:
                marginals = full.gather(2, paths.unsqueeze(2)).squeeze(2).tolist()  # (B, L)
                confidences = self._span_confidences(head, emissions, batch, paths)
            if uncertainty:
                log_probs = head.path_log_probs(emissions, batch.mask, paths).tolist()  # (B,)
                entropies = (-(full * torch.where(full > 0, full, 1.0).log()).sum(dim=2)).tolist()  # (B, L); 0 log 0 = 0
            best = head.decode_nbest(emissions, batch.mask, nbest) if nbest else None
            lengths = batch.lengths.tolist()
            for row, position in enumerate(positions):
                n = lengths[row]
                alternatives: tuple[tuple[list[int], float], ...] = ()
                if best is not None:
                    alternatives = tuple(
                        (best[0][row, r, :n].tolist(), float(best[1][row, r].exp())) for r in range(best[0].shape[1]) if torch.isfinite(best[1][row, r])
                    )
                results[position] = Inference(
                    tuple(rows[row][:n]), tuple(marginals[row][:n]), tuple(confidences[row]), alternatives, log_probs[row], tuple(entropies[row][:n]),
                )
        self.model.train(was_training)
        return results

    def _span_confidences(self, head: ChainHead, emissions: torch.Tensor, batch: Batch, paths: torch.Tensor) -> list[list[float]]:
        index = self.bundle.vocabs.tags.index
        found: list[list] = [[] for _ in range(paths.shape[0])]
        rows = []  # (row, start, length, *pattern) for the span, and for its BIO extension by I-X
        for row in range(paths.shape[0]):
            n = int(batch.lengths[row])
            model_tags = self.tag_names(paths[row, :n].tolist())
            for span in spans(model_tags):
                pattern = [index.get(t, 0) for t in model_tags[span.start : span.end]]
                found[row].append(span)
                rows.append([row, span.start, len(pattern), *pattern])
                extension = index.get(f"I-{span.type}")
                if self.model_scheme == "bio" and span.end < n and extension is not None:
                    rows.append([row, span.start, len(pattern) + 1, *pattern, extension])
                else:
                    rows.append(None)
        if not rows:
            return [[] for _ in found]
        width = max(len(r) for r in rows if r is not None)
        real = [r + [0] * (width - len(r)) for r in rows if r is not None]
        log_probs = head.segment_log_probs(emissions, batch.mask, torch.tensor(real, device=emissions.device)).exp().tolist()
        values = iter(log_probs)
        span_probs = []
        for k in range(0, len(rows), 2):
            p = next(values)
            if rows[k + 1] is not None:
                p -= next(values)
            span_probs.append(min(max(p, 0.0), 1.0))
        probs = iter(span_probs)
        return [[next(probs) for _ in row_spans] for row_spans in found]


def _entity_spans(sentence: Sentence, model_tags: Sequence[str], confidences: Sequence[float]) -> tuple[EntitySpan, ...]:
    """The spans of ``model_tags`` (the same in every scheme), with their confidences when given and, for
    raw text, their character offsets and original text."""
    out = []
    for k, span in enumerate(spans(model_tags)):
        confidence = confidences[k] if confidences else None
        if sentence.source is None:
            out.append(EntitySpan(span.start, span.end, span.type, " ".join(sentence.tokens[span.start : span.end]), confidence))
            continue
        start_char, end_char = sentence.source.offsets[span.start][0], sentence.source.offsets[span.end - 1][1]
        out.append(EntitySpan(span.start, span.end, span.type, sentence.source.text[start_char:end_char], confidence, start_char, end_char))
    return tuple(out)


def _with_impl(bundle: Bundle, impl: str, where: str | Path) -> Config:
    try:
        return with_impl(bundle.config, impl)
    except ConfigError as err:
        raise ModelError(f"{where}: cannot run with impl '{impl}': {err}") from None
