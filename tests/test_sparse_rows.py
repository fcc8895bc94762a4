"""Sparse word-embedding gradients under plain SGD (``seqlab.train.prepare.sparse_rows``): the norm and clipping
of ``clip_gradients`` against torch's on the dense gradient, when the sparse path is taken, and whole
training runs against the dense path."""
from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from seqlab.config.settings import load_config
from seqlab.train import run as train_module
from seqlab.train.prepare import clip_gradients, prepare_run, sparse_rows
from seqlab.train.run import train
from tests.conftest import tiny_overrides


def _gradients(sparse: bool) -> list[nn.Parameter]:
    torch.manual_seed(0)
    emb = nn.Embedding(50, 6, sparse=sparse)
    linear = nn.Linear(6, 3)
    ids = torch.tensor([[1, 2, 2, 7], [7, 7, 3, 0]])  # repeated rows: the sparse gradient is uncoalesced
    linear(emb(ids)).square().sum().backward()
    return [emb.weight, linear.weight, linear.bias]


@pytest.mark.parametrize("max_norm", [float("inf"), 1e6, 0.5])
def test_clip_gradients_on_sparse_rows_matches_torch_on_dense(max_norm):
    dense, sparse = _gradients(False), _gradients(True)
    assert sparse[0].grad.is_sparse
    expected = float(nn.utils.clip_grad_norm_(dense, max_norm))
    assert clip_gradients(sparse, max_norm) == pytest.approx(expected, rel=1e-6)
    for d, s in zip(dense, sparse):
        got = s.grad.to_dense() if s.grad.is_sparse else s.grad
        assert torch.allclose(got, d.grad, atol=1e-6)


def test_clip_gradients_with_dense_gradients_is_torchs_bit_for_bit():
    ours, theirs = _gradients(False), _gradients(False)
    assert clip_gradients(ours, 0.5) == float(nn.utils.clip_grad_norm_(theirs, 0.5))
    assert all(torch.equal(a.grad, b.grad) for a, b in zip(ours, theirs))


@pytest.mark.parametrize(
    "overrides,distributed,expected",
    [
        (["train.optimizer=sgd"], False, True),
        (["train.optimizer=sgd"], True, False),
        (["train.optimizer=sgd", "train.momentum=0.9"], False, False),
        (["train.optimizer=sgd", "train.weight_decay=0.0001"], False, False),
        (["train.optimizer=adam"], False, False),
        (["train.optimizer=sgd", "model.embedding.dim=0", "model.embedding.char.kind=cnn"], False, False),
    ],
)
def test_sparse_rows_only_where_each_row_moves_by_its_own_gradient(tiny_data, tmp_path, overrides, distributed, expected):
    config = load_config(None, tiny_overrides(tiny_data, tmp_path / "m") + overrides)
    model = prepare_run(config).optimisation.model
    assert sparse_rows(model, config.train, distributed) is expected
    if model.embedding.words is not None:
        assert model.embedding.words.sparse is expected


def test_training_with_sparse_rows_gives_the_dense_runs_weights(tiny_data, tmp_path, monkeypatch):
    overrides = ["train.optimizer=sgd", "train.lr=0.1", "train.clip_grad_norm=1.0", "train.epochs=2", "train.loss_reduction=sum"]
    sparse = train(load_config(None, tiny_overrides(tiny_data, tmp_path / "sparse") + overrides), progress=False)
    monkeypatch.setattr(train_module, "sparse_rows", lambda model, train, distributed: False)
    dense = train(load_config(None, tiny_overrides(tiny_data, tmp_path / "dense") + overrides), progress=False)
    a, b = load_file(sparse.output_dir / "weights.safetensors"), load_file(dense.output_dir / "weights.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-5), name
    assert sparse.best_epoch == dense.best_epoch
