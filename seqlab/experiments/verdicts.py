"""The rules that turn the long-range sweep's table into verdicts. Pure functions of the results rows
(``claims_budget``'s ``conditions`` list), so they are tested on tables made up for the purpose.

A row: ``{"variant", "cell", "settings": ["key=value", …], "budget": "1000x20", "accuracy": {"T": [per
seed, None where skipped]}, "reach": T}`` — ``reach`` is the longest T whose mean query accuracy over the
seeds was ≥ ``REACHED`` with every shorter T reached too (0: not even the shortest).
"""
from __future__ import annotations

import math
from typing import Any

from seqlab.experiments.outcome import mean_std

__all__ = [
    "GATED", "REACHED", "accuracy_verdict", "best_by_cell", "budget_verdicts", "cell_conditions", "gate_verdict", "parameters_verdict",
    "per_step_verdict", "to_target_verdict",
]

REACHED = 0.9
"""Mean query accuracy at which a distance counts as kept."""
GATED = ("lstm", "gru")


def best_by_cell(rows: list[dict[str, Any]], budget: str) -> dict[str, dict[str, Any]]:
    """Per cell, the row with the longest reach at ``budget`` (the first listed among equals)."""
    best: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["budget"] == budget and (row["cell"] not in best or row["reach"] > best[row["cell"]]["reach"]):
            best[row["cell"]] = row
    return best


def _describe(row: dict[str, Any]) -> str:
    """``T ≥ 200`` when the climb reached the longest T it tried, else ``T = 10`` (``T < 5``: none)."""
    tried = max(int(t) for t in row["accuracy"])
    if row["reach"] == 0:
        return f"T < {min(int(t) for t in row['accuracy'])}"
    return f"T ≥ {row['reach']} (longest tried)" if row["reach"] == tried else f"T = {row['reach']}"


def _setting(row: dict[str, Any]) -> str:
    return ", ".join([row["variant"], *row["settings"]])


def budget_verdicts(rows: list[dict[str, Any]], budgets: list[str]) -> list[tuple[str, str, bool | None]]:
    """One verdict per budget: with each cell at its best setting at that budget, every gated cell keeps
    the key (≥ 90%) to a longer T than every vanilla RNN. ``None`` (n/a) when either side is missing."""
    out = []
    for budget in budgets:
        best = best_by_cell(rows, budget)
        plain = [r["reach"] for c, r in best.items() if c.startswith("rnn")]
        gated = [r["reach"] for c, r in best.items() if c in GATED]
        held = None if not plain or not gated else min(gated) > max(plain)
        measured = "; ".join(f"{cell}: {_describe(r)} ({_setting(r)})" for cell, r in sorted(best.items()))
        out.append((f"budget {budget}: every gated cell, at its best setting, keeps the key ≥ 90% to a longer T than every vanilla RNN", measured, held))
    return out


def cell_conditions(rows: list[dict[str, Any]], budgets: list[str]) -> dict[str, str]:
    """Per cell, the condition its reach depends on: its best reach at each budget with the setting that
    gave it, and the settings (grid values and variants) that reached less at the same budget."""
    out: dict[str, str] = {}
    for cell in sorted({r["cell"] for r in rows}):
        parts = []
        for budget in budgets:
            mine = [r for r in rows if r["cell"] == cell and r["budget"] == budget]
            if not mine:
                continue
            best = max(mine, key=lambda r: r["reach"])
            worse = sorted({_setting(r) + f": {_describe(r)}" for r in mine if r["reach"] < best["reach"]})
            text = f"{_describe(best)} at {budget} with {_setting(best)}"
            parts.append(text + (f" (less with {'; '.join(worse)})" if worse else ""))
        out[cell] = "; ".join(parts)
    return out


def gate_verdict(report: dict[str, Any]) -> tuple[str, str, bool | None]:
    """The notes' gate claim on the LSTMs that solved the task: on the units that carry the key (by
    ablation), forget ≥ 0.9 and input ≤ 0.1 on distractors, and the input gate higher on the key than on
    distractors — for every such model. ``None`` when no LSTM solved any distance."""
    claim = "solved LSTMs, key-carrying units: forget ≥ 0.9 and input ≤ 0.1 on distractors, input higher on the key"
    verdicts: list[bool] = []
    parts = []
    for name, entry in report.items():
        for model in entry["models"]:
            key, every = model["summary"]["key_units"], model["summary"]["all_units"]
            where = f"{name} T={model['distance']} {entry['budget']} seed {model['seed']} ({len(model['key_units'])} key units)"
            if entry["cell"] == "lstm":
                ok = key["forget"]["filler"] >= 0.9 and key["input"]["filler"] <= 0.1 and key["input"]["key"] > key["input"]["filler"]
                verdicts.append(bool(ok) and not math.isnan(key["forget"]["filler"]))
                parts.append(
                    f"{where}: key units forget {key['forget']['filler']:.2f} / input {key['input']['filler']:.2f} on distractors, "
                    f"input {key['input']['key']:.2f} on the key; all units forget {every['forget']['filler']:.2f} / input {every['input']['filler']:.2f}"
                )
            else:
                parts.append(
                    f"{where}: key units update z {key['update']['filler']:.2f} on distractors, {key['update']['key']:.2f} on the key; "
                    f"all units z {every['update']['filler']:.2f}"
                )
    held = all(verdicts) if verdicts else None
    count = f"{sum(verdicts)} of {len(verdicts)} solved LSTMs meet it on their key units; " if verdicts else ""
    return claim, count + ("; ".join(parts) or "no gated model solved any distance"), held


# lstm-vs-gru: rows ``{"task", "cell", "impl": "fused"|"scratch", "encoder_parameters", "sents_per_s": [per
# seed], and for fused rows "updates_to_target": [per seed, None = never], "target"}``.


def _pairs(table: list[dict[str, Any]], impl: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(task, lstm row, gru row) for every task that has both cells with ``impl``."""
    out = []
    for task in sorted({r["task"] for r in table}):
        pair = {r["cell"]: r for r in table if r["task"] == task and r["impl"] == impl}
        if {"lstm", "gru"} <= set(pair):
            out.append((task, pair["lstm"], pair["gru"]))
    return out


def _mean(values: list[float]) -> float:
    return mean_std(values)[0]


def parameters_verdict(table: list[dict[str, Any]]) -> tuple[str, str, bool | None]:
    """The GRU encoder has 0.75× the LSTM's parameters (±0.02) on every task."""
    pairs = _pairs(table, "fused")
    ratios = [(task, gru["encoder_parameters"] / lstm["encoder_parameters"], gru, lstm) for task, lstm, gru in pairs]
    measured = "; ".join(f"{t}: {r:.3f} ({g['encoder_parameters']} / {ls['encoder_parameters']})" for t, r, g, ls in ratios)
    return "GRU encoder has 0.75× the LSTM's parameters (±0.02)", measured, (all(abs(r - 0.75) < 0.02 for _, r, _, _ in ratios) if ratios else None)


def per_step_verdict(table: list[dict[str, Any]]) -> tuple[str, str, bool | None]:
    """Per step: the GRU's mean training sentences/s above the LSTM's on every task, fused and scratch."""
    parts, ratios = [], []
    for impl in ("fused", "scratch"):
        for task, lstm, gru in _pairs(table, impl):
            ratio = _mean(gru["sents_per_s"]) / _mean(lstm["sents_per_s"])
            ratios.append(ratio)
            parts.append(f"{task} {impl}: GRU {_mean(gru['sents_per_s']):.0f} vs LSTM {_mean(lstm['sents_per_s']):.0f} sentences/s ({ratio:.2f}×)")
    return "per step: the GRU trains more sentences per second than the LSTM (every task, fused and scratch)", "; ".join(parts), (all(r > 1.0 for r in ratios) if ratios else None)


def _median_updates(values: list[int | None]) -> float:
    """The median over seeds, a seed that never reached the target counting as infinitely many."""
    ordered = sorted(math.inf if v is None else v for v in values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def to_target_verdict(table: list[dict[str, Any]]) -> tuple[str, str, bool | None]:
    """To a given accuracy: on every task that at least one cell reaches, the GRU's median number of
    updates to the target dev score is below the LSTM's (a seed that never reached it counts as ∞)."""
    parts, wins = [], []
    for task, lstm, gru in _pairs(table, "fused"):
        mine = {c: _median_updates(r["updates_to_target"]) for c, r in (("lstm", lstm), ("gru", gru))}
        text = ", ".join(f"{c.upper()} {'never' if math.isinf(v) else f'{v:.0f}'}" for c, v in mine.items())
        parts.append(f"{task} (dev ≥ {lstm['target']:g}): median updates {text}")
        if not (math.isinf(mine["lstm"]) and math.isinf(mine["gru"])):
            wins.append(mine["gru"] < mine["lstm"])
    return "to a given accuracy: the GRU reaches the task's target dev score in fewer updates than the LSTM", "; ".join(parts), (all(wins) if wins else None)


def accuracy_verdict(table: list[dict[str, Any]]) -> tuple[str, str, bool | None]:
    """The GRU's mean accuracy within 2 points of the LSTM's on every task (fused runs)."""
    parts, gaps = [], []
    for task, lstm, gru in _pairs(table, "fused"):
        gap = _mean(gru["accuracy"]) - _mean(lstm["accuracy"])
        gaps.append(gap)
        parts.append(f"{task}: GRU {100 * _mean(gru['accuracy']):.1f} vs LSTM {100 * _mean(lstm['accuracy']):.1f}% ({100 * gap:+.1f} points)")
    return "GRU accuracy within 2 points of the LSTM's", "; ".join(parts), (all(abs(g) <= 0.02 for g in gaps) if gaps else None)
