"""The tagger network, embedding → encoder → linear → head; ``build_model``, which derives every size once;
``rebuild``, the same weights in a network built another way; and ``Objective``, what a training step minimises."""
from __future__ import annotations

import torch
from torch import nn

from seqlab.config.model import ModelConfig
from seqlab.data.batches import Batch, Vocabularies
from seqlab.data.schemes import transition_masks
from seqlab.errors import ModelError
from seqlab.nn.backbone import Backbone, copy_backbone, load_backbone
from seqlab.nn.embedding import CharCNN, CharLSTM, TokenEmbedding, initialise_embeddings
from seqlab.nn.encoder import ENCODERS
from seqlab.nn.heads import HEADS
from seqlab.nn.transformer import TransformerEmbedding


class TaggerModel(nn.Module):
    """``E = W_o · encoder(embedding(words, chars)) + b_o`` (the notes' ``O_t = g(V·S_t)`` with ``g`` the head).

    Shapes: ``B`` batch, ``L`` padded length, ``T`` tags.
    """

    def __init__(self, embedding: TokenEmbedding, encoder: nn.Module, num_tags: int, head: nn.Module) -> None:
        super().__init__()
        self.embedding = embedding
        self.encoder = encoder
        self.projection = nn.Linear(encoder.output_dim, num_tags)
        self.head = head

    def embed(self, batch: Batch) -> torch.Tensor:
        """Token representations entering the encoder, ``(B, L, D_in)``."""
        return self.embedding(batch.words, batch.chars, batch.casing, batch.tokens)

    def emissions(self, batch: Batch) -> torch.Tensor:
        """Tag scores, ``(B, L, T)``."""
        x = self.embed(batch)  # (B, L, D_in)
        h = self.encoder(x, batch.lengths)  # (B, L, D_out)
        return self.projection(h)  # (B, L, T)

    def loss(self, batch: Batch) -> torch.Tensor:
        """The head's loss summed over the batch's sentences (a scalar), computed in fp32."""
        assert batch.tags is not None, "training batches carry tags"
        emissions = self.emissions(batch)  # (B, L, T), 16-bit under autocast
        with torch.autocast(emissions.device.type, enabled=False):  # the head always in fp32
            return self.head.loss(emissions.float(), batch.tags, batch.mask)

    def decode(self, batch: Batch) -> torch.Tensor:
        """Predicted tag ids, ``(B, L)``; 0 at padding."""
        return self.head.decode(self.emissions(batch), batch.mask)


class Objective(nn.Module):
    """What one training step minimises (``train.loss_reduction``), for a batch of ``N`` sentences:

        sum:   Σ_b ℓ_b          mean:  (1/N) Σ_b ℓ_b

    with ``ℓ_b`` the head's loss of sentence ``b``. ``forward(batch, sentences)`` takes ``N`` apart from the
    batch, because under torchrun a process holds only its share of the ``N`` sentences of a step (see
    ``seqlab.distributed``). It returns ``(objective, summed)``: the value to differentiate and the batch's
    summed loss, detached, for the logs. A module, so that ``DistributedDataParallel`` can wrap it.
    """

    def __init__(self, model: TaggerModel, reduction: str) -> None:
        super().__init__()
        if reduction not in ("sum", "mean"):
            raise ModelError(f"train.loss_reduction: expected sum or mean, got '{reduction}'")
        self.model = model
        self.reduction = reduction

    def forward(self, batch: Batch, sentences: int) -> tuple[torch.Tensor, torch.Tensor]:
        summed = self.model.loss(batch)  # ()
        objective = summed if self.reduction == "sum" else summed / sentences
        return objective, summed.detach()


def _lookup(family: dict, name: str, key: str) -> object:
    if name not in family:
        raise ModelError(f"{key}: unknown name '{name}'; expected one of {', '.join(family)}")
    return family[name]


def build_model(config: ModelConfig, vocabs: Vocabularies, backbone: Backbone | None = None) -> TaggerModel:
    """A fresh model for these vocabularies (initialised from torch's current RNG state). A config with
    a transformer embedding uses ``backbone`` (None: loads ``model.embedding.transformer.model``)."""
    if len(vocabs.tags) == 0:
        raise ModelError("the tag vocabulary is empty: the training data holds no tags")
    emb = config.embedding
    char: nn.Module | None = None
    if emb.char.kind == "cnn":
        char = CharCNN(len(vocabs.chars), emb.char.dim, emb.char.filters, emb.char.kernel)
    elif emb.char.kind == "lstm":
        char = CharLSTM(len(vocabs.chars), emb.char.dim, emb.char.hidden)
    transformer = None
    if emb.transformer.model is not None:
        transformer = TransformerEmbedding(backbone or load_backbone(emb.transformer), emb.transformer)
    embedding = TokenEmbedding(len(vocabs.words), emb.dim, emb.dropout, emb.word_dropout, char, emb.casing_dim, transformer)
    initialise_embeddings(embedding, emb.init)
    enc = config.encoder
    make_encoder = _lookup(ENCODERS, enc.cell, "model.encoder.cell")
    encoder = make_encoder(
        embedding.output_dim, enc.hidden, enc.layers, enc.bidirectional, enc.dropout,
        nonlinearity=enc.nonlinearity, impl=enc.impl, recurrent_init=enc.recurrent_init,
        forget_bias=enc.forget_bias, recurrent_gain=enc.recurrent_gain, input_bias=enc.input_bias,
    )
    make_head = _lookup(HEADS, config.decoder.kind, "model.decoder.kind")
    masks = transition_masks(vocabs.tags.items, config.decoder.scheme) if config.decoder.constrained else ()
    head = make_head(len(vocabs.tags), *masks)
    return TaggerModel(embedding, encoder, len(vocabs.tags), head)


def rebuild(model: TaggerModel, config: ModelConfig, vocabs: Vocabularies) -> TaggerModel:
    """A network built for ``config`` carrying ``model``'s weights, on ``model``'s device, in eval mode
    (``model`` is unchanged). ``config`` may differ from ``model``'s own only where the parameters stay
    the same: the encoder's ``impl`` (see ``seqlab.config.settings.with_impl``)."""
    device = next(model.parameters()).device
    transformer = model.embedding.transformer
    fresh = build_model(config, vocabs, copy_backbone(transformer.backbone) if transformer is not None else None)
    fresh.load_state_dict(model.state_dict())
    return fresh.to(device).eval()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
