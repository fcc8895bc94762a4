"""seqlab active simulate on the tiny corpus: rounds reach their token shares, the uncertainty strategy
labels the sentences the previous model was least sure of, a killed run resumes to the same curve."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqlab.annotate.learner import score_pool
from seqlab.annotate.simulate import Plan, simulate, summary, targets, take
from seqlab.config.settings import load_config
from seqlab.errors import ConfigError
from seqlab.tagger.inference import Tagger
from tests.conftest import tiny_overrides, tiny_sentences, write_conll


def timeless(rounds: list[dict]) -> list[dict]:
    """Rounds without their wall time, which differs between two equal runs."""
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rounds]


def test_targets_end_exactly_at_until_and_take_stops_at_the_goal():
    assert targets(Plan(("random",), 0.1, 0.2, 0.5)) == pytest.approx([0.1, 0.3, 0.5])
    assert targets(Plan(("random",), 0.1, 0.25, 0.5)) == pytest.approx([0.1, 0.35, 0.5])
    assert take([3, 1, 2, 0], [5, 5, 5, 5], have=0, goal=7) == [3, 1]
    assert take([3, 1], [5, 5, 5, 5], have=7, goal=7) == []


def test_bad_plans_are_one_config_error_listing_every_problem(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"2 config problems: --strategy: unknown 'guess'.*expected 0 < start"):
        simulate(load_config(None, []), str(tmp_path / "x"), Plan(("guess",), 0.5, 0.1, 0.2), tmp_path)


@pytest.fixture
def setting(tmp_path: Path):
    data = {"train": write_conll(tmp_path / "pool.conll", tiny_sentences(40, 7)), "dev": write_conll(tmp_path / "dev.conll", tiny_sentences(10, 2)),
            "test": write_conll(tmp_path / "test.conll", tiny_sentences(10, 3))}
    config = load_config(None, [*tiny_overrides(data, tmp_path / "unused"), "train.epochs=2"])
    return config, str(data["train"])


def test_rounds_reach_their_shares_and_the_uncertainty_strategy_takes_the_least_sure_sentences(setting, tmp_path: Path):
    config, pool = setting
    out = tmp_path / "sim"
    plan = Plan(("random", "mnlp"), start=0.2, step=0.3, until=0.5, seeds=(1,))
    result = simulate(config, pool, plan, out, say=lambda _: None)
    for strategy in ("random", "mnlp"):
        rounds = result["curves"][strategy][1]
        assert [r["round"] for r in rounds] == [1, 2]
        assert rounds[0]["token_share"] >= 0.2 and rounds[1]["token_share"] >= 0.5
        assert all(r["test"] is not None and 0 <= r["test"] <= 1 for r in rounds)
    state = json.loads((out / "mnlp" / "seed1" / "state.json").read_text())["rounds"]
    assert set(state[0]["labelled"]) < set(state[1]["labelled"])  # round 2 keeps round 1's sentences and adds to them
    assert (out / "mnlp" / "seed1" / "round2").is_dir() and not (out / "mnlp" / "seed1" / "round1").exists()
    assert json.loads((out / "curve.json").read_text())["curves"]["mnlp"]["1"][1]["sentences"] == len(state[1]["labelled"])
    assert summary(result)["mnlp"][1][0] >= 0.5


def test_the_uncertainty_strategy_asks_for_the_highest_scores_first(setting, tmp_path: Path):
    """Round 2's new sentences are exactly the top of round 1's model's mnlp ranking of the rest."""
    config, pool = setting
    out = tmp_path / "sim"
    simulate(config, pool, Plan(("mnlp",), start=0.2, step=0.3, until=0.2, seeds=(1,)), out, say=lambda _: None)
    (out / "mnlp" / "seed1" / "round1").rename(tmp_path / "kept")  # the model round 2 will score with
    import shutil

    shutil.copytree(tmp_path / "kept", out / "mnlp" / "seed1" / "round1")
    state = json.loads((out / "mnlp" / "seed1" / "state.json").read_text())["rounds"]
    sentences = [s for s in tiny_sentences(40, 7)]
    rest = [i for i in range(40) if i not in set(state[0]["labelled"])]
    scores = score_pool(Tagger.load(tmp_path / "kept"), [sentences[i][0] for i in rest], "mnlp")
    simulate(config, pool, Plan(("mnlp",), start=0.2, step=0.3, until=0.5, seeds=(1,)), out, say=lambda _: None)
    added = json.loads((out / "mnlp" / "seed1" / "state.json").read_text())["rounds"][1]["labelled"][len(state[0]["labelled"]):]
    best_first = [i for _, i in sorted(zip([-s for s, _ in scores], rest))]
    assert added == best_first[: len(added)]


def test_a_killed_simulation_resumes_to_the_same_curve(setting, tmp_path: Path):
    config, pool = setting
    plan = Plan(("mnlp",), start=0.2, step=0.15, until=0.5, seeds=(1,))
    whole = simulate(config, pool, plan, tmp_path / "whole", say=lambda _: None)
    short = Plan(("mnlp",), start=0.2, step=0.15, until=0.35, seeds=(1,))
    simulate(config, pool, short, tmp_path / "parts", say=lambda _: None)  # stops after two rounds, as a kill would
    resumed = simulate(config, pool, plan, tmp_path / "parts", say=lambda _: None)
    assert len(whole["curves"]["mnlp"][1]) == 3
    assert timeless(resumed["curves"]["mnlp"][1]) == timeless(whole["curves"]["mnlp"][1])


def test_runs_given_disjoint_seeds_share_an_out_and_one_with_all_seeds_writes_the_whole_curve(setting, tmp_path: Path):
    config, pool = setting
    whole = simulate(config, pool, Plan(("random",), start=0.2, step=0.3, until=0.5, seeds=(1, 2)), tmp_path / "whole", say=lambda _: None)
    for seed in (2, 1):  # as two processes would, in any order
        part = simulate(config, pool, Plan(("random",), start=0.2, step=0.3, until=0.5, seeds=(seed,)), tmp_path / "parts", say=lambda _: None)
        assert list(part["curves"]["random"]) == [seed]
    said: list[str] = []
    joined = simulate(config, pool, Plan(("random",), start=0.2, step=0.3, until=0.5, seeds=(1, 2)), tmp_path / "parts", say=said.append)
    assert not [line for line in said if " round " in line]  # nothing retrained: every round is read back
    assert {seed: timeless(rounds) for seed, rounds in joined["curves"]["random"].items()} == \
        {seed: timeless(rounds) for seed, rounds in whole["curves"]["random"].items()} and len(joined["curves"]["random"][2]) == 2
    with pytest.raises(ConfigError, match="--seeds/--seed: expected distinct seeds of at least 1, got 2, 2"):
        simulate(config, pool, Plan(("random",), seeds=(2, 2)), tmp_path / "bad", say=lambda _: None)


@pytest.mark.parametrize("keys", [
    {"format": "conll", "token_column": 0, "tag_column": -1, "separator": "whitespace"},
    {"format": "conll", "token_column": 1, "tag_column": 3, "separator": "tab"},
    {"format": "conll", "token_column": -3, "tag_column": -1, "separator": "whitespace"},
    {"format": "jsonl"},
    {"format": "conllu", "conllu_tag": "xpos"},
])
def test_labelled_sentences_are_written_in_the_format_the_data_settings_read(tmp_path: Path, keys):
    import dataclasses

    from seqlab.annotate.learner import write_labelled
    from seqlab.config.settings import DataConfig
    from seqlab.data.readers import read_corpus

    sentences = [(tuple(w), tuple(t)) for w, t in tiny_sentences(5, 1)]
    data = dataclasses.replace(DataConfig(), **keys)
    path = write_labelled(tmp_path / "labelled", sentences, data)
    assert [(s.tokens, s.tags) for s in read_corpus(path, data)] == sentences


def test_rounds_train_round_epochs_and_the_final_model_the_configs_epochs_on_the_last_rounds_sentences(setting, tmp_path: Path):
    config, pool = setting
    out = tmp_path / "sim"
    plan = Plan(("mnlp",), start=0.2, step=0.3, until=0.5, seeds=(1,), round_epochs=1, final=True)
    result = simulate(config, pool, plan, out, say=lambda _: None)
    rounds, final = result["curves"]["mnlp"][1], result["final"]["mnlp"][1]
    assert [r["epochs"] for r in rounds] == [1, 1]
    assert final["epochs"] == config.train.epochs == 2
    assert (final["sentences"], final["tokens"], final["round"]) == (rounds[-1]["sentences"], rounds[-1]["tokens"], 2)
    assert (out / "mnlp" / "seed1" / "final").is_dir() and 0 <= final["test"] <= 1
    from seqlab.annotate.simulate import final_summary

    assert final_summary(result)["mnlp"] == pytest.approx((final["token_share"], final["test"], 0.0))


def test_a_shorter_plan_reads_a_longer_runs_rounds_and_its_final_takes_its_own_last_round(setting, tmp_path: Path):
    config, pool = setting
    out = tmp_path / "sim"
    longer = simulate(config, pool, Plan(("random",), start=0.2, step=0.15, until=0.5, seeds=(1,)), out, say=lambda _: None)
    state = (out / "random" / "seed1" / "state.json").read_bytes()
    said: list[str] = []
    shorter = simulate(config, pool, Plan(("random",), start=0.2, step=0.15, until=0.35, seeds=(1,), final=True), out, say=said.append)
    assert shorter["curves"]["random"][1] == longer["curves"]["random"][1][:2]
    assert not any("round" in line for line in said)  # nothing retrained
    assert (out / "random" / "seed1" / "state.json").read_bytes() == state
    assert shorter["final"]["random"][1]["sentences"] == longer["curves"]["random"][1][1]["sentences"]


def test_rounds_stored_by_another_plan_are_refused(setting, tmp_path: Path):
    config, pool = setting
    out = tmp_path / "sim"
    simulate(config, pool, Plan(("random",), start=0.2, step=0.15, until=0.35, seeds=(1,)), out, say=lambda _: None)
    with pytest.raises(ConfigError, match=r"state.json: round 2 was run for another plan"):
        simulate(config, pool, Plan(("random",), start=0.2, step=0.25, until=0.5, seeds=(1,)), out, say=lambda _: None)
    path = out / "random" / "seed1" / "state.json"
    stored = json.loads(path.read_text())
    for r in stored["rounds"]:
        del r["target"]  # as states written before rounds kept their target
    path.write_text(json.dumps(stored))
    with pytest.raises(ConfigError, match=r"round 1 was run for another plan"):
        simulate(config, pool, Plan(("random",), start=0.5, step=0.1, until=0.6, seeds=(1,)), out, say=lambda _: None)
    assert len(simulate(config, pool, Plan(("random",), start=0.2, step=0.15, until=0.5, seeds=(1,)), out, say=lambda _: None)["curves"]["random"][1]) == 3


def test_the_command_line_runs_rounds_with_round_epochs_and_prints_the_final_model(setting, tmp_path: Path, capsys):
    from seqlab.cli.main import main

    config, pool = setting
    overrides = [a for o in tiny_overrides({"train": Path(pool), "dev": Path(config.data.dev), "test": Path(config.data.test)}, tmp_path / "u")
                 for a in ("--set", o)]
    out = tmp_path / "cli"
    code = main(["active", "simulate", *overrides, "--set", "train.epochs=2", "--pool", pool, "--test", config.data.test, "--strategy", "mnlp",
                 "--start", "20%", "--step", "30%", "--until", "50%", "--seed", "1", "--round-epochs", "1", "--final", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "over seed(s) 1)" in printed and "final model, from scratch on the" in printed
    curve = json.loads((out / "curve.json").read_text())
    assert [r["epochs"] for r in curve["curves"]["mnlp"]["1"]] == [1, 1] and curve["final"]["mnlp"]["1"]["epochs"] == 2
    assert (out / "curve.png").is_file()


def test_a_state_whose_rounds_share_one_list_is_refused(setting, tmp_path: Path):
    """States written before each round kept a copy listed the last round's sentences in every round."""
    config, pool = setting
    out = tmp_path / "sim"
    simulate(config, pool, Plan(("random",), start=0.2, step=0.15, until=0.5, seeds=(1,)), out, say=lambda _: None)
    path = out / "random" / "seed1" / "state.json"
    stored = json.loads(path.read_text())
    for r in stored["rounds"]:
        r["labelled"] = stored["rounds"][-1]["labelled"]
    path.write_text(json.dumps(stored))
    with pytest.raises(ConfigError, match=r"round 1 lists \d+ labelled sentences for its \d+; the state cannot be resumed"):
        simulate(config, pool, Plan(("random",), start=0.2, step=0.15, until=0.35, seeds=(1,), final=True), out, say=lambda _: None)
