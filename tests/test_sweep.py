"""``seqlab sweep`` and ``seqlab plot`` end to end on the tiny corpus, and their one-line errors."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from seqlab.cli.main import main
from seqlab.errors import ConfigError
from seqlab.train.sweep import parse_grid
from tests.conftest import tiny_overrides

ROOT = Path(__file__).resolve().parent.parent


def sweep_args(tiny_data, tmp_path, *extra: str) -> list[str]:
    args = ["-q", "sweep", "--config", str(ROOT / "configs" / "apple_lstm.yaml"), "--out", str(tmp_path / "sweep")]
    for override in [*tiny_overrides(tiny_data, tmp_path / "unused"), "train.epochs=1"]:
        args += ["--set", override]
    return [*args, *extra]


def test_sweep_trains_every_combination_and_seed(tiny_data, tmp_path, capsys):
    code = main(sweep_args(tiny_data, tmp_path, "--grid", "model.encoder.cell=rnn,gru", "--grid", "model.encoder.bidirectional=true,false", "--seeds", "2"))
    out = capsys.readouterr().out
    assert code == 0
    rows = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert [r["setting"] for r in rows] == [
        {"model.encoder.cell": c, "model.encoder.bidirectional": b} for c in ("rnn", "gru") for b in ("true", "false")
    ]
    for row in rows:
        assert row["seeds"] == 2 and len(row["dev_f1"]) == 2 and len(row["test_f1"]) == 2 and not row["failed"]
        assert all(0 <= f <= 1 for f in row["dev_f1"] + row["test_f1"]) and row["parameters"] > 0
    # The table's parameter counts are the models' own: a GRU has more recurrent weights than an RNN.
    params = {(r["setting"]["model.encoder.cell"], r["setting"]["model.encoder.bidirectional"]): r["parameters"] for r in rows}
    assert params[("gru", "true")] > params[("rnn", "true")] and params[("rnn", "true")] > params[("rnn", "false")]
    assert len(list((tmp_path / "sweep").glob("cell-*-s*"))) == 8
    with open(tmp_path / "sweep" / "sweep.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 4 and float(table[0]["dev_f1_mean"]) == pytest.approx(sum(rows[0]["dev_f1"]) / 2)
    assert "dev F1" in out and " ± " in out and out.count("\n") >= 5


def test_grid_errors_are_reported_together():
    with pytest.raises(ConfigError) as err:
        parse_grid(["model.encoder.cell", "a=1,,2", "b=1", "b=2"])
    assert len(err.value.problems) == 3
    with pytest.raises(ConfigError, match="at least one"):
        parse_grid([])


def test_a_bad_grid_value_fails_before_any_training(tiny_data, tmp_path, capsys):
    code = main(sweep_args(tiny_data, tmp_path, "--grid", "model.encoder.cell=lstm,transformer"))
    err = capsys.readouterr().err.strip()
    assert code == 1 and "model.encoder.cell" in err and "transformer" in err and err.count("\n") == 0
    assert not (tmp_path / "sweep").exists()


def test_plot_draws_the_curves_of_a_trained_model(tiny_data, tmp_path, capsys):
    assert main(sweep_args(tiny_data, tmp_path, "--grid", "model.encoder.cell=gru")) == 0
    model = tmp_path / "sweep" / "cell-gru-s1"
    assert main(["plot", "--model", str(model)]) == 0
    assert (model / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert main(["plot", "--model", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip()
    assert "metrics.jsonl: not found" in err and err.count("\n") == 0


def test_the_curves_put_whole_epochs_on_the_axis():
    from seqlab import plots

    history = [{"epoch": e, "loss": 1.0 / e, "dev_f1": 0.5 + e / 10, "best": True} for e in (1, 2, 3)]
    fig = plots.curves_figure("three epochs", history)
    fig.canvas.draw()
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    plots.pyplot().close(fig)
