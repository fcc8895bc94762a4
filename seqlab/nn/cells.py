"""The notes' recurrent cells written out from their equations: vanilla RNN, LSTM and GRU.

``ScratchRecurrent`` is a drop-in for ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (batch-first): it holds its
parameters under torch's names and layout (``weight_ih_l{k}[_reverse]``, ``weight_hh_l…``, ``bias_ih_l…``,
``bias_hh_l…``; gate rows ordered ``i, f, g, o`` for the LSTM and ``r, z, n`` for the GRU), so a state dict
moves between the two implementations unchanged. Only the cell arithmetic is ours, one small function per
cell below, so a user can read it, change the activation, and record the gates.

Notation (the notes'): ``x_t`` input, ``S_t`` / ``h_t`` hidden state, ``U`` = ``weight_ih`` (input → hidden),
``W`` = ``weight_hh`` (hidden → hidden), ``σ`` the logistic sigmoid, ``*`` elementwise product, ``act`` the
configurable activation (``tanh`` by default, as in torch and the notes).

How it is fast (no Python work per element, a handful of ops per time step):
* ``U·x_t + b`` for every time step and both directions is one batched matmul before the recurrence;
* each step does one ``baddbmm`` for all gates of both directions, ``(D, B, H) @ (D, H, G·H)``;
* the backward direction reads each sentence reversed within its own length (a gather before and after),
  so it starts at the sentence's last real token and padding never reaches a real position.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from seqlab.errors import ModelError
from seqlab.nn.dropout import dropout

Tensor = torch.Tensor

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "hardtanh": F.hardtanh,
    "softsign": F.softsign,
}
"""``model.encoder.nonlinearity`` → the function used as ``act`` in the equations below."""

GATES: dict[str, int] = {"rnn": 1, "lstm": 4, "gru": 3}
"""Blocks of ``H`` rows in ``weight_ih`` / ``weight_hh``: ``[S]``, ``[i, f, g, o]``, ``[r, z, n]``."""

GATE_NAMES: dict[str, tuple[str, ...]] = {"rnn": (), "lstm": ("forget", "input", "output"), "gru": ("update", "reset")}
"""Gates each cell can record, in the order ``inspect`` prints them."""


def rnn_step(xu: Tensor, s: Tensor, c: Tensor | None, w_t: Tensor, act: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor | None, tuple[Tensor, ...]]:
    """Vanilla RNN: ``S_t = act(U·x_t + W·S_{t-1} + b)``.

    ``xu (D, B, H)`` is ``U·x_t + b_ih + b_hh``, precomputed; ``s (D, B, H)`` is ``S_{t-1}``; ``w_t (D, H, H)``
    is ``Wᵀ``. The output ``O_t = g(V·S_t)`` is the tagger head, not part of the cell.
    """
    s = act(torch.baddbmm(xu, s, w_t))  # (D, B, H)
    return s, None, ()


def lstm_step(xu: Tensor, h: Tensor, c: Tensor | None, w_t: Tensor, act: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor | None, tuple[Tensor, ...]]:
    """LSTM (Hochreiter & Schmidhuber, 1997, with the forget gate of Gers et al., 2000)::

        i_t = σ(U_i·x_t + W_i·h_{t-1} + b_i)        input gate
        f_t = σ(U_f·x_t + W_f·h_{t-1} + b_f)        forget gate
        C̃_t = act(U_g·x_t + W_g·h_{t-1} + b_g)      candidate cell state
        o_t = σ(U_o·x_t + W_o·h_{t-1} + b_o)        output gate
        C_t = f_t * C_{t-1} + i_t * C̃_t             cell state: the long-term memory
        h_t = o_t * act(C_t)                        hidden state: the short-term memory

    ``xu (D, B, 4H)`` is ``U·x_t + b_ih + b_hh`` for the four blocks; ``h, c (D, B, H)``; ``w_t (D, H, 4H)``.
    Returns ``h_t, C_t`` and the gates ``(f_t, i_t, o_t)``.
    """
    gates = torch.baddbmm(xu, h, w_t)  # (D, B, 4H)
    i, f, g, o = gates.chunk(4, dim=2)  # each (D, B, H)
    i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
    assert c is not None, "the LSTM carries a cell state"
    c = torch.addcmul(f * c, i, act(g))  # (D, B, H)
    h = o * act(c)  # (D, B, H)
    return h, c, (f, i, o)


def gru_step(xu: Tensor, h: Tensor, c: Tensor | None, w_t: Tensor, b_hh: Tensor, act: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor | None, tuple[Tensor, ...]]:
    """GRU (Cho et al., 2014), with the reset gate placed as torch (and cuDNN) place it::

        r_t = σ(U_r·x_t + b_ir + W_r·h_{t-1} + b_hr)          reset gate
        z_t = σ(U_z·x_t + b_iz + W_z·h_{t-1} + b_hz)          update gate
        n_t = act(U_n·x_t + b_in + r_t * (W_n·h_{t-1} + b_hn)) candidate
        h_t = (1 − z_t) * n_t + z_t * h_{t-1}

    Cho et al. apply ``r_t`` before the matmul, ``W_n·(r_t * h_{t-1})``; torch applies it after, which lets
    the three recurrent products share one matmul. We follow torch so weights are interchangeable.
    ``xu (D, B, 3H)`` is ``U·x_t + b_ih``; ``b_hh (D, 1, 3H)`` stays separate because ``r_t`` scales ``b_hn``.
    Returns ``h_t`` and the gates ``(z_t, r_t)``.
    """
    hidden = h.shape[2]
    wh = torch.baddbmm(b_hh, h, w_t)  # (D, B, 3H)
    rz = torch.sigmoid(xu[:, :, : 2 * hidden] + wh[:, :, : 2 * hidden])  # (D, B, 2H)
    r, z = rz.chunk(2, dim=2)  # each (D, B, H)
    n = act(torch.addcmul(xu[:, :, 2 * hidden :], r, wh[:, :, 2 * hidden :]))  # (D, B, H)
    h = torch.addcmul(n, z, h - n)  # (1 − z) * n + z * h, (D, B, H)
    return h, None, (z, r)


def reverse_index(lengths: Tensor, seq: int) -> Tensor:
    """``(B, L)`` positions that reverse each sentence within its own length and leave padding in place.

    ``index[b, t] = lengths[b] − 1 − t`` for ``t < lengths[b]``, else ``t``; applying it twice is the identity.
    """
    steps = torch.arange(seq, device=lengths.device).unsqueeze(0)  # (1, L)
    last = (lengths.to(steps.device) - 1).unsqueeze(1)  # (B, 1)
    return torch.where(steps <= last, last - steps, steps)  # (B, L)


def gather_time(x: Tensor, index: Tensor) -> Tensor:
    """``x (B, L, F)`` reordered along time by ``index (B, L)``: ``out[b, t] = x[b, index[b, t]]``.

    Whole rows of ``F`` numbers are copied (``index_select`` on ``(B·L, F)``): about half the time of an
    element-wise ``gather``, whose index has ``F`` entries per row. The same numbers, forward and backward."""
    batch, seq, features = x.shape
    rows = (index + torch.arange(batch, device=index.device).unsqueeze(1) * seq).reshape(batch * seq)  # (B·L,)
    return x.reshape(batch * seq, features).index_select(0, rows).reshape(batch, seq, features)  # (B, L, F)


class ScratchRecurrent(nn.Module):
    """A stack of the cells above with the interface and parameters of ``nn.RNN/LSTM/GRU(batch_first=True)``.

    ``forward(x (B, L, D_in), lengths (B,))`` → ``(output (B, L, D·H), (h_n, c_n))`` where ``D`` is 1 or 2
    directions, ``h_n, c_n (layers·D, B, H)`` are the states at each sentence's last real token (``c_n`` is
    None except for the LSTM) and ``output`` is 0 at padding, as ``pad_packed_sequence`` gives it.
    Dropout acts on each layer's output except the last, as in torch.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        nonlinearity: str = "tanh",
    ) -> None:
        super().__init__()
        if cell not in GATES:
            raise ModelError(f"unknown recurrent cell '{cell}'; expected one of {', '.join(GATES)}")
        if nonlinearity not in ACTIVATIONS:
            raise ModelError(f"unknown activation '{nonlinearity}'; expected one of {', '.join(ACTIVATIONS)}")
        self.cell = cell
        self.mode = cell.upper()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.nonlinearity = nonlinearity
        self.directions = 2 if bidirectional else 1
        self.scan = False
        """Run the time loop as one ``torch.scan`` op instead of Python steps (``seqlab export --format
        torch-export`` sets it: a Python loop would be unrolled to the example's length)."""
        rows = GATES[cell] * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.directions
            for suffix in self.suffixes(layer):
                self.register_parameter(f"weight_ih{suffix}", nn.Parameter(torch.empty(rows, layer_input)))
                self.register_parameter(f"weight_hh{suffix}", nn.Parameter(torch.empty(rows, hidden_size)))
                self.register_parameter(f"bias_ih{suffix}", nn.Parameter(torch.empty(rows)))
                self.register_parameter(f"bias_hh{suffix}", nn.Parameter(torch.empty(rows)))
        self.reset_parameters()

    def suffixes(self, layer: int) -> list[str]:
        """Parameter-name suffixes of one layer, forward direction first (torch's naming)."""
        return [f"_l{layer}", f"_l{layer}_reverse"][: self.directions]

    def reset_parameters(self) -> None:
        """torch's initialisation: every weight and bias ``~ U(−1/√H, 1/√H)``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for param in self.parameters():
            nn.init.uniform_(param, -bound, bound)

    def _stacked(self, name: str, layer: int) -> Tensor:
        """One parameter of both directions stacked on a leading direction axis, ``(D, …)``."""
        return torch.stack([getattr(self, f"{name}{s}") for s in self.suffixes(layer)])

    def forward(
        self, x: Tensor, lengths: Tensor, record: list[dict[str, Tensor]] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor | None]]:
        """Run every layer; with ``record`` (a list), append one dict per layer of per-step traces.

        Each trace dict holds ``(L, D, B, H)`` tensors: ``hidden`` (``h_t`` or ``S_t``), ``cell`` (LSTM ``C_t``)
        and the cell's gates by name (``forget``, ``input``, ``output``; ``update``, ``reset``), in each
        direction's own reading order (the backward direction's step 0 is the sentence's last token).
        """
        batch, seq, _ = x.shape
        lengths = lengths.to(x.device)
        rev = reverse_index(lengths, seq) if self.bidirectional else None  # (B, L)
        last = (lengths - 1).view(1, batch, 1).expand(self.directions, batch, self.hidden_size)  # (D, B, H)
        finals_h: list[Tensor] = []
        finals_c: list[Tensor] = []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0:
                x = dropout(x, self.dropout, self.training)
            x, h_n, c_n = self._layer(x, rev, last, layer, record)  # x: (B, L, D·H)
            finals_h.append(h_n)
            if c_n is not None:
                finals_c.append(c_n)
        mask = torch.arange(seq, device=x.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, L)
        output = x * mask.unsqueeze(2).to(x.dtype)  # (B, L, D·H), 0 at padding
        h_n = torch.cat(finals_h)  # (layers·D, B, H)
        c_n = torch.cat(finals_c) if finals_c else None
        return output, (h_n, c_n)

    def _layer(
        self, x: Tensor, rev: Tensor | None, last: Tensor, layer: int, record: list[dict[str, Tensor]] | None
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        batch, seq, features = x.shape
        directions, hidden = self.directions, self.hidden_size
        inputs = x.unsqueeze(0) if rev is None else torch.stack([x, gather_time(x, rev)])  # (D, B, L, D_in)
        w_ih = self._stacked("weight_ih", layer)  # (D, G·H, D_in)
        w_hh_t = self._stacked("weight_hh", layer).transpose(1, 2)  # (D, H, G·H)
        b_ih = self._stacked("bias_ih", layer).unsqueeze(1)  # (D, 1, G·H)
        b_hh = self._stacked("bias_hh", layer).unsqueeze(1)  # (D, 1, G·H)
        bias = b_ih if self.cell == "gru" else b_ih + b_hh  # the GRU keeps b_hh apart (r_t scales b_hn)
        xu = torch.baddbmm(bias, inputs.reshape(directions, batch * seq, features), w_ih.transpose(1, 2))  # (D, B·L, G·H)
        xu = xu.view(directions, batch, seq, -1).permute(2, 0, 1, 3).contiguous()  # (L, D, B, G·H)
        act = ACTIVATIONS[self.nonlinearity]
        h = x.new_zeros(directions, batch, hidden)  # (D, B, H)
        c = x.new_zeros(directions, batch, hidden) if self.cell == "lstm" else None
        if self.scan and record is None:
            states, cells = _scan_steps(self.cell, xu, h, c, w_hh_t, b_hh, act)  # (L, D, B, H) each, cells None but for the LSTM
            traces: list[tuple[Tensor, ...]] = []
        else:
            states, cells, traces = self._loop(xu, h, c, w_hh_t, b_hh, act, record is not None)
        h_n = states.permute(1, 2, 0, 3).gather(2, last.unsqueeze(2)).squeeze(2)  # (D, B, H)
        c_n = None
        if cells is not None:
            c_n = cells.permute(1, 2, 0, 3).gather(2, last.unsqueeze(2)).squeeze(2)  # (D, B, H)
        if record is not None:
            entry = {"hidden": states}
            if cells is not None:
                entry["cell"] = cells
            for k, name in enumerate(GATE_NAMES[self.cell]):
                entry[name] = torch.stack([g[k] for g in traces])  # (L, D, B, H)
            record.append(entry)
        forward = states[:, 0].transpose(0, 1)  # (B, L, H)
        if rev is None:
            return forward, h_n, c_n
        backward = gather_time(states[:, 1].transpose(0, 1), rev)  # (B, L, H), back in sentence order
        return torch.cat([forward, backward], dim=2), h_n, c_n  # (B, L, 2H)

    def _loop(
        self, xu: Tensor, h: Tensor, c: Tensor | None, w_hh_t: Tensor, b_hh: Tensor, act: Callable[[Tensor], Tensor], keep_gates: bool
    ) -> tuple[Tensor, Tensor | None, list[tuple[Tensor, ...]]]:
        """The recurrence over ``xu (L, D, B, G·H)`` step by step: ``h_t`` for every t ``(L, D, B, H)``, ``C_t``
        likewise (LSTM; else None) and, with ``keep_gates``, each step's gates."""
        hs: list[Tensor] = []
        cs: list[Tensor] = []
        traces: list[tuple[Tensor, ...]] = []
        for xu_t in xu.unbind(0):  # one UnbindBackward for all steps, not a zero-filled (L, …) grad per step
            if self.cell == "lstm":
                h, c, gates = lstm_step(xu_t, h, c, w_hh_t, act)
            elif self.cell == "gru":
                h, c, gates = gru_step(xu_t, h, c, w_hh_t, b_hh, act)
            else:
                h, c, gates = rnn_step(xu_t, h, c, w_hh_t, act)
            hs.append(h)
            if c is not None:
                cs.append(c)
            if keep_gates:
                traces.append(gates)
        return torch.stack(hs), torch.stack(cs) if cs else None, traces


def _scan_steps(
    cell: str, xu: Tensor, h: Tensor, c: Tensor | None, w_t: Tensor, b_hh: Tensor, act: Callable[[Tensor], Tensor]
) -> tuple[Tensor, Tensor | None]:
    """The same recurrence as the Python loop of ``ScratchRecurrent._layer``, as one ``torch.scan`` over
    ``xu (L, D, B, G·H)``: ``(h_t for every t (L, D, B, H), C_t for every t or None)``. ``torch.export``
    keeps the scan as a loop whose length is the input's, so the exported program takes any length."""
    from torch._higher_order_ops.scan import scan

    if cell == "lstm":
        def lstm(carry: tuple[Tensor, Tensor], xu_t: Tensor) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
            h_t, c_t, _ = lstm_step(xu_t, carry[0], carry[1], w_t, act)
            assert c_t is not None
            return (h_t, c_t), (h_t.clone(), c_t.clone())

        assert c is not None
        _, (states, cells) = scan(lstm, (h, c), xu)
        return states, cells

    def plain(carry: Tensor, xu_t: Tensor) -> tuple[Tensor, Tensor]:
        h_t = gru_step(xu_t, carry, None, w_t, b_hh, act)[0] if cell == "gru" else rnn_step(xu_t, carry, None, w_t, act)[0]
        return h_t, h_t.clone()

    _, states = scan(plain, h, xu)
    return states, None


RECURRENT_INITS = ("default", "orthogonal", "identity")


@torch.no_grad()
def initialise_recurrent(
    rnn: nn.Module, cell: str, recurrent_init: str = "default", forget_bias: float | None = None, gain: float = 1.0,
    input_bias: float | None = None,
) -> None:
    """Re-initialise ``W`` (and the LSTM forget and input biases) of ``rnn``, fused or scratch: both use torch's names.

    ``orthogonal`` / ``identity`` set each gate's ``H×H`` block of every ``weight_hh`` (the notes'
    "initialise W carefully": an orthogonal or identity ``W`` neither shrinks nor grows ``S_{t-1}`` at the
    start, so ``∏ ∂S_j/∂S_{j-1}`` starts near norm 1). ``forget_bias`` sets ``b_f`` = ``bias_ih`` rows ``H:2H``
    to the value and the matching ``bias_hh`` rows to 0 (torch adds the two biases); ``input_bias`` does the
    same for ``b_i``, rows ``0:H`` (torch's gate order is i, f, g, o). ``gain`` then multiplies every
    ``weight_hh``.
    """
    if recurrent_init not in RECURRENT_INITS:
        raise ModelError(f"unknown recurrent_init '{recurrent_init}'; expected one of {', '.join(RECURRENT_INITS)}")
    if (forget_bias is not None or input_bias is not None) and cell != "lstm":
        raise ModelError(f"forget_bias and input_bias need the lstm cell, got '{cell}'")
    gate_biases = {k: v for k, v in ((1, forget_bias), (0, input_bias)) if v is not None}  # gate row block → value
    for name, param in rnn.named_parameters():
        if name.startswith("weight_hh") and recurrent_init != "default":
            hidden = param.shape[1]
            for block in param.split(hidden, dim=0):  # each (H, H)
                if recurrent_init == "orthogonal":
                    nn.init.orthogonal_(block)
                else:
                    block.copy_(torch.eye(hidden))
        if name.startswith("weight_hh") and gain != 1.0:
            param.mul_(gain)
        if gate_biases and name.startswith("bias_"):
            hidden = param.shape[0] // 4
            for block, value in gate_biases.items():
                param[block * hidden : (block + 1) * hidden] = value if name.startswith("bias_ih") else 0.0
