"""Gates per unit on a model that solved the long-range task, and which units carry the key.

A mean over all units can hide the few units that hold the key, so the report is per unit:

* ``gates[g]["key"][j]`` / ``gates[g]["filler"][j]``: unit ``j``'s gate ``g`` (forward direction of the
  first layer, as the scratch cells compute it) averaged over sentences at the key (position 0) and over
  the distractors (positions 1 … T).
* Key units, by ablation at the query: units are ranked by how well their output ``h_n[j]`` at the query
  separates the two keys, ``|μ_alpha − μ_beta| / σ_pooled``, and zeroed in that order, cumulatively, in the
  encoder output the head reads at the query; the key units are the shortest prefix after which the query
  accuracy falls to ``chance + 0.1``. For a one-layer forward encoder ``h_n = o_n ⊙ tanh(C_n)`` (LSTM)
  reads unit ``j``'s own cell, so these are the units whose state carries the key to the query.

The query is scored by the arg-max of its emission scores (the softmax head's decision).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from seqlab.data.batches import collate, encode_all
from seqlab.data.readers import Sentence
from seqlab.data.schemes import convert
from seqlab.tagger.inference import Tagger
from seqlab.tagger.trace import scratch_encoder

__all__ = ["key_units", "unit_gate_report"]


def key_units(outputs: torch.Tensor, gold: torch.Tensor, readout: torch.nn.Module, chance: float) -> tuple[list[int], list[float], list[float]]:
    """``outputs (B, H)`` at the query, ``gold (B,)`` tag ids, ``readout`` the head's projection.

    Returns (key units in ablation order, query accuracy after zeroing the first k of the ranking for
    k = 0 … H, the separation of every unit).
    """
    keys = gold.unique()
    assert len(keys) == 2, "the long-range task has two keys"
    a, b = outputs[gold == keys[0]], outputs[gold == keys[1]]  # (B_a, H), (B_b, H)
    pooled = ((a.var(dim=0, unbiased=False) + b.var(dim=0, unbiased=False)) / 2).sqrt().clamp_min(1e-8)  # (H,)
    separation = (a.mean(dim=0) - b.mean(dim=0)).abs() / pooled  # (H,)
    order = separation.argsort(descending=True).tolist()
    curve = []
    ablated = outputs.clone()
    for k in range(len(order) + 1):
        if k:
            ablated[:, order[k - 1]] = 0.0
        curve.append(float((readout(ablated).argmax(dim=1) == gold).float().mean()))
    cut = next((k for k, acc in enumerate(curve) if acc <= chance + 0.1), len(order))
    return order[:cut], curve, separation.tolist()


@torch.no_grad()
def unit_gate_report(tagger: Tagger, sentences: Sequence[Sentence], chance: float) -> dict[str, Any]:
    """Per-unit gates on key and distractors, the key units and their gates (see the module)."""
    lengths = {len(s.tokens) for s in sentences}
    assert len(lengths) == 1, "the long-range sentences share one length"
    data, scheme = tagger.bundle.config.data, tagger.bundle.config.model.decoder.scheme
    encoded = encode_all([Sentence(s.tokens, tuple(convert(s.tags or (), scheme))) for s in sentences], tagger.bundle.vocabs, data)
    batch = collate(encoded, range(len(encoded))).to(tagger.device)
    model = tagger.model.eval()
    x = model.embed(batch)  # (B, L, D)
    record: list[dict[str, torch.Tensor]] = []
    scratch_encoder(tagger)(x, batch.lengths, record=record)
    outputs = model.encoder(x, batch.lengths)[:, -1]  # (B, H·D): what the head reads at the query
    assert batch.tags is not None
    units, curve, separation = key_units(outputs, batch.tags[:, -1], model.projection, chance)
    gates: dict[str, dict[str, list[float]]] = {}
    for name, values in record[0].items():
        if name in ("hidden", "cell"):
            continue
        forward = values[:, 0]  # (L, B, H)
        gates[name] = {"key": forward[0].mean(dim=0).tolist(), "filler": forward[1:-1].mean(dim=(0, 1)).tolist()}
    summary = {
        group: {g: {where: _mean(v[where], chosen) for where in ("key", "filler")} for g, v in gates.items()}
        for group, chosen in (("key_units", units), ("all_units", list(range(len(separation)))))
    }
    return {
        "accuracy": curve[0], "key_units": units, "ablation_curve": curve, "separation": separation,
        "gates": gates, "summary": summary,
    }


def _mean(values: list[float], chosen: list[int]) -> float:
    return sum(values[j] for j in chosen) / len(chosen) if chosen else float("nan")
