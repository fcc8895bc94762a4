"""seqlab.nn.dropout: inverted dropout with a mask from 32-bit random integers on the CPU."""
from __future__ import annotations

import math

import pytest
import torch

from seqlab.nn.dropout import Dropout, dropout


def test_outside_training_and_at_zero_it_is_the_input_itself():
    x = torch.randn(3, 4)
    assert dropout(x, 0.5, False) is x
    assert dropout(x, 0.0, True) is x
    module = Dropout(0.3).eval()
    assert module(x) is x and "p=0.3" in repr(module)


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9])
def test_keep_rate_is_one_minus_p_within_binomial_noise_and_kept_values_are_rescaled(p):
    torch.manual_seed(0)
    n = 400_001  # odd: the last 64-bit draw is only half used
    x = torch.rand(n) + 0.5  # no zeros, so a zero output is a dropped value
    y = dropout(x, p, True)
    kept = y != 0
    rate = kept.double().mean().item()
    assert abs(rate - (1 - p)) < 5 * math.sqrt(p * (1 - p) / n)
    scale = y[kept] / x[kept]
    assert torch.allclose(scale, torch.full_like(scale, 1 / (1 - p)), rtol=1e-6)


def test_the_expectation_is_the_input():
    """Averaged over many masks, y = x: the kept values are divided by the keep probability."""
    torch.manual_seed(1)
    x = torch.randn(64, dtype=torch.float64)
    total = torch.zeros_like(x)
    draws = 20_000
    for _ in range(draws):
        total += dropout(x, 0.5, True)
    standard_error = x.abs() / math.sqrt(draws)  # each draw is x·(0 or 2): standard deviation |x|
    assert ((total / draws - x).abs() < 5 * standard_error + 1e-12).all()


def test_neighbouring_values_are_dropped_independently():
    """Two values come from one 64-bit draw: their masks must not be correlated."""
    torch.manual_seed(2)
    n = 200_000
    kept = (dropout(torch.ones(n), 0.5, True) != 0).double()
    pairs = kept.view(-1, 2)
    same_draw = torch.corrcoef(pairs.t())[0, 1].item()
    next_draw = torch.corrcoef(torch.stack([kept[1:-1:2], kept[2::2]]))[0, 1].item()
    bound = 5 / math.sqrt(n / 2)
    assert abs(same_draw) < bound and abs(next_draw) < bound


def test_gradient_is_the_mask_times_the_scale_and_shape_and_dtype_are_kept():
    torch.manual_seed(3)
    x = torch.randn(5, 7, 3, requires_grad=True)
    y = dropout(x, 0.25, True)
    y.backward(torch.ones_like(y))
    expected = (y != 0).float() / 0.75
    assert y.shape == x.shape and torch.allclose(x.grad, expected)
    half = dropout(torch.randn(4, 9, dtype=torch.bfloat16), 0.5, True)
    assert half.dtype == torch.bfloat16 and half.shape == (4, 9)


def test_a_seed_reproduces_the_mask_and_successive_calls_differ():
    x = torch.ones(1000)
    torch.manual_seed(4)
    first, second = dropout(x, 0.5, True), dropout(x, 0.5, True)
    torch.manual_seed(4)
    again = dropout(x, 0.5, True)
    assert torch.equal(first, again) and not torch.equal(first, second)


def test_probabilities_next_to_one_and_to_zero_round_to_dropping_and_keeping_everything():
    x = torch.randn(10)
    assert torch.equal(dropout(x, 1.0 - 1e-12, True), torch.zeros_like(x))
    assert torch.equal(dropout(x, 1e-11, True), x)  # 1 − p rounds to 1: the threshold would overflow int32
