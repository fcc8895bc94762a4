from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seqlab.config.settings import Config, dump_config, load_config
from seqlab.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_when_no_file():
    assert load_config(None) == Config()


def test_nested_values_are_read(tmp_path):
    config = load_config(write(tmp_path, "model:\n  encoder:\n    cell: gru\n    hidden: 7\ntrain:\n  lr: 1\n"))
    assert config.model.encoder.cell == "gru"
    assert config.model.encoder.hidden == 7
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float)


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        Config().seed = 3  # type: ignore[misc]


def test_unknown_key_names_dotted_path_file_and_suggestion(tmp_path):
    path = write(tmp_path, "model:\n  encoder:\n    cel: gru\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "model.encoder.cel" in message and "did you mean 'model.encoder.cell'" in message and str(path) in message


def test_every_problem_is_reported_together(tmp_path):
    path = write(tmp_path, "sed: 1\nmodel:\n  encoder:\n    cell: transformer\n    hidden: -3\ntrain:\n  lr: fast\n  clip_grad_norm: true\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    problems = err.value.problems
    assert len(problems) == 5
    joined = " ".join(problems)
    for key in ("'sed'", "model.encoder.cell", "model.encoder.hidden", "train.lr", "train.clip_grad_norm"):
        assert key in joined


def test_boolean_typo_is_an_error_not_false(tmp_path):
    with pytest.raises(ConfigError, match="model.encoder.bidirectional"):
        load_config(write(tmp_path, "model:\n  encoder:\n    bidirectional: ture\n"))


def test_out_of_range_dropout(tmp_path):
    with pytest.raises(ConfigError, match=r"model.embedding.dropout.*out of range"):
        load_config(write(tmp_path, "model:\n  embedding:\n    dropout: 1.0\n"))


def test_section_must_be_mapping(tmp_path):
    with pytest.raises(ConfigError, match="'model.encoder': expected a mapping"):
        load_config(write(tmp_path, "model:\n  encoder: lstm\n"))


def test_overrides_are_typed_and_validated(tmp_path):
    path = write(tmp_path, "train:\n  epochs: 3\n")
    config = load_config(path, ["train.epochs=9", "model.encoder.bidirectional=false", "train.clip_grad_norm=null"])
    assert config.train.epochs == 9
    assert config.model.encoder.bidirectional is False
    assert config.train.clip_grad_norm is None
    with pytest.raises(ConfigError, match="did you mean 'train.epochs'"):
        load_config(path, ["train.epoch=9"])


def test_override_without_equals_sign():
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(None, ["train.epochs"])


def test_override_through_a_value(tmp_path):
    with pytest.raises(ConfigError, match="'seed' is a value, not a section"):
        load_config(write(tmp_path, "seed: 1\n"), ["seed.x=1"])


def test_invalid_yaml_names_line(tmp_path):
    with pytest.raises(ConfigError, match=r"invalid YAML at line 2"):
        load_config(write(tmp_path, "a: 1\nb: c: d\n"))


def test_missing_file():
    with pytest.raises(ConfigError, match="file not found"):
        load_config("/nonexistent/x.yaml")


def test_top_level_must_be_mapping(tmp_path):
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        load_config(write(tmp_path, "- 1\n- 2\n"))


def test_bad_device():
    with pytest.raises(ConfigError, match="train.device"):
        load_config(None, ["train.device=gpu"])


def test_dump_round_trips(tmp_path):
    config = load_config(None, ["model.encoder.cell=rnn", "train.patience=null", "data.train=x.conll"])
    again = load_config(write(tmp_path, dump_config(config)))
    assert again == config


def test_shipped_configs_load_round_trip_and_their_apple_data_exists(tmp_path):
    paths = sorted((ROOT / "configs").glob("*.yaml"))
    assert len(paths) >= 8
    for path in paths:
        config = load_config(path)
        assert config != load_config(None), path  # every shipped config sets something
        saved = tmp_path / path.name
        saved.write_text(dump_config(config), encoding="utf-8")
        assert load_config(saved) == config, path
        for split in (config.data.train, config.data.dev, config.data.test):
            if split and split.startswith("data/"):
                assert (ROOT / split).is_file(), f"{path.name}: {split} missing"


def test_apple_configs_differ_only_in_the_documented_key():
    def leaves(path: str) -> dict:
        raw = yaml.safe_load(dump_config(load_config(ROOT / "configs" / path)))
        raw.pop("output_dir")
        return raw

    lstm = leaves("apple_lstm.yaml")
    for cell in ("rnn", "gru", "none"):
        other = leaves(f"apple_{cell}.yaml")
        assert other["model"]["encoder"].pop("cell") == cell
        lstm_copy = yaml.safe_load(yaml.safe_dump(lstm))
        lstm_copy["model"]["encoder"].pop("cell")
        assert other == lstm_copy
    uni = leaves("apple_lstm_uni.yaml")
    assert uni["model"]["encoder"].pop("bidirectional") is False
    lstm["model"]["encoder"].pop("bidirectional")
    assert uni == lstm


def test_yaml_as_people_write_it_and_values_that_cannot_be_right(tmp_path):
    path = write(tmp_path, "train:\n  lr: 1e-3\n  weight_decay: 5E-5\n")
    config = load_config(path)
    assert config.train.lr == 0.001 and config.train.weight_decay == 5e-5  # YAML 1.1 reads 1e-3 as a string
    for value in (".nan", ".inf", "-.inf", "1e300"):
        with pytest.raises(ConfigError, match=rf"--set train.lr={value}: 'train.lr': expected a finite number"):
            load_config(path, [f"train.lr={value}"])


def test_an_override_error_names_the_override_not_only_the_file(tmp_path):
    path = write(tmp_path, "seed: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path, ["model.encdoer.cell=gru", "train.lr=fast"])
    assert err.value.problems == [
        "--set model.encdoer.cell=gru: unknown key 'model.encdoer'; did you mean 'model.encoder'?",
        "--set train.lr=fast: 'train.lr': expected float, got 'fast'",
    ]


def test_aliases_are_refused_and_long_values_are_cut_in_messages(tmp_path):
    bomb = write(tmp_path, "a: &a [x, x, x]\nb: &b [*a, *a, *a]\ndata: *b\n")
    with pytest.raises(ConfigError, match=r"aliases \(\*a\) are not allowed"):
        load_config(bomb)
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "seed: [" + ", ".join(["123456789"] * 1000) + "]\n"))
    assert len(str(err.value)) < 200


def test_a_config_file_without_output_dir_writes_to_runs_and_its_name(tmp_path):
    assert load_config(write(tmp_path, "seed: 3\n", name="my_ner.yaml")).output_dir == "runs/my_ner"
    assert load_config(None).output_dir == "runs/model"


def test_a_config_with_only_the_data_paths_trains_with_the_measured_recipe(tiny_data, tmp_path):
    """The built-in defaults are the recipe of docs/recipes.md, and it learns a corpus given nothing else."""
    from seqlab.train.run import train

    config = load_config(None, [f"data.{split}={path}" for split, path in tiny_data.items()] + [f"output_dir={tmp_path / 'm'}"])
    train_, embedding = config.train, config.model.embedding
    assert (train_.optimizer, train_.lr, train_.lr_decay, train_.loss_reduction, train_.clip_grad_norm, train_.patience) == ("adam", 0.002, 0.05, "mean", 5.0, 10)
    assert (embedding.dropout, embedding.word_dropout, embedding.char.kind, embedding.init, config.model.encoder.dropout) == (0.5, 0.05, "cnn", "uniform", 0.5)
    result = train(config, progress=False)
    assert result.test is not None and result.test.f1 > 0.8, result.test


def test_the_metric_follows_the_tags_unless_given(tiny_data, tmp_path):
    """``train.metric: auto``: span F1 for span tags, token accuracy for plain labels; the saved config holds it."""
    from seqlab.train.prepare import prepare_run
    from tests.test_init_config import TINY_CONLLU

    spans = prepare_run(load_config(None, [f"data.train={tiny_data['train']}"])).config
    labels = prepare_run(load_config(None, [f"data.train={TINY_CONLLU}", "data.format=conllu"])).config
    given = prepare_run(load_config(None, [f"data.train={TINY_CONLLU}", "data.format=conllu", "train.metric=f1"])).config
    assert (spans.train.metric, labels.train.metric, given.train.metric) == ("f1", "accuracy", "f1")
    assert labels.data.tag_scheme == "none"


@pytest.mark.parametrize("text", [
    "model:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 600)),  # 600 nested mappings
    "[" * 3000 + "]" * 3000,  # 3,000 nested lists: the parser itself recursed too deep
    "a: " + "[" * 40 + "]" * 40,
])
def test_deeply_nested_yaml_is_one_config_error_not_a_recursion_error(tmp_path, text):
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML: nested deeper than 32 levels"):
        load_config(path)


def test_a_fifo_or_a_device_as_the_config_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "c.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="c.yaml: not a regular file"):
        load_config(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config("/dev/zero")


def test_a_learning_rate_no_optimiser_survives_is_out_of_range():
    """``train.lr=1e38`` with Adam overflowed inside ``optimizer.step`` (a traceback)."""
    with pytest.raises(ConfigError, match=r"'train.lr'.*out of range"):
        load_config(None, ["train.lr=1e38"])
    assert load_config(None, ["train.lr=100"]).train.lr == 100
