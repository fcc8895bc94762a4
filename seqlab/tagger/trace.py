"""What the recurrent encoder does token by token: gate activations and state norms of a trained model.

``trace_sentence`` re-runs a trained model's encoder with the scratch cells of ``seqlab.nn.cells`` (which
take the weights of a fused encoder unchanged) and records, at every token and in each direction:

* LSTM: the mean over units of the forget gate ``f_t``, input gate ``i_t`` and output gate ``o_t``, and the
  norms ``‖C_t‖`` (long-term memory) and ``‖h_t‖`` (short-term memory);
* GRU: the means of the update gate ``z_t`` and reset gate ``r_t``, and ``‖h_t‖``;
* RNN: ``‖S_t‖``.

Values are given in sentence order for both directions (the backward direction's value at token ``t`` is
the one it computed after reading tokens ``n−1 … t``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from seqlab.data.batches import collate
from seqlab.errors import ModelError
from seqlab.nn.cells import GATE_NAMES, ScratchRecurrent
from seqlab.plots import pyplot
from seqlab.tagger.inference import Tagger

DIRECTION_MARKS = ("→", "←")


@dataclass(frozen=True)
class Trace:
    """One sentence through one encoder layer."""

    cell: str
    layer: int
    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    columns: tuple[str, ...]
    """Column names, e.g. ``forget →``, ``‖C‖ →``, ``‖h‖ ←``."""
    values: tuple[tuple[float, ...], ...]
    """``values[t][k]``: column ``k`` at token ``t``."""
    units: dict[str, torch.Tensor]
    """Column name (gates only) → per-unit activations ``(n, H)``, for heatmaps."""


def scratch_encoder(tagger: Tagger) -> ScratchRecurrent:
    """The tagger's encoder as scratch cells carrying the same weights (the tagger is unchanged)."""
    config = tagger.bundle.config
    if config.model.encoder.cell == "none":
        raise ModelError("this model has no recurrent encoder (model.encoder.cell is none): nothing to inspect")
    rnn = tagger.with_impl("scratch").model.encoder.rnn
    assert isinstance(rnn, ScratchRecurrent)
    return rnn


@torch.no_grad()
def trace_sentence(tagger: Tagger, tokens: Sequence[str], layer: int = -1) -> Trace:
    """Gate means and state norms per token for ``tokens`` at encoder ``layer`` (``-1``: the last)."""
    if not tokens:
        raise ModelError("nothing to inspect: the sentence has no tokens")
    rnn = scratch_encoder(tagger)
    if not -rnn.num_layers <= layer < rnn.num_layers:
        raise ModelError(f"--layer: the encoder has {rnn.num_layers} layer(s), got {layer}")
    layer = layer % rnn.num_layers
    tags = tagger.predict_tokens([tokens])[0]
    encoded = tagger.encode_tokens([tokens])
    batch = collate(encoded, [0]).to(tagger.device)
    tagger.model.eval()
    x = tagger.model.embed(batch)  # (1, n, D_in)
    record: list[dict[str, torch.Tensor]] = []
    rnn(x, batch.lengths, record=record)
    entry = record[layer]  # name → (n, D, 1, H), each direction in its own reading order
    n = len(tokens)
    order = torch.arange(n - 1, -1, -1, device=x.device)  # the backward direction reads n−1 … 0
    names = [*GATE_NAMES[rnn.cell], *(["cell"] if "cell" in entry else []), "hidden"]
    columns: list[str] = []
    series: list[torch.Tensor] = []
    units: dict[str, torch.Tensor] = {}
    for direction in range(rnn.directions):
        mark = DIRECTION_MARKS[direction]
        for name in names:
            per_unit = entry[name][:, direction, 0]  # (n, H), reading order
            if direction == 1:
                per_unit = per_unit[order]  # sentence order
            if name in ("cell", "hidden"):
                label = f"‖{'C' if name == 'cell' else ('h' if rnn.cell != 'rnn' else 'S')}‖ {mark}"
                series.append(per_unit.norm(dim=1))  # (n,)
            else:
                label = f"{name} {mark}"
                series.append(per_unit.mean(dim=1))  # (n,)
                units[label] = per_unit.cpu()
            columns.append(label)
    table = torch.stack(series, dim=1).cpu().tolist()  # (n, columns)
    return Trace(rnn.cell, layer, tuple(tokens), tuple(tags), tuple(columns), tuple(tuple(row) for row in table), units)


def format_trace(trace: Trace) -> str:
    """A fixed-width table: one row per token, one column per gate mean or state norm."""
    width = max(8, *(len(t) for t in trace.tokens)) + 2
    tag_width = max(5, *(len(t) for t in trace.tags)) + 2
    head = f"{'token':<{width}}{'tag':<{tag_width}}" + "".join(f"{c:>11}" for c in trace.columns)
    lines = [f"# {trace.cell} layer {trace.layer}: gate values are means over units; ‖·‖ are L2 norms", head]
    for token, tag, row in zip(trace.tokens, trace.tags, trace.values):
        lines.append(f"{token:<{width}}{tag:<{tag_width}}" + "".join(f"{v:>11.3f}" for v in row))
    return "\n".join(lines)


def plot_trace(trace: Trace, path: str) -> None:
    """A PNG heatmap per gate (units × tokens). Needs matplotlib (``pip install seqlab[plot]``)."""
    plt = pyplot()
    gates = list(trace.units)
    if not gates:
        raise ModelError(f"--plot: the {trace.cell} cell has no gates to draw")
    fig, axes = plt.subplots(len(gates), 1, figsize=(max(4, 0.6 * len(trace.tokens) + 2), 2.2 * len(gates)), squeeze=False)
    for ax, name in zip(axes[:, 0], gates):
        image = ax.imshow(trace.units[name].T.numpy(), aspect="auto", interpolation="nearest", vmin=0.0, vmax=1.0, cmap="viridis")
        ax.set_title(name)
        ax.set_ylabel("unit")
        ax.set_xticks(range(len(trace.tokens)), trace.tokens, rotation=45, ha="right")
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    try:
        fig.savefig(path, format="png")
    except OSError as err:
        raise ModelError(f"{path}: cannot write the plot ({err.strerror})") from None
    finally:
        plt.close(fig)
