"""The moving average of the weights (``train.ema_decay``): its formula against a direct computation, the
model it is applied to, what a run scores and keeps, and resuming with it."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from seqlab.config.settings import load_config
from seqlab.tagger.bundle import CONFIG, HISTORY, WEIGHTS, load_bundle
from seqlab.train.averaging import WeightAverage
from seqlab.train.checkpoint import read_checkpoint
from seqlab.train.run import resume, train
from tests.conftest import tiny_overrides


def test_the_average_follows_its_formula_step_by_step():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    frozen = nn.Parameter(torch.ones(2), requires_grad=False)
    model.register_parameter("frozen", frozen)
    average = WeightAverage(model, decay=0.9)
    assert set(average.shadow) == {"weight", "bias"}  # frozen parameters are not averaged
    expected = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    for t in range(1, 40):
        with torch.no_grad():
            for p in model.parameters():
                if p.requires_grad:
                    p.add_(torch.randn_like(p))
        average.update()
        d = min(0.9, (1 + t) / (10 + t))
        for name, p in model.named_parameters():
            if p.requires_grad:
                expected[name] = d * expected[name] + (1 - d) * p.detach()
    for name in expected:
        torch.testing.assert_close(average.shadow[name], expected[name], rtol=1e-5, atol=1e-6)


def test_applied_holds_the_average_inside_and_the_trained_weights_after():
    model = nn.Linear(4, 4)
    average = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        model.weight.add_(1.0)
    trained = model.weight.detach().clone()
    average.update()
    with average.applied():
        assert torch.equal(model.weight, average.shadow["weight"])
        assert not torch.equal(model.weight, trained)
    assert torch.equal(model.weight, trained)


def test_a_shadow_of_other_parameters_is_refused():
    with pytest.raises(ValueError, match="do not match"):
        WeightAverage(nn.Linear(2, 2), 0.9, {"weight": torch.zeros(2, 2)})


def test_a_run_scores_keeps_and_checkpoints_the_average(tiny_data, tmp_path):
    config = load_config(None, tiny_overrides(tiny_data, tmp_path / "m") + ["train.epochs=1", "train.ema_decay=0.99", "train.threads=1"])
    train(config, progress=False)
    checkpoint = read_checkpoint(tmp_path / "m")
    kept = load_file(str(tmp_path / "m" / WEIGHTS))
    assert checkpoint.average and checkpoint.average_updates > 0
    differs = False
    for name, value in checkpoint.average.items():
        assert torch.equal(kept[name], value)  # epoch 1 is the best: its average is what was kept
        differs |= not torch.equal(checkpoint.model[name], value)
    assert differs  # and the average is not the trained weights
    assert load_bundle(tmp_path / "m").config.train.ema_decay == 0.99


def test_resume_with_the_average_is_bit_identical(tiny_data, tmp_path):
    from torch.optim.optimizer import register_optimizer_step_post_hook

    overrides = ["train.epochs=3", "train.ema_decay=0.95", "train.threads=1", "train.patience=null", "train.checkpoint_every=2"]
    train(load_config(None, tiny_overrides(tiny_data, tmp_path / "whole") + overrides), progress=False)
    steps = [0]

    class Crash(Exception):
        pass

    def crash(optimizer, args, kwargs):
        steps[0] += 1
        if steps[0] == 7:
            raise Crash

    handle = register_optimizer_step_post_hook(crash)
    try:
        with pytest.raises(Crash):
            train(load_config(None, tiny_overrides(tiny_data, tmp_path / "crashed") + overrides), progress=False)
    finally:
        handle.remove()
    resume(tmp_path / "crashed", progress=False)
    rows = lambda d: [{k: v for k, v in json.loads(line).items() if k not in ("seconds", "train_sents_per_s")} for line in (d / HISTORY).read_text().splitlines()]  # noqa: E731
    assert rows(tmp_path / "whole") == rows(tmp_path / "crashed")
    whole, crashed = read_checkpoint(tmp_path / "whole"), read_checkpoint(tmp_path / "crashed")
    assert whole.average_updates == crashed.average_updates
    for name in whole.average:
        assert torch.equal(whole.average[name], crashed.average[name])


def test_a_model_saved_before_the_key_existed_loads_without_it(tiny_config, tmp_path):
    train(tiny_config.__class__(**{**tiny_config.__dict__, "train": tiny_config.train.__class__(**{**tiny_config.train.__dict__, "epochs": 1})}), progress=False)
    directory = tmp_path / "model"
    text = (directory / CONFIG).read_text()
    (directory / CONFIG).write_text("\n".join(line for line in text.splitlines() if "ema_decay" not in line) + "\n")
    assert load_bundle(directory).config.train.ema_decay is None


def test_a_run_saved_before_the_key_existed_resumes_as_it_was_trained(tiny_data, tmp_path):
    config = load_config(None, tiny_overrides(tiny_data, tmp_path / "m") + ["train.epochs=1", "train.threads=1", "train.ema_decay=null"])
    train(config, progress=False)
    text = (tmp_path / "m" / CONFIG).read_text()
    (tmp_path / "m" / CONFIG).write_text("\n".join(line for line in text.splitlines() if "ema_decay" not in line) + "\n")
    resume(tmp_path / "m", ["train.epochs=2"], progress=False)
    assert not read_checkpoint(tmp_path / "m").average  # trained without an average, resumed without one
