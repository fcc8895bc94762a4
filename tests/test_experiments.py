"""``seqlab experiment``: the quick suite end to end (structure and sanity of its results, not verdicts),
the long-range task, the measures against independent computations, and the YAML errors."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch

from seqlab.cli.main import main
from seqlab.data.batches import collate
from seqlab.errors import ConfigError
from seqlab.experiments import EXPERIMENTS, SWEEPS, shipped_configs
from seqlab.experiments.measures import gradient_by_distance, last_token_accuracy
from seqlab.experiments.settings import load_experiment, parse_experiment
from seqlab.experiments.tasks import KEYS, QUERY, long_range_sentences
from seqlab.tagger.inference import Tagger

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = shipped_configs()


def finite_numbers(value) -> bool:
    """Every number in a JSON tree is finite (the writer turns NaN/inf into null, allowed for failed runs)."""
    if isinstance(value, dict):
        return all(finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(finite_numbers(v) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return math.isfinite(value)
    return True


@pytest.fixture(scope="module")
def quick_suite(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("experiments")
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("elsewhere"))  # the experiments need nothing from the working directory
    try:
        assert main(["-q", "experiment", "all", "--quick", "--out", str(out)]) == 0
    finally:
        os.chdir(cwd)
    return out


def test_quick_suite_writes_every_experiment(quick_suite, capsys):
    assert not list(quick_suite.glob("long-range-budget"))  # the sweep takes hours: never part of all
    for name in [n for n in EXPERIMENTS if n not in SWEEPS]:
        payload = json.loads((quick_suite / name / "results.json").read_text(encoding="utf-8"))
        assert payload["experiment"] == name and payload["quick"] is True and payload["seeds"] == 1
        assert payload["verdicts"], name
        for row in payload["verdicts"]:
            assert set(row) == {"claim", "measured", "verdict"}
            assert row["verdict"] in ("held", "did not hold", "n/a")
        assert list(quick_suite.glob(f"{name}/*.png")), f"{name}: no figure"
        for figure in quick_suite.glob(f"{name}/*.png"):
            assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_quick_results_are_complete_and_consistent_with_the_data(quick_suite):
    """Every field of every experiment's results, in range; the figures that follow from the data alone
    (the apple test set's majority share, the encoders' parameter counts) equal an independent count."""
    load = lambda name: json.loads((quick_suite / name / "results.json").read_text(encoding="utf-8"))["results"]  # noqa: E731
    context = load("context")
    assert set(context["variants"]) == {"none", "rnn", "lstm", "gru"}
    assert all(0 <= a <= 1 for v in context["variants"].values() for a in v["apple_accuracy"])
    apple = ROOT / "data" / "apple"
    meta = [json.loads(line) for line in (apple / "test.meta.jsonl").read_text(encoding="utf-8").splitlines()]
    senses = [m["sense"] for m in meta if m["apple"] is not None]
    assert context["majority_share"] == max(senses.count("food"), senses.count("org")) / len(senses)
    long_range = load("long-range")
    assert long_range["distances"] == [5, 20]
    for variant in long_range["variants"].values():
        assert set(variant["accuracy"]) == {"5", "20"} and all(0 <= a <= 1 for v in variant["accuracy"].values() for a in v)
        assert set(variant["epochs"]) == {"5", "20"} and all(1 <= e <= 2 for v in variant["epochs"].values() for e in v)  # quick: 2 epochs
    assert isinstance(long_range["failed_runs"], list)
    vanishing = load("vanishing")
    for variant in vanishing["variants"].values():
        assert len(variant["init"]) == len(variant["trained"]) == vanishing["distance"] + 2
        assert all(g >= 0 and math.isfinite(g) for g in variant["init"] + variant["trained"])
    exploding = load("exploding")
    for variant in exploding["variants"].values():
        assert len(variant["grad_norm_curves"][0]) == len(variant["loss_curves"][0]) >= 1
    gates = load("gates")
    assert gates["apple_means"] and all(0 <= v <= 1 for t in gates["apple_means"].values() for g in t.values() for v in g.values())
    judged = sum(len(e["models"]) for e in gates["long_range"].values())
    assert judged + len(gates["unsolved"]) == 2  # quick: lstm and gru, one seed each, solved or listed
    rows = load("lstm-vs-gru")["rows"]
    assert {(r["task"], r["cell"], r["impl"]) for r in rows} == {(t, c, i) for t in ("long-range T=5", "apple") for c in ("lstm", "gru") for i in ("fused", "scratch")}
    lstm, gru = (next(r for r in rows if r["task"] == "apple" and r["cell"] == c and r["impl"] == "fused") for c in ("lstm", "gru"))
    assert gru["encoder_parameters"] * 4 == lstm["encoder_parameters"] * 3  # 3 vs 4 gate blocks, same shapes
    assert all(s > 0 for r in rows for s in r["sents_per_s"])
    assert all(u is None or u % 1 == 0 and u > 0 for r in rows if r["impl"] == "fused" for u in r["updates_to_target"])
    assert finite_numbers(load("init-and-relu"))


def test_long_range_sentences_are_decided_by_the_first_token_only():
    sentences = long_range_sentences(200, 7, seed=0)
    assert sentences == long_range_sentences(200, 7, seed=0)
    assert sentences != long_range_sentences(200, 7, seed=1)
    for s in sentences:
        assert len(s.tokens) == 9 and s.tokens[-1] == QUERY and s.tokens[0] in KEYS
        assert s.tags == (KEYS[s.tokens[0]],) + ("O",) * 7 + (KEYS[s.tokens[0]],)
        assert not set(s.tokens[1:-1]) & set(KEYS)
    share = sum(s.tokens[0] == "alpha" for s in sentences) / len(sentences)
    assert 0.35 < share < 0.65


@pytest.fixture(scope="module")
def long_range_model(tmp_path_factory) -> tuple[Tagger, list]:
    from seqlab.config.settings import load_config
    from seqlab.experiments.tasks import write_long_range
    from seqlab.train.run import train

    directory = tmp_path_factory.mktemp("lr")
    paths = write_long_range(directory / "data", 6, {"train": 200, "dev": 50, "test": 50})
    overrides = [f"data.{k}={v}" for k, v in paths.items()] + ["train.epochs=2", "model.encoder.cell=gru"]
    train(load_config(CONFIGS / "long_range_base.yaml", overrides), directory / "model", progress=False)
    return Tagger.load(directory / "model"), long_range_sentences(50, 6, seed=2)


def test_last_token_accuracy_counts_the_query_only(long_range_model):
    tagger, sentences = long_range_model
    predicted = tagger.predict_tokens([s.tokens for s in sentences])
    expected = sum(p[-1] == s.tags[-1] for p, s in zip(predicted, sentences)) / len(sentences)
    assert last_token_accuracy(tagger, sentences) == expected


def test_gradient_by_distance_matches_one_sentence_autograd(long_range_model):
    tagger, sentences = long_range_model
    curve = gradient_by_distance(tagger, tagger.model, sentences[:1])
    # Independent: the model's own emissions path, the embedding output caught by a forward hook.
    model = tagger.model.eval()
    batch = collate(tagger.encode_tokens([sentences[0].tokens]), [0])
    captured = {}

    def keep(module, inputs, output):
        output.retain_grad()
        captured["x"] = output

    handle = model.embedding.register_forward_hook(keep)
    emissions = model.emissions(batch)  # (1, n, T)
    handle.remove()
    gold = tagger.bundle.vocabs.tags.index[sentences[0].tags[-1]]
    emissions[0, -1].log_softmax(0)[gold].backward()
    norms = captured["x"].grad[0].norm(dim=1).flip(0)  # (n,), index = steps back from the query
    assert torch.allclose(torch.tensor(curve), norms, rtol=1e-4, atol=1e-9)
    assert len(curve) == 8


def test_experiment_yaml_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_experiment("x", {"base": "b.yaml", "seeds": 0, "variantz": {}, "distances": [0]}, "x.yaml", quick=False)
    problems = " | ".join(err.value.problems)
    assert "unknown key 'variantz'" in problems and "'seeds': expected an integer >= 1" in problems
    assert "'distances'" in problems and "'variants': expected a non-empty mapping" in problems
    with pytest.raises(ConfigError, match="file not found"):
        load_experiment(tmp_path / "missing.yaml")
    config = load_experiment(CONFIGS / "long_range.yaml", quick=True, seeds=4)
    assert config.seeds == 4 and config.distances == (5, 20)


def test_unknown_experiment_is_a_one_line_error(capsys):
    assert main(["experiment", "vanishing-point", "--quick"]) == 1
    err = capsys.readouterr().err.strip()
    assert "unknown experiment 'vanishing-point'" in err and err.count("\n") == 0


def test_unit_gate_report_scores_the_query_as_the_tagger_does(long_range_model):
    from seqlab.experiments.gate_units import unit_gate_report

    tagger, sentences = long_range_model
    report = unit_gate_report(tagger, sentences, chance=0.5)
    assert report["accuracy"] == pytest.approx(last_token_accuracy(tagger, sentences))  # the head's arg-max = predict
    hidden = tagger.bundle.config.model.encoder.hidden
    assert set(report["gates"]) == {"update", "reset"} and all(len(v[w]) == hidden for v in report["gates"].values() for w in ("key", "filler"))
    assert len(report["ablation_curve"]) == hidden + 1 and report["ablation_curve"][-1] <= 1.0
    assert report["key_units"] == sorted(range(hidden), key=lambda j: -report["separation"][j])[: len(report["key_units"])]


def test_budget_sweep_quick_and_one_cell_rerun_gives_the_same_run(tmp_path):
    out = tmp_path / "sweep"
    assert main(["-q", "experiment", "long-range-budget", "--quick", "--out", str(out)]) == 0
    payload = json.loads((out / "long-range-budget" / "results.json").read_text(encoding="utf-8"))
    results = payload["results"]
    assert [v["verdict"] for v in payload["verdicts"]][: len(results["budgets"])] and results["budgets"] == ["100x2", "300x2"]
    assert len(results["conditions"]) == 2 * 5  # budgets × variants (one lr under --quick)
    assert results["figures"] == ["reach_gru.png", "reach_lstm.png", "reach_rnn-tanh.png"]
    for name in results["figures"]:
        assert (out / "long-range-budget" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cells = [json.loads(line) for line in (out / "long-range-budget" / "cells.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len({c["spec"] for c in cells}) == len(cells)
    first = cells[0]
    assert main(["-q", "experiment", "long-range-budget", "--quick", "--out", str(tmp_path / "again"), "--cell", first["spec"]]) == 0
    again = json.loads((tmp_path / "again" / "long-range-budget" / "results.json").read_text(encoding="utf-8"))["results"]["cell"]
    assert again["accuracy"] == first["accuracy"] and again["epochs"] == first["epochs"]  # a rerun trains the same run
    # A second invocation on the same --out trains nothing new.
    before = (out / "long-range-budget" / "cells.jsonl").read_text(encoding="utf-8")
    assert main(["-q", "experiment", "long-range-budget", "--quick", "--out", str(out)]) == 0
    assert (out / "long-range-budget" / "cells.jsonl").read_text(encoding="utf-8") == before


def test_cell_names_no_run_is_a_one_line_error(tmp_path, capsys):
    assert main(["experiment", "long-range-budget", "--quick", "--out", str(tmp_path), "--cell", "lstm/nothing"]) == 1
    err = capsys.readouterr().err
    assert "--cell 'lstm/nothing' names no run" in err and err.count("\n") == 1
    assert main(["experiment", "context", "--quick", "--out", str(tmp_path), "--cell", "x"]) == 1
    assert "--cell: only for long-range-budget" in capsys.readouterr().err


def test_corpus_data_cuts_the_training_file_and_names_a_missing_split(tmp_path):
    from seqlab.experiments.runner import Runner

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sentences = [f"w{k} O\nx{k} B-PER" for k in range(5)]
    (corpus / "train.txt").write_text("-DOCSTART- O\n\n" + "\n\n".join(sentences) + "\n", encoding="utf-8")
    (corpus / "dev.txt").write_text(sentences[0] + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"expected one file named test\.\*"):
        Runner(tmp_path / "out", echo=False).corpus_data(corpus, 3)
    (corpus / "test.txt").write_text(sentences[1] + "\n", encoding="utf-8")
    paths = Runner(tmp_path / "out", echo=False).corpus_data(corpus, 3)
    assert paths["dev"] == corpus / "dev.txt" and paths["test"] == corpus / "test.txt"
    assert paths["train"].read_text(encoding="utf-8") == "\n\n".join(sentences[:3]) + "\n"
