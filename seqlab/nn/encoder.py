"""Context encoders: recurrent layers (torch's fused modules or seqlab's scratch cells) and the context-free ``none``.

Every encoder maps ``x (B, L, D_in)`` and ``lengths (B,)`` to ``h (B, L, D_out)``; ``D_out`` is
``hidden × directions`` for the recurrent cells and ``D_in`` for ``none``. Fused layers run on the CPU
and CUDA one direction per call on the padded batch (``unpacked``), elsewhere and in captured graphs over
packed sequences; scratch layers reverse each sentence within its length. With each of them a padded position
never feeds a real one and the backward direction starts at each sentence's own last token: a sentence's
encoding does not depend on what else is in its batch.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlab.capture import capturing
from seqlab.errors import ModelError
from seqlab.nn.cells import (
    ScratchRecurrent,
    gather_time,
    initialise_recurrent,
    reverse_index,
)
from seqlab.nn.dropout import Dropout, dropout
from seqlab.nn.fp32 import fp32_lstm_on_cpu

UNPACKED_DEVICES = frozenset({"cpu", "cuda"})
"""Device types on which fused layers run ``unpacked`` instead of over packed sequences (the same results).
Where measured it was faster on the CPU and, in training, with cuDNN; cuDNN decoding was about even
(docs/benchmarks.md; scripts/bench/bench_gpu.py compares the two)."""


class RecurrentEncoder(nn.Module):
    """A stack of recurrent layers: ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (``impl="fused"``) or ``ScratchRecurrent``.

    The vanilla RNN is the notes' ``S_t = f(U·x_t + W·S_{t-1} + b)``; the tagger head then computes
    ``O_t = g(V·S_t)``. With ``bidirectional`` the output at ``t`` is ``[S→_t; S←_t]``, so position ``t``
    sees the whole sentence. Dropout is applied between layers and on the output. Both implementations keep
    their parameters in ``self.rnn`` under torch's names, so their state dicts are interchangeable.
    """

    def __init__(
        self,
        cell: str,
        input_dim: int,
        hidden: int,
        layers: int,
        bidirectional: bool,
        dropout: float,
        nonlinearity: str = "tanh",
        impl: str = "fused",
        recurrent_init: str = "default",
        forget_bias: float | None = None,
        recurrent_gain: float = 1.0,
        input_bias: float | None = None,
    ) -> None:
        super().__init__()
        self.impl = impl
        kwargs = dict(
            input_size=input_dim,
            hidden_size=hidden,
            num_layers=layers,
            bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,
            batch_first=True,
        )
        if impl == "scratch":
            del kwargs["batch_first"]
            self.rnn: nn.Module = ScratchRecurrent(cell, nonlinearity=nonlinearity, **kwargs)
        elif impl != "fused":
            raise ModelError(f"unknown encoder impl '{impl}'; expected fused or scratch")
        elif cell != "rnn" and nonlinearity != "tanh":
            raise ModelError(f"the fused {cell} has no '{nonlinearity}' activation; use impl scratch")
        elif cell == "rnn":
            self.rnn = nn.RNN(nonlinearity=nonlinearity, **kwargs)
        elif cell == "lstm":
            self.rnn = nn.LSTM(**kwargs)
        elif cell == "gru":
            self.rnn = nn.GRU(**kwargs)
        else:
            raise ModelError(f"unknown recurrent cell '{cell}'; expected one of rnn, lstm, gru")
        initialise_recurrent(self.rnn, cell, recurrent_init, forget_bias, recurrent_gain, input_bias)
        self.output_dropout = Dropout(dropout)
        self.output_dim = hidden * (2 if bidirectional else 1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.impl == "scratch":
            h, _ = self.rnn(x, lengths)  # (B, L, hidden × directions), 0 at padding
            return self.output_dropout(h)
        seq = x.shape[1]
        lengths = lengths.cpu()
        with fp32_lstm_on_cpu(x) as x:
            if _all_full(lengths, seq):
                h, _ = self.rnn(x)  # (B, L, hidden × directions): no padding, so packing would change nothing
                return self.output_dropout(h)
            if x.device.type in UNPACKED_DEVICES and not capturing() and isinstance(self.rnn, nn.RNNBase):  # not a quantized copy
                return self.output_dropout(unpacked(self.rnn, x, lengths))  # (B, L, hidden × directions)
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.rnn(packed)
        h, _ = pad_packed_sequence(out, batch_first=True, total_length=seq)  # (B, L, hidden × directions)
        return self.output_dropout(h)


_FUNCTIONS: dict[str, Callable[..., tuple[torch.Tensor, ...]]] = {
    "LSTM": torch.lstm,
    "GRU": torch.gru,
    "RNN_TANH": torch.rnn_tanh,
    "RNN_RELU": torch.rnn_relu,
}


def unpacked(rnn: nn.RNNBase, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The packed result of ``rnn`` (a fused ``batch_first`` RNN/LSTM/GRU, any layers and directions) without
    packing: ``(B, L, D_in)`` → ``(B, L, hidden × directions)``, 0 at padding.

    Layer by layer, each direction is one call of torch's fused kernel on the padded batch: the forward
    direction as it is (padding comes after a sentence's tokens, so it never reaches them), the backward
    direction on each sentence reversed within its own length (``reverse_index``), reversed back after.
    Exact, and cheaper than packing: much cheaper on the CPU, whose packed backward pass dominates there,
    and cheaper in cuDNN training too (docs/benchmarks.md has the figures). Dropout between layers is
    ``rnn.dropout``, as in the fused module.
    """
    batch, seq, _ = x.shape
    run = _FUNCTIONS[rnn.mode]  # nn.RNN names its mode RNN_TANH or RNN_RELU
    rev = reverse_index(lengths, seq).to(x.device) if rnn.bidirectional else None  # (B, L)
    mask = (torch.arange(seq).unsqueeze(0) < lengths.unsqueeze(1)).to(x.device).unsqueeze(2)  # (B, L, 1)
    h = x  # (B, L, D_in)
    for layer in range(rnn.num_layers):
        if layer > 0 and rnn.dropout > 0:
            h = dropout(h, rnn.dropout, rnn.training)
        outputs = [_direction(rnn, run, h, layer, "")]  # [(B, L, H)]
        if rev is not None:
            outputs.append(gather_time(_direction(rnn, run, gather_time(h, rev), layer, "_reverse"), rev))
        h = torch.cat(outputs, dim=2) if len(outputs) > 1 else outputs[0]  # (B, L, hidden × directions)
    return h * mask


def _direction(rnn: nn.RNNBase, run: Callable[..., tuple[torch.Tensor, ...]], x: torch.Tensor, layer: int, suffix: str) -> torch.Tensor:
    """One direction of one layer of ``rnn`` over ``x (B, L, D)`` from a zero state → ``(B, L, H)``."""
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if rnn.bias else [])
    params = [getattr(rnn, f"{name}_l{layer}{suffix}") for name in names]
    zeros = x.new_zeros(1, x.shape[0], rnn.hidden_size)  # (1, B, H)
    state = (zeros, zeros) if rnn.mode == "LSTM" else zeros
    # positional: input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first
    args = (x, state, params, rnn.bias, 1, 0.0, rnn.training, False, True)
    if not x.is_cuda:
        return run(*args)[0]
    with warnings.catch_warnings():
        # cuDNN wants one direction's weights as their own buffer; these are views into the module's, so it
        # copies them (a few hundred KB) and warns about it. The copy is meant; the warning is noise.
        warnings.filterwarnings("ignore", "RNN module weights are not part of single contiguous chunk", UserWarning)
        return run(*args)[0]


def _all_full(lengths: torch.Tensor, seq: int) -> bool:
    """Whether every sentence fills the batch's ``seq`` positions (length-bucketed batches often do).

    Then the unpacked call is exactly the packed one (the backward direction starts at position
    ``seq - 1``, each sentence's own last token) and faster. A trace or an export always takes the
    packed path, which is right for any lengths."""
    if capturing():
        return False
    return bool((lengths == seq).all())


class NoEncoder(nn.Module):
    """The context-free baseline: each token's representation goes straight to the tagger, ``h_t = x_t``."""

    def __init__(self, input_dim: int) -> None:
        super().__init__()
        self.output_dim = input_dim

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return x  # (B, L, D_in)


def _recurrent(cell: str) -> Callable[..., nn.Module]:
    def make(input_dim: int, hidden: int, layers: int, bidirectional: bool, dropout: float, **options: object) -> nn.Module:
        return RecurrentEncoder(cell, input_dim, hidden, layers, bidirectional, dropout, **options)  # type: ignore[arg-type]

    return make


def _none(input_dim: int, hidden: int, layers: int, bidirectional: bool, dropout: float, **options: object) -> nn.Module:
    return NoEncoder(input_dim)


ENCODERS: dict[str, Callable[..., nn.Module]] = {
    "rnn": _recurrent("rnn"),
    "lstm": _recurrent("lstm"),
    "gru": _recurrent("gru"),
    "none": _none,
}
"""``model.encoder.cell`` → constructor ``(input_dim, hidden, layers, bidirectional, dropout, *, nonlinearity,
impl, recurrent_init, forget_bias, recurrent_gain, input_bias)``; ``none`` ignores everything but ``input_dim``."""
