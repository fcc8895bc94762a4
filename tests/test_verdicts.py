"""The long-range sweep's verdict rules on made-up result tables, the exact seed skip, the sweep's
conditions and ``--cell`` names, and the key-unit ablation on constructed states."""
from __future__ import annotations

import itertools

import pytest
import torch

from seqlab.experiments import shipped_configs
from seqlab.experiments.claims_budget import conditions, still_possible
from seqlab.experiments.gate_units import key_units
from seqlab.experiments.settings import load_experiment
from seqlab.experiments.verdicts import budget_verdicts, cell_conditions, gate_verdict


def row(variant: str, cell: str, budget: str, reach: int, tried: tuple[int, ...] = (5, 10, 20), settings: tuple[str, ...] = ("train.lr=0.01",)) -> dict:
    return {"variant": variant, "cell": cell, "settings": list(settings), "budget": budget, "reach": reach, "accuracy": {str(t): [1.0] for t in tried}}


def test_budget_verdict_holds_only_where_every_gated_cell_beats_every_rnn():
    rows = [
        row("rnn", "rnn-tanh", "small", 5), row("gru", "gru", "small", 20), row("lstm", "lstm", "small", 5),
        row("rnn", "rnn-tanh", "big", 5), row("gru", "gru", "big", 20), row("lstm", "lstm", "big", 10),
    ]
    small, big = budget_verdicts(rows, ["small", "big"])
    assert small[2] is False and big[2] is True  # the LSTM ties the RNN at the small budget only
    assert "lstm: T = 5" in small[1] and "gru: T ≥ 20 (longest tried)" in small[1]


def test_budget_verdict_takes_each_cells_best_setting_and_is_na_without_a_side():
    rows = [
        row("lstm", "lstm", "b", 5), row("lstm-fb1", "lstm", "b", 20, settings=("train.lr=0.002",)),
        row("rnn", "rnn-tanh", "b", 10),
    ]
    (verdict,) = budget_verdicts(rows, ["b"])
    assert verdict[2] is True and "lstm-fb1, train.lr=0.002" in verdict[1]
    assert budget_verdicts([row("gru", "gru", "b", 5)], ["b"])[0][2] is None


def test_cell_conditions_name_the_setting_and_what_reached_less():
    rows = [
        row("lstm", "lstm", "1000x20", 10), row("lstm-fb1", "lstm", "1000x20", 10),
        row("lstm", "lstm", "4000x40", 0), row("lstm-fb1", "lstm", "4000x40", 20),
    ]
    text = cell_conditions(rows, ["1000x20", "4000x40"])["lstm"]
    assert text.startswith("T = 10 at 1000x20 with lstm, train.lr=0.01;")
    assert "T ≥ 20 (longest tried) at 4000x40 with lstm-fb1, train.lr=0.01 (less with lstm, train.lr=0.01: T < 5)" in text


def gate_model(forget: float, input_filler: float, input_key: float) -> dict:
    table = {"forget": {"filler": forget, "key": 0.5}, "input": {"filler": input_filler, "key": input_key}, "output": {"filler": 0.5, "key": 0.5}}
    return {"seed": 1, "distance": 20, "key_units": [3], "summary": {"key_units": table, "all_units": table}}


@pytest.mark.parametrize(("forget", "input_filler", "input_key", "held"), [
    (0.95, 0.05, 0.6, True), (0.85, 0.05, 0.6, False), (0.95, 0.2, 0.6, False), (0.95, 0.05, 0.04, False),
])
def test_gate_verdict_rule(forget, input_filler, input_key, held):
    report = {"lstm": {"cell": "lstm", "budget": "b", "models": [gate_model(forget, input_filler, input_key)]}}
    assert gate_verdict(report)[2] is held


def test_gate_verdict_needs_every_lstm_model_and_is_na_without_one():
    report = {"lstm": {"cell": "lstm", "budget": "b", "models": [gate_model(0.95, 0.05, 0.6), gate_model(0.5, 0.05, 0.6)]}}
    assert gate_verdict(report)[2] is False
    assert gate_verdict(report)[1].startswith("1 of 2 solved LSTMs meet it on their key units; ")
    assert gate_verdict({})[2] is None
    assert gate_verdict({"lstm": {"cell": "lstm", "budget": "b", "models": []}})[2] is None


def test_seed_skip_is_exact_against_every_outcome_of_the_remaining_seeds():
    grid = [0.0, 0.5, 0.7, 0.85, 0.9, 1.0]
    for done in range(0, 3):
        for scores in itertools.product(grid, repeat=done):
            possible = any(sum(scores + rest) / 3 >= 0.9 for rest in itertools.product(grid, repeat=3 - done))
            assert still_possible(list(scores), 3) == possible, scores


def test_sweep_conditions_cover_the_grid_and_every_cell_name_is_unique():
    exp = load_experiment(shipped_configs() / "long_range_budget.yaml")
    found = conditions(exp)
    assert len(found) == len(exp.budgets) * len(exp.variants) * len(exp.grid[0][1])
    assert [c.budget for c in found[: len(found) // len(exp.budgets)]] == [exp.budgets[0]] * (len(found) // len(exp.budgets))
    specs = [c.spec(t, s) for c in found for t in exp.distances for s in range(1, exp.seeds + 1)]
    assert len(set(specs)) == len(specs)
    assert found[0].spec(5, 1) == "rnn-tanh/train.lr=0.01/1000x20/T5/seed1"


def test_key_units_finds_the_units_that_carry_the_key():
    torch.manual_seed(0)
    gold = torch.tensor([0, 1] * 200)  # (B,)
    outputs = torch.randn(400, 8) * 0.3  # (B, H): noise
    sign = gold.float() * 2 - 1
    outputs[:, 2] += 2.0 * sign  # units 2 and 5 carry the key, 2 more clearly
    outputs[:, 5] += 1.0 * sign
    readout = torch.nn.Linear(8, 2)
    with torch.no_grad():
        readout.weight.zero_()
        readout.bias.zero_()
        readout.weight[1, 2], readout.weight[1, 5] = 1.0, 1.0
        readout.weight[0, 2], readout.weight[0, 5] = -1.0, -1.0
    units, curve, separation = key_units(outputs, gold, readout, chance=0.5)
    assert units == [2, 5]
    assert curve[0] == 1.0 and curve[2] <= 0.6 and len(curve) == 9
    assert separation[2] > separation[5] > max(separation[j] for j in (0, 1, 3, 4, 6, 7))


def speed_rows(task: str, lstm: tuple[list[float], list], gru: tuple[list[float], list], scratch: tuple[float, float] = (10.0, 12.0)) -> list[dict]:
    base = {"task": task, "target": 0.9}
    return [
        {**base, "cell": "lstm", "impl": "fused", "encoder_parameters": 400, "sents_per_s": lstm[0], "updates_to_target": lstm[1]},
        {**base, "cell": "gru", "impl": "fused", "encoder_parameters": 300, "sents_per_s": gru[0], "updates_to_target": gru[1]},
        {**base, "cell": "lstm", "impl": "scratch", "encoder_parameters": 400, "sents_per_s": [scratch[0]]},
        {**base, "cell": "gru", "impl": "scratch", "encoder_parameters": 300, "sents_per_s": [scratch[1]]},
    ]


def test_per_step_and_to_target_are_separate_verdicts():
    from seqlab.experiments.verdicts import (
        parameters_verdict,
        per_step_verdict,
        to_target_verdict,
    )

    # GRU slower per step but reaches the target sooner (the LSTM's seeds mostly never do).
    table = speed_rows("a", ([100, 110], [30, None, None]), ([50, 60], [90, 120, None]))
    assert per_step_verdict(table)[2] is False and to_target_verdict(table)[2] is True
    assert "median updates LSTM never, GRU 120" in to_target_verdict(table)[1]
    assert parameters_verdict(table)[2] is True
    # Faster per step (fused and scratch) and later to the target.
    table = speed_rows("a", ([50], [30, 40, 50]), ([60], [60, 60, 60]))
    assert per_step_verdict(table)[2] is True and to_target_verdict(table)[2] is False
    # Scratch slower: per step no longer holds everywhere; neither reaching the target is n/a.
    table = speed_rows("a", ([50], [None]), ([60], [None]), scratch=(12.0, 10.0))
    assert per_step_verdict(table)[2] is False and to_target_verdict(table)[2] is None


def test_updates_to_target_counts_to_the_end_of_the_first_epoch_that_reached_it():
    from seqlab.experiments.claims_speed import updates_to_target

    history = ({"epoch": 1, "dev_f1": 0.5}, {"epoch": 2, "dev_f1": 0.95}, {"epoch": 3, "dev_f1": 0.99})
    assert updates_to_target(history, 0.9, 32) == 64
    assert updates_to_target(history, 0.999, 32) is None
    assert updates_to_target(({"epoch": 1},), 0.5, 10) is None  # no dev score: never
