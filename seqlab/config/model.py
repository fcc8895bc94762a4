"""The ``model`` section of a config: embedding → encoder → decoder, as typed frozen dataclasses (each
field's docstring under it, bounded numbers with their range), and the cross-key rules the field types
cannot express (``model_problems``). ``seqlab.config.settings`` builds and checks a whole config with them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from seqlab.config.typecheck import bounded

MAX_PARAMETERS = 1_000_000_000
"""The most numbers a seqlab model may hold (4 GB of float32), its transformer included: a saved model or
a transformer config that declares more is refused before anything is built."""
MAX_TAGS = 10_000
"""The most tags a model may have (the decoder keeps ``T × T`` transition scores): a corpus with more is
refused before the vocabularies are built into a model, and so is a saved vocabulary."""


@dataclass(frozen=True)
class CharConfig:
    kind: Literal["none", "cnn", "lstm"] = "cnn"
    """Character-level word features: ``none``; ``cnn`` (per-word convolution, max-pooled over characters);
    ``lstm`` (per-word character BiLSTM, its two final states concatenated; Lample et al., 2016)."""
    dim: int = bounded(30, lo=1, hi=1024)
    """Character embedding size."""
    filters: int = bounded(50, lo=1, hi=4096)
    """``cnn``: number of filters, the size of the character feature of each word."""
    kernel: int = bounded(3, lo=1, hi=64)
    """``cnn``: window width in characters (odd widths keep the word centred)."""
    hidden: int = bounded(25, lo=1, hi=2048)
    """``lstm``: hidden size per direction; the character feature has ``2 × hidden`` numbers."""


@dataclass(frozen=True)
class TransformerConfig:
    model: str | None = None
    """A pretrained transformer encoder: a local directory written by ``save_pretrained`` or a Hugging Face
    hub name (e.g. ``bert-base-cased``); its contextual word vectors join the token representation.
    ``null``: none. Needs ``pip install 'seqlab[transformers]'``."""
    revision: str | None = None
    """Hub revision (branch, tag or commit) of a hub ``model``; ``null``: the default branch."""
    layers: tuple[int, ...] = (-1,)
    """Which hidden states to use: 0 is the embedding layer's output, 1 the first layer's, -1 the last's."""
    combine: Literal["mean", "concat"] = "mean"
    """How several ``layers`` combine: ``mean`` (one vector of the hidden size) or ``concat`` (``len(layers)``
    times the hidden size)."""
    pooling: Literal["first", "last", "mean"] = "first"
    """A word's vector from its own subwords' states: the first subword's, the last's, or their mean."""
    fine_tune: bool = False
    """Train the transformer's weights too (with ``train.transformer_lr`` and ``train.transformer_warmup``);
    ``false`` keeps them fixed, runs the transformer without gradients and caches each training
    sentence's vectors for the run."""
    max_length: int | None = bounded(None, lo=4, hi=65536)
    """Subwords per transformer input, special tokens included; longer sentences are read in overlapping
    windows. ``null``: what the transformer reads (its tokenizer's stated limit, else the longest input the
    network accepts, found by trying; at most 512)."""
    stride: int | None = bounded(None, lo=0, hi=65536)
    """Subwords two consecutive windows share; each subword takes its state from the window where it has
    the most context on both sides. Less than a window's subwords (``max_length`` less the special
    tokens); ``null``: half a window."""
    cache: bool = True
    """With ``fine_tune: false``: keep each training and dev sentence's word vectors in memory for the
    run (4 bytes × words × vector size), so that only the first epoch runs the transformer."""


@dataclass(frozen=True)
class EmbeddingConfig:
    dim: int = bounded(100, lo=0, hi=8192)
    """Word embedding size; 0 turns the word embedding off (e.g. when a transformer gives the word vectors)."""
    dropout: float = bounded(0.5, lo=0.0, hi=1.0, hi_open=True)
    """Dropout on the token representation (word + char features) before the encoder."""
    word_dropout: float = bounded(0.05, lo=0.0, hi=1.0, hi_open=True)
    """During training, replace each known word by the unknown-word id with this probability."""
    char: CharConfig = field(default_factory=CharConfig)
    """Character-level word features."""
    init: Literal["normal", "uniform"] = "uniform"
    """Initial word, character and casing vectors: ``normal``, torch's N(0, 1) per entry; ``uniform``,
    U(−√(3/dim), √(3/dim)) per entry (Lample et al. 2016, NCRF++), so that each vector has an expected
    squared norm of 1 instead of ``dim``."""
    casing_dim: int = bounded(0, lo=0, hi=1024)
    """Size of a learned embedding of each token's casing class (lower, UPPER, Title, mIxed, numeric,
    has-digit, other), concatenated to the word embedding; pairs with ``data.lowercase``. 0 turns it off."""
    pretrained: str | None = None
    """GloVe/word2vec text file (``.gz`` allowed) whose vectors initialise the word embeddings of the
    training vocabulary (exact form first, then lowercased); its dimension must equal ``dim``."""
    freeze: bool = False
    """Keep the pretrained word vectors fixed during training (needs ``pretrained``)."""
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    """Contextual word vectors from a pretrained transformer (docs/embeddings.md)."""


@dataclass(frozen=True)
class EncoderConfig:
    cell: Literal["rnn", "lstm", "gru", "none"] = "lstm"
    """Recurrent cell; ``none`` is the context-free per-token classifier (embedding straight to the tagger)."""
    hidden: int = bounded(100, lo=1, hi=16384)
    """Hidden size per direction; the encoder output has ``hidden × directions`` features."""
    layers: int = bounded(1, lo=1, hi=16)
    """Number of stacked recurrent layers."""
    bidirectional: bool = True
    """Also read the sentence right to left, so each position sees its future context."""
    dropout: float = bounded(0.5, lo=0.0, hi=1.0, hi_open=True)
    """Dropout between stacked layers and on the encoder output."""
    impl: Literal["fused", "scratch"] = "fused"
    """``fused``: torch's ``nn.RNN/LSTM/GRU`` (fast default); ``scratch``: the cells written out from their
    equations in ``seqlab/nn/cells.py`` (same parameters, so weights move between the two; gates can be recorded)."""
    nonlinearity: Literal["tanh", "relu", "hardtanh", "softsign"] = "tanh"
    """The activation ``act``: the ``f`` of ``S_t = f(U·x_t + W·S_{t-1} + b)`` for ``rnn``; the candidate ``C̃_t``
    and the ``act(C_t)`` of ``h_t`` for ``lstm``; the candidate ``n_t`` for ``gru``. Fused cells allow only
    ``tanh`` (and ``relu`` for ``rnn``); the others need ``impl: scratch``."""
    recurrent_init: Literal["default", "orthogonal", "identity"] = "default"
    """Initial recurrent weights ``W``: torch's uniform ``±1/√H``, or each gate's ``H×H`` block orthogonal or the
    identity matrix (Le et al., 2015, pair ``identity`` with ``nonlinearity: relu`` for the vanilla RNN)."""
    recurrent_gain: float = bounded(1.0, lo=0.0)
    """Multiplies the initial recurrent weights ``W`` (after ``recurrent_init``); above 1 the products
    ``∏ ∂S_j/∂S_{j-1}`` can grow with distance, the notes' exploding gradients."""
    forget_bias: float | None = None
    """LSTM only: initial forget-gate bias ``b_f`` (``1.0`` is Jozefowicz et al., 2015's advice), so ``C_t``
    starts by keeping its memory; ``null`` keeps torch's uniform initialisation."""
    input_bias: float | None = None
    """LSTM only: initial input-gate bias ``b_i``; negative (e.g. ``-3``) starts with ``i_t ≈ 0``, so nothing is
    written into ``C_t`` until the gate learns to open (with a large ``forget_bias``, the cell starts as a
    memory that keeps what it holds: docs/experiments.md, long-range-budget); ``null`` keeps torch's init."""


@dataclass(frozen=True)
class DecoderConfig:
    kind: Literal["softmax", "crf"] = "crf"
    """``softmax``: independent per-token decisions; ``crf``: linear-chain CRF with Viterbi decoding."""
    scheme: Literal["bio", "bioes"] = "bioes"
    """Tag scheme the model is trained and decodes in (the files' tags are converted to it and back)."""
    constrained: bool = True
    """Forbid the transitions the scheme cannot produce (``O → I-X``, ``B-X → I-Y``…) as ``-inf`` in training
    and decoding, so no invalid sequence is ever output (the softmax head decodes with constrained Viterbi)."""


@dataclass(frozen=True)
class ModelConfig:
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    """Token representation."""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """Context encoder."""
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    """Tagger head."""


def _embedding_problems(embedding: EmbeddingConfig, problems: list[str]) -> None:
    if embedding.freeze and embedding.pretrained is None:
        problems.append("'model.embedding.freeze': freezing needs pretrained vectors; set model.embedding.pretrained")
    if embedding.dim == 0 and embedding.pretrained is not None:
        problems.append("'model.embedding.pretrained': pretrained word vectors need a word embedding; set model.embedding.dim")
    transformer = embedding.transformer
    if embedding.dim == 0 and embedding.char.kind == "none" and embedding.casing_dim == 0 and transformer.model is None:
        problems.append("'model.embedding.dim': 0 with no char, casing or transformer features leaves the tokens without a representation")
    if not transformer.layers:
        problems.append("'model.embedding.transformer.layers': expected at least one layer index")
    if transformer.stride is not None and transformer.max_length is not None and transformer.stride >= transformer.max_length:
        problems.append(f"'model.embedding.transformer.stride': {transformer.stride} must be less than max_length ({transformer.max_length})")


def _encoder_problems(encoder: EncoderConfig, problems: list[str]) -> None:
    """Cross-key rules the field types cannot express."""
    for key in ("forget_bias", "input_bias"):
        if getattr(encoder, key) is not None and encoder.cell != "lstm":
            gate = "a forget gate" if key == "forget_bias" else "an input gate"
            problems.append(f"'model.encoder.{key}': only the lstm cell has {gate}, got cell '{encoder.cell}'")
    fused_ok = ("tanh", "relu") if encoder.cell == "rnn" else ("tanh",)
    if encoder.cell != "none" and encoder.impl == "fused" and encoder.nonlinearity not in fused_ok:
        problems.append(
            f"'model.encoder.nonlinearity': the fused {encoder.cell} supports only {' or '.join(fused_ok)}, "
            f"got '{encoder.nonlinearity}'; set model.encoder.impl=scratch"
        )


def model_problems(model: ModelConfig) -> list[str]:
    """Every cross-key problem of the model section, each naming its dotted key."""
    problems: list[str] = []
    _encoder_problems(model.encoder, problems)
    _embedding_problems(model.embedding, problems)
    return problems
