"""The scratch cells against torch's own ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (the oracle), and their options."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlab.config.settings import load_config
from seqlab.errors import ConfigError, ModelError
from seqlab.nn.cells import (
    ScratchRecurrent,
    gather_time,
    initialise_recurrent,
    reverse_index,
)
from seqlab.nn.encoder import RecurrentEncoder

TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
LENGTHS = torch.tensor([6, 3, 1, 5])  # mixed lengths, unsorted, one single-token sentence


def pair(cell: str, layers: int, bidirectional: bool, nonlinearity: str = "tanh", seed: int = 0):
    torch.manual_seed(seed)
    extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    fused = TORCH[cell](7, 5, num_layers=layers, bidirectional=bidirectional, batch_first=True, **extra)
    scratch = ScratchRecurrent(cell, 7, 5, layers, bidirectional, nonlinearity=nonlinearity)
    scratch.load_state_dict(fused.state_dict())  # same names and shapes: strict load
    return fused, scratch


def run_fused(fused: nn.Module, x: torch.Tensor, lengths: torch.Tensor):
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, state = fused(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    h_n, c_n = state if isinstance(state, tuple) else (state, None)
    return out, h_n, c_n


CASES = [(cell, layers, bi) for cell in TORCH for layers in (1, 2) for bi in (False, True)]


@pytest.mark.parametrize("cell,layers,bidirectional", CASES)
def test_outputs_final_states_and_gradients_match_torch(cell, layers, bidirectional):
    fused, scratch = pair(cell, layers, bidirectional)
    torch.manual_seed(1)
    x = torch.randn(4, 6, 7)
    mask = (torch.arange(6).unsqueeze(0) < LENGTHS.unsqueeze(1)).unsqueeze(2)  # (B, L, 1)
    x_fused, x_scratch = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_f, h_f, c_f = run_fused(fused, x_fused, LENGTHS)
    out_s, (h_s, c_s) = scratch(x_scratch, LENGTHS)
    assert out_s.shape == out_f.shape
    assert torch.allclose(out_s, out_f, atol=1e-5)
    assert torch.equal(out_s * ~mask, torch.zeros_like(out_s))  # 0 at padding, like pad_packed_sequence
    assert torch.allclose(h_s, h_f, atol=1e-5)
    if cell == "lstm":
        assert torch.allclose(c_s, c_f, atol=1e-5)
    else:
        assert c_s is None
    # One random linear functional of everything the layer returns, differentiated both ways.
    weights = torch.randn_like(out_f)
    loss_f = (out_f * weights).sum() + h_f.square().sum() + (c_f.sum() if c_f is not None else 0)
    loss_s = (out_s * weights).sum() + h_s.square().sum() + (c_s.sum() if c_s is not None else 0)
    loss_f.backward()
    loss_s.backward()
    assert torch.allclose(x_scratch.grad, x_fused.grad, atol=1e-5)
    grads_f = dict(fused.named_parameters())
    for name, param in scratch.named_parameters():
        assert torch.allclose(param.grad, grads_f[name].grad, atol=1e-5), name


@pytest.mark.parametrize("cell", list(TORCH))
def test_padding_never_changes_a_real_position(cell):
    _, scratch = pair(cell, 2, True)
    torch.manual_seed(2)
    x = torch.randn(4, 6, 7)
    noisy = x.clone()
    noisy[torch.arange(6).unsqueeze(0) >= LENGTHS.unsqueeze(1)] = 100.0  # garbage in every padded slot
    with torch.no_grad():
        clean_out, (clean_h, _) = scratch(x, LENGTHS)
        noisy_out, (noisy_h, _) = scratch(noisy, LENGTHS)
        alone, _ = scratch(x[1:2, :3], LENGTHS[1:2])  # sentence 1 without its batch or its padding
    assert torch.allclose(clean_out, noisy_out) and torch.allclose(clean_h, noisy_h)
    assert torch.allclose(alone[0], clean_out[1, :3], atol=1e-6)


def test_relu_rnn_matches_torch():
    fused, scratch = pair("rnn", 2, True, nonlinearity="relu")
    x = torch.randn(4, 6, 7)
    out_f, h_f, _ = run_fused(fused, x, LENGTHS)
    out_s, (h_s, _) = scratch(x, LENGTHS)
    assert torch.allclose(out_s, out_f, atol=1e-5) and torch.allclose(h_s, h_f, atol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_other_activations_follow_the_written_equations(cell):
    """With ``act = relu`` the cells equal a plain per-token loop over the equations (one sentence)."""
    torch.manual_seed(3)
    scratch = ScratchRecurrent(cell, 7, 5, nonlinearity="relu")
    x = torch.randn(1, 4, 7)
    U, W = scratch.weight_ih_l0, scratch.weight_hh_l0
    b_i, b_h = scratch.bias_ih_l0, scratch.bias_hh_l0
    h, c = torch.zeros(5), torch.zeros(5)
    expected = []
    for x_t in x[0]:
        a, b = U @ x_t + b_i, W @ h + b_h
        if cell == "lstm":
            i, f, g, o = (a + b).split(5)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.relu(g)
            h = torch.sigmoid(o) * torch.relu(c)
        else:
            r = torch.sigmoid(a[:5] + b[:5])
            z = torch.sigmoid(a[5:10] + b[5:10])
            n = torch.relu(a[10:] + r * b[10:])
            h = (1 - z) * n + z * h
        expected.append(h)
    with torch.no_grad():
        out, _ = scratch(x, torch.tensor([4]))
    assert torch.allclose(out[0], torch.stack(expected).detach(), atol=1e-6)


def test_dropout_acts_between_layers_only_in_training():
    fused, _ = pair("lstm", 2, True)
    scratch = ScratchRecurrent("lstm", 7, 5, 2, True, dropout=0.5)
    scratch.load_state_dict(fused.state_dict())
    x = torch.randn(4, 6, 7)
    with torch.no_grad():
        scratch.eval()
        out_eval, _ = scratch(x, LENGTHS)
        scratch.train()
        out_train, _ = scratch(x, LENGTHS)
    assert torch.allclose(out_eval, run_fused(fused, x, LENGTHS)[0], atol=1e-5)
    assert not torch.allclose(out_train, out_eval, atol=1e-3)
    one_layer = ScratchRecurrent("lstm", 7, 5, 1, True, dropout=0.5).train()
    with torch.no_grad():
        a, _ = one_layer(x, LENGTHS)
        b, _ = one_layer(x, LENGTHS)
    assert torch.equal(a, b)  # nothing between layers to drop with one layer


def test_reverse_index_reverses_within_each_length_and_is_an_involution():
    index = reverse_index(torch.tensor([3, 1, 4]), 4)
    assert index.tolist() == [[2, 1, 0, 3], [0, 1, 2, 3], [3, 2, 1, 0]]
    assert torch.equal(index.gather(1, index), torch.arange(4).expand(3, 4))


def test_gather_time_is_torch_gather_forward_and_backward():
    torch.manual_seed(0)
    index = reverse_index(torch.tensor([5, 2, 7, 1]), 7)  # (4, 7)
    x = torch.randn(4, 7, 3, requires_grad=True)
    weights = torch.randn(4, 7, 3)
    (gather_time(x, index) * weights).sum().backward()
    ours = x.grad.clone()
    x.grad = None
    reference = x.gather(1, index.unsqueeze(2).expand(-1, -1, 3))  # (4, 7, 3): out[b, t] = x[b, index[b, t]]
    (reference * weights).sum().backward()
    assert torch.equal(gather_time(x, index), reference)
    assert torch.equal(ours, x.grad)
    shuffled = torch.stack([torch.randperm(7) for _ in range(4)])  # any per-sentence reordering, not only reversal
    assert torch.equal(gather_time(x, shuffled), x.gather(1, shuffled.unsqueeze(2).expand(-1, -1, 3)))


@pytest.mark.parametrize("cell", list(TORCH))
def test_recorded_traces_are_the_states_and_gates(cell):
    _, scratch = pair(cell, 2, True)
    x = torch.randn(4, 6, 7)
    record: list = []
    with torch.no_grad():
        out, _ = scratch(x, LENGTHS, record=record)
    assert len(record) == 2
    last = record[1]
    expected = {"rnn": {"hidden"}, "lstm": {"hidden", "cell", "forget", "input", "output"}, "gru": {"hidden", "update", "reset"}}
    assert set(last) == expected[cell]
    for name, values in last.items():
        assert values.shape == (6, 2, 4, 5)
        if name not in ("hidden", "cell"):
            assert values.min() >= 0 and values.max() <= 1  # sigmoid gates
    # Forward direction's hidden trace is the output's first half at real positions.
    forward = last["hidden"][:, 0].transpose(0, 1)  # (B, L, H)
    mask = (torch.arange(6).unsqueeze(0) < LENGTHS.unsqueeze(1)).unsqueeze(2)
    assert torch.allclose(forward * mask, out[:, :, :5])
    # Backward direction's first step is each sentence's last token.
    for b, n in enumerate(LENGTHS.tolist()):
        assert torch.allclose(last["hidden"][0, 1, b], out[b, n - 1, 5:])


@pytest.mark.parametrize("impl", ["fused", "scratch"])
def test_recurrent_initialisations(impl):
    encoder = RecurrentEncoder("lstm", 7, 5, 2, True, 0.0, impl=impl, recurrent_init="orthogonal", forget_bias=1.0, input_bias=-3.0)
    for name, param in encoder.rnn.named_parameters():
        if name.startswith("weight_hh"):
            for block in param.detach().split(5):
                assert torch.allclose(block @ block.T, torch.eye(5), atol=1e-5)
        if name.startswith("bias_ih"):
            other = dict(encoder.rnn.named_parameters())[name.replace("bias_ih", "bias_hh")]
            assert torch.allclose((param + other)[5:10], torch.ones(5))  # b_f = 1
            assert torch.allclose((param + other)[0:5], torch.full((5,), -3.0))  # b_i = -3 (torch's order: i, f, g, o)
    # The gate the bias sets is the one torch computes: with b_i = -30 the fused LSTM writes nothing.
    closed = RecurrentEncoder("lstm", 7, 5, 1, False, 0.0, impl=impl, input_bias=-30.0)
    closed.eval()
    assert closed(torch.randn(2, 4, 7), torch.tensor([4, 4])).abs().max() < 1e-6
    rnn = RecurrentEncoder("rnn", 7, 5, 1, False, 0.0, nonlinearity="relu", impl=impl, recurrent_init="identity")
    assert torch.equal(rnn.rnn.weight_hh_l0.detach(), torch.eye(5))
    scaled = RecurrentEncoder("gru", 7, 5, 1, False, 0.0, impl=impl, recurrent_init="identity", recurrent_gain=3.0)
    assert torch.equal(scaled.rnn.weight_hh_l0.detach(), 3 * torch.eye(5).repeat(3, 1))


def test_initialisation_errors():
    with pytest.raises(ModelError, match="forget_bias and input_bias need the lstm cell"):
        initialise_recurrent(nn.GRU(3, 4), "gru", forget_bias=1.0)
    with pytest.raises(ModelError, match="forget_bias and input_bias need the lstm cell"):
        initialise_recurrent(nn.RNN(3, 4), "rnn", input_bias=-1.0)
    with pytest.raises(ModelError, match="unknown recurrent_init 'xavier'"):
        initialise_recurrent(nn.GRU(3, 4), "gru", recurrent_init="xavier")
    with pytest.raises(ModelError, match="unknown activation 'gelu'"):
        ScratchRecurrent("lstm", 3, 4, nonlinearity="gelu")
    with pytest.raises(ModelError, match="the fused lstm has no 'relu' activation"):
        RecurrentEncoder("lstm", 3, 4, 1, False, 0.0, nonlinearity="relu")


def test_config_rejects_options_the_cell_cannot_take():
    with pytest.raises(ConfigError) as err:
        load_config(None, ["model.encoder.cell=gru", "model.encoder.forget_bias=1.0", "model.encoder.nonlinearity=relu"])
    assert len(err.value.problems) == 2
    assert "'model.encoder.forget_bias': only the lstm cell has a forget gate" in err.value.problems[0]
    assert "the fused gru supports only tanh" in err.value.problems[1] and "impl=scratch" in err.value.problems[1]
    with pytest.raises(ConfigError, match="'model.encoder.input_bias': only the lstm cell has an input gate"):
        load_config(None, ["model.encoder.cell=rnn", "model.encoder.input_bias=-3"])
    config = load_config(None, ["model.encoder.impl=scratch", "model.encoder.nonlinearity=relu", "model.encoder.forget_bias=1"])
    assert config.model.encoder.forget_bias == 1.0
