"""The encoders: the fused modules run unpacked on the CPU (exact against torch's packed run, gradients
included), the full-batch shortcut, padding independence, interchangeable state dicts, ``none``, and the
family's error messages. (The scratch cells against torch: tests/test_cells.py.)"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from seqlab.errors import ModelError
from seqlab.nn.encoder import ENCODERS, NoEncoder, RecurrentEncoder, unpacked
from tests.test_cells import CASES, LENGTHS, TORCH, pair, run_fused


@pytest.mark.parametrize("cell", list(TORCH))
def test_encoder_state_dicts_are_interchangeable(cell):
    torch.manual_seed(4)
    fused = RecurrentEncoder(cell, 7, 5, 2, True, 0.0).eval()
    scratch = RecurrentEncoder(cell, 7, 5, 2, True, 0.0, impl="scratch").eval()
    assert list(fused.state_dict()) == list(scratch.state_dict())
    scratch.load_state_dict(fused.state_dict())
    x = torch.randn(4, 6, 7)
    mask = (torch.arange(6).unsqueeze(0) < LENGTHS.unsqueeze(1)).unsqueeze(2)
    with torch.no_grad():
        assert torch.allclose(fused(x, LENGTHS) * mask, scratch(x, LENGTHS) * mask, atol=1e-5)
        fused.load_state_dict(scratch.state_dict())  # and back


@pytest.mark.parametrize("cell,layers,bidirectional,nonlinearity", [*[(*case, "tanh") for case in CASES], ("rnn", 2, True, "relu")])
def test_unpacked_fused_run_equals_the_packed_one_with_gradients(cell, layers, bidirectional, nonlinearity):
    """``seqlab.nn.encoder.unpacked`` (per-direction calls on the padded batch) against torch's packed run."""
    fused, _ = pair(cell, layers, bidirectional, nonlinearity)
    torch.manual_seed(5)
    x = torch.randn(4, 6, 7)
    x[torch.arange(6).unsqueeze(0) >= LENGTHS.unsqueeze(1)] = 50.0  # garbage in the padding must not matter
    x_packed, x_unpacked = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_p, _, _ = run_fused(fused, x_packed, LENGTHS)
    out_u = unpacked(fused, x_unpacked, LENGTHS)
    weights = torch.randn_like(out_p)  # one random linear functional, differentiated both ways
    grads_p = torch.autograd.grad((out_p * weights).sum(), [x_packed, *fused.parameters()])
    grads_u = torch.autograd.grad((out_u * weights).sum(), [x_unpacked, *fused.parameters()])
    assert out_u.shape == out_p.shape and torch.allclose(out_u, out_p, atol=1e-5)  # 0 at padding as well
    for a, b in zip(grads_u, grads_p):
        assert torch.allclose(a, b, atol=1e-4), (a - b).abs().max()


def test_fused_encoder_on_cpu_gives_each_sentence_its_own_encoding():
    """The encoder's CPU path (unpacked) encodes a sentence the same alone as in a padded batch."""
    torch.manual_seed(7)
    encoder = RecurrentEncoder("lstm", 7, 5, 2, True, 0.0).eval()
    x = torch.randn(4, 6, 7)
    with torch.no_grad():
        batch = encoder(x, LENGTHS)
        for row, length in enumerate(LENGTHS.tolist()):
            alone = encoder(x[row : row + 1, :length], LENGTHS[row : row + 1])
            assert torch.allclose(batch[row, :length], alone[0], atol=1e-6)


@pytest.mark.parametrize("cell", list(TORCH))
def test_a_batch_that_needs_no_padding_takes_the_plain_call_and_gets_the_packed_result(cell):
    torch.manual_seed(8)
    encoder = RecurrentEncoder(cell, 7, 5, 1, True, 0.0).eval()
    x = torch.randn(3, 6, 7)
    full = torch.tensor([6, 6, 6])
    with torch.no_grad():
        expected, _, _ = run_fused(encoder.rnn, x, full)
        assert torch.allclose(encoder(x, full), expected, atol=1e-6)


def test_output_dropout_acts_only_in_training():
    torch.manual_seed(9)
    encoder = RecurrentEncoder("gru", 7, 5, 1, False, 0.5)
    x = torch.randn(2, 4, 7)
    lengths = torch.tensor([4, 4])
    encoder.eval()
    with torch.no_grad():
        assert torch.equal(encoder(x, lengths), encoder(x, lengths))
        encoder.train()
        dropped = encoder(x, lengths)
    assert (dropped == 0).float().mean() > 0.2 and encoder.output_dim == 5


def test_none_passes_each_token_through_unchanged():
    x = torch.randn(2, 3, 4)
    encoder = ENCODERS["none"](4, 99, 3, True, 0.5)
    assert isinstance(encoder, NoEncoder) and encoder.output_dim == 4
    assert encoder(x, torch.tensor([3, 1])) is x


def test_sizes_follow_hidden_and_directions():
    assert ENCODERS["lstm"](7, 5, 2, True, 0.0).output_dim == 10
    assert ENCODERS["rnn"](7, 5, 1, False, 0.0).output_dim == 5
    assert isinstance(ENCODERS["gru"](7, 5, 1, True, 0.0).rnn, nn.GRU)


def test_encoder_errors_name_the_option():
    with pytest.raises(ModelError, match="unknown encoder impl 'cuda'; expected fused or scratch"):
        RecurrentEncoder("lstm", 7, 5, 1, True, 0.0, impl="cuda")
    with pytest.raises(ModelError, match="the fused lstm has no 'relu' activation; use impl scratch"):
        RecurrentEncoder("lstm", 7, 5, 1, True, 0.0, nonlinearity="relu")
    with pytest.raises(ModelError, match="unknown recurrent cell 'tcn'"):
        RecurrentEncoder("tcn", 7, 5, 1, True, 0.0)
