"""What every export format shares: the network prepared for a graph capture, the traced part
(ids → tag scores), the decode as a module, and the example inputs.

    forward(words (B, L) long, chars (B, L, C) long, casing (B, L) long, lengths (B,) long) → tags (B, L) long

0 at padding; tag ids index ``vocab.json``'s ``tags`` (the model's own scheme). The decode is
``seqlab.nn.decode.decode_tags`` with the head's start/transition/end scores (forbidden transitions
already ``-inf``): the same function the eager heads call.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlab.config.settings import with_impl
from seqlab.data.batches import collate
from seqlab.errors import ConfigError, ModelError
from seqlab.nn.cells import ScratchRecurrent
from seqlab.nn.crf import ChainHead
from seqlab.nn.decode import decode_tags
from seqlab.nn.embedding import CharLSTM
from seqlab.nn.model import TaggerModel, rebuild
from seqlab.tagger.inference import Tagger

INPUTS = ("words", "chars", "casing", "lengths")


class Emissions(nn.Module):
    """``(words, chars, casing, lengths)`` → tag scores ``(B, L, T)``, the part a trace or export captures."""

    def __init__(self, model: TaggerModel) -> None:
        super().__init__()
        self.embedding, self.encoder, self.projection = model.embedding, model.encoder, model.projection

    def forward(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.embedding(words, chars, casing)  # (B, L, D_in)
        return self.projection(self.encoder(x, lengths))  # (B, L, T)


class Decoder(nn.Module):
    """A head's decode as a module: copies of its ``(start, transitions, end)`` scores (the export does
    not follow later changes to the model), its ``normalise``/``independent`` flags and a Viterbi
    ``backend`` (``torch`` for TorchScript, ``scan`` for ``torch.export``)."""

    def __init__(self, head: ChainHead, backend: str) -> None:
        super().__init__()
        for name, scores in zip(("start", "transitions", "end"), head.scores()):
            self.register_buffer(name, scores.detach().clone())
        self.normalise = head.normalise
        self.independent = head.independent
        self.backend = backend

    def forward(self, scores: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        mask = torch.arange(scores.shape[1], device=scores.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, L)
        return decode_tags(scores, mask, self.start, self.transitions, self.end, self.normalise, self.independent, self.backend)


class Program(nn.Module):
    """Ids → tag scores → tag ids in one module."""

    def __init__(self, emissions: nn.Module, decoder: Decoder) -> None:
        super().__init__()
        self.emissions = emissions
        self.decoder = decoder

    def forward(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.emissions(words, chars, casing, lengths), lengths)  # (B, L)


class GraphCharLSTM(nn.Module):
    """``CharLSTM`` without data-dependent selection, for ONNX and ``torch.export``: every word goes
    through the LSTM (an empty one reads one padding character) and padded words are zeroed; the same
    values for the real words. The final states are read from the output sequence (forward at the last
    character, backward at the first): ONNX handles a packed LSTM's output, not its ``h_n``. ``rnn`` is
    the packed ``nn.LSTM`` or a ``ScratchRecurrent`` holding the same parameters."""

    def __init__(self, char: CharLSTM, rnn: nn.Module) -> None:
        super().__init__()
        self.embed = char.embed
        self.rnn = rnn
        self.output_dim = char.output_dim

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        """``chars (B, L, C)`` long → ``(B, L, 2·hidden)``."""
        batch, seq, width = chars.shape
        flat = chars.reshape(batch * seq, width)  # (B*L, C)
        counts = (flat != 0).sum(dim=1)  # (B*L,)
        lengths = counts.clamp(min=1)  # (B*L,)
        if isinstance(self.rnn, ScratchRecurrent):
            steps, _ = self.rnn(self.embed(flat), lengths)  # (B*L, C, 2H)
        else:
            packed = pack_padded_sequence(self.embed(flat), lengths.cpu(), batch_first=True, enforce_sorted=False)
            steps, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=width)  # (B*L, C, 2H)
        hidden = self.output_dim // 2
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, hidden)  # (B*L, 1, H)
        forward = steps[:, :, :hidden].gather(1, last).squeeze(1)  # (B*L, H)
        backward = steps[:, 0, hidden:]  # (B*L, H)
        return (torch.cat([forward, backward], dim=1) * (counts > 0).unsqueeze(1)).reshape(batch, seq, -1)  # (B, L, 2H)


def graph_network(tagger: Tagger, impl: str, graph_chars: bool = False, scan: bool = False) -> TaggerModel:
    """A CPU copy of the tagger's network for a capture: the recurrent encoder computed by ``impl``
    (the same parameters), with ``graph_chars`` the char BiLSTM as ``GraphCharLSTM`` (its LSTM a
    ``ScratchRecurrent`` when ``scan``), and with ``scan`` every scratch time loop a ``torch.scan``."""
    try:
        config = with_impl(tagger.bundle.config, impl)
    except ConfigError as err:
        raise ModelError(f"cannot export: the {tagger.bundle.config.model.encoder.impl} encoder has no {impl} equivalent ({err})") from None
    model = rebuild(tagger.model, config.model, tagger.bundle.vocabs).cpu()
    char = model.embedding.char
    if graph_chars and isinstance(char, CharLSTM):
        rnn: nn.Module = char.rnn
        if scan:
            rnn = ScratchRecurrent("lstm", char.rnn.input_size, char.rnn.hidden_size, bidirectional=True)
            rnn.load_state_dict(char.rnn.state_dict())
        model.embedding.char = GraphCharLSTM(char, rnn)
    for module in model.modules():
        if isinstance(module, ScratchRecurrent):
            module.scan = scan
    return model.eval()


def example_inputs(tagger: Tagger, width: int = 0) -> tuple[torch.Tensor, ...]:
    """Two sentences of different lengths; ``width`` pads the char axis to at least that many positions
    (torch.export treats an axis of size 1 as fixed)."""
    encoded = tagger.encode_tokens([("an", "example", "sentence", "."), ("two", "words")])
    batch = collate(encoded, [0, 1])
    chars = batch.chars
    if chars.shape[2] < width:
        chars = torch.nn.functional.pad(chars, (0, width - chars.shape[2]))
    return batch.words, chars, batch.casing, batch.lengths
