"""The softmax head against enumeration (with and without constraints), and what both heads share: the
interface, the summed loss, padding invariance, and the input checks. (The CRF alone: tests/test_crf.py.)"""
from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn import functional as F

from seqlab.data.schemes import transition_masks
from seqlab.errors import ModelError
from seqlab.nn.crf import CRF
from seqlab.nn.heads import HEADS, SoftmaxHead

NAMES = ["O", "B-A", "I-A", "E-A", "S-A"]


def instance(seed: int, batch: int = 3, max_len: int = 4):
    gen = torch.Generator().manual_seed(seed)
    emissions = torch.randn(batch, max_len, len(NAMES), generator=gen) * 2  # (B, L, T)
    lengths = torch.randint(1, max_len + 1, (batch,), generator=gen)
    lengths[0] = max_len
    mask = torch.arange(max_len).unsqueeze(0) < lengths.unsqueeze(1)  # (B, L)
    tags = torch.randint(0, len(NAMES), (batch, max_len), generator=gen) * mask
    return emissions, mask, lengths, tags


def allowed_paths(length: int, constrained: bool):
    allowed, start, end = transition_masks(NAMES, "bioes")
    for path in itertools.product(range(len(NAMES)), repeat=length):
        if not constrained or (start[path[0]] and end[path[-1]] and all(allowed[a, b] for a, b in zip(path, path[1:]))):
            yield path


def brute_distribution(emissions: torch.Tensor, length: int, constrained: bool) -> dict[tuple[int, ...], float]:
    """``p(y | x) ∝ Π_t softmax(E[t])[y_t]`` over the allowed sequences, in float64."""
    log_p = emissions[:length].double().log_softmax(dim=1)
    weights = {path: float(sum(log_p[t, y] for t, y in enumerate(path)).exp()) for path in allowed_paths(length, constrained)}
    total = sum(weights.values())
    return {path: w / total for path, w in weights.items()}


@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_softmax_decode_nbest_marginals_and_segments_match_enumeration(constrained, seed):
    head = SoftmaxHead(len(NAMES), *transition_masks(NAMES, "bioes")) if constrained else SoftmaxHead(len(NAMES))
    emissions, mask, lengths, _ = instance(seed)
    decoded = head.decode(emissions, mask)
    paths, log_probs = head.decode_nbest(emissions, mask, 3)
    marginals = head.marginals(emissions, mask)
    for b, n in enumerate(lengths.tolist()):
        dist = brute_distribution(emissions[b], n, constrained)
        ranked = sorted(dist.items(), key=lambda kv: -kv[1])
        assert tuple(decoded[b, :n].tolist()) == ranked[0][0]
        for r in range(min(3, len(ranked))):  # a one-token sentence has 2 valid BIOES sequences
            assert float(log_probs[b, r].exp()) == pytest.approx(ranked[r][1], abs=1e-5)
            assert dist[tuple(paths[b, r, :n].tolist())] == pytest.approx(ranked[r][1], abs=1e-5)
        expected = torch.zeros(n, len(NAMES), dtype=torch.float64)
        for path, p in dist.items():
            for t, y in enumerate(path):
                expected[t, y] += p
        assert torch.allclose(marginals[b, :n].double(), expected, atol=1e-5)
        segment = torch.tensor([[b, 0, 1, ranked[0][0][0], 0]])
        mass = sum(p for path, p in dist.items() if path[0] == ranked[0][0][0])
        assert float(head.segment_log_probs(emissions, mask, segment).exp()) == pytest.approx(mass, abs=1e-5)


@pytest.mark.parametrize("kind", sorted(HEADS))
def test_loss_is_the_sum_of_the_sentence_losses(kind):
    head = HEADS[kind](len(NAMES))
    emissions, mask, lengths, tags = instance(5)
    total = head.loss(emissions, tags, mask)
    alone = sum(head.loss(emissions[b : b + 1, :n], tags[b : b + 1, :n], mask[b : b + 1, :n]) for b, n in enumerate(lengths.tolist()))
    assert torch.allclose(total, alone, atol=1e-5)
    if kind == "softmax":  # an independent computation: torch's cross entropy over the real tokens
        assert torch.allclose(total, F.cross_entropy(emissions[mask], tags[mask], reduction="sum"), atol=1e-5)


@pytest.mark.parametrize("kind", sorted(HEADS))
def test_padding_a_sentence_into_a_batch_changes_nothing(kind):
    head = HEADS[kind](len(NAMES), *transition_masks(NAMES, "bioes"))
    emissions, mask, lengths, _ = instance(7, batch=4, max_len=6)
    decoded, marginals = head.decode(emissions, mask), head.marginals(emissions, mask)
    for b, n in enumerate(lengths.tolist()):
        assert torch.equal(head.decode(emissions[b : b + 1, :n], mask[b : b + 1, :n])[0], decoded[b, :n])
        assert torch.allclose(head.marginals(emissions[b : b + 1, :n], mask[b : b + 1, :n])[0], marginals[b, :n], atol=1e-5)


def test_the_unconstrained_softmax_decides_each_token_alone():
    head = SoftmaxHead(len(NAMES))
    emissions, mask, _, _ = instance(2)
    assert head.independent and not CRF(len(NAMES)).independent
    assert torch.equal(head.decode(emissions, mask), emissions.argmax(dim=2) * mask)
    assert torch.allclose(head.marginals(emissions, mask), emissions.softmax(dim=2) * mask.unsqueeze(2))


@pytest.mark.parametrize("kind", sorted(HEADS))
def test_every_head_checks_its_inputs(kind):
    head = HEADS[kind](3)
    with pytest.raises(ModelError, match=r"expected emissions of shape \(batch, seq, 3\)"):
        head.decode(torch.zeros(2, 4, 5), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ModelError, match="bool mask"):
        head.marginals(torch.zeros(2, 4, 3), torch.ones(2, 4))
    with pytest.raises(ModelError, match="at least one token"):
        head.decode(torch.zeros(2, 4, 3), torch.zeros(2, 4, dtype=torch.bool))
    with pytest.raises(ModelError, match="expected k >= 1"):
        head.decode_nbest(torch.zeros(2, 4, 3), torch.ones(2, 4, dtype=torch.bool), 0)
    with pytest.raises(ModelError, match="num_tags >= 1"):
        HEADS[kind](0)
