"""Every Viterbi backend (torch, NumPy, torch.scan, and the TorchScript compilation of the torch one)
against enumeration, with forbidden transitions and mixed lengths; the n-best list; ``decode_tags``."""
from __future__ import annotations

import itertools

import pytest
import torch

from seqlab.errors import ModelError
from seqlab.nn.decode import BACKENDS, decode_tags, viterbi, viterbi_nbest


def brute_scores(emissions, length, start, transitions, end) -> dict[tuple[int, ...], float]:
    """``s(y)`` of every tag sequence of one sentence, in float64."""
    e, s, a, z = (t.double() for t in (emissions, start, transitions, end))
    out = {}
    for path in itertools.product(range(e.shape[1]), repeat=length):
        score = s[path[0]] + e[0, path[0]] + z[path[-1]] + sum(a[path[t - 1], path[t]] + e[t, path[t]] for t in range(1, length))
        out[path] = float(score)
    return out


def instance(seed: int, num_tags: int = 4, batch: int = 5, max_len: int = 5, forbid: bool = True):
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, max_len + 1, (batch,), generator=gen)
    lengths[0], lengths[1] = max_len, 1
    emissions = torch.randn(batch, max_len, num_tags, generator=gen) * 3  # (B, L, T)
    start, transitions, end = torch.randn(num_tags, generator=gen), torch.randn(num_tags, num_tags, generator=gen), torch.randn(num_tags, generator=gen)
    if forbid:  # -inf entries, as constrained decoding has
        transitions[0, 1] = transitions[2, 2] = float("-inf")
        start[num_tags - 1] = end[1] = float("-inf")
    mask = torch.arange(max_len).unsqueeze(0) < lengths.unsqueeze(1)  # (B, L)
    return emissions, mask, lengths, start, transitions, end


class Scripted(torch.nn.Module):
    """``decode_tags`` with the torch backend inside a TorchScript program, as the export runs it."""

    def forward(self, emissions, mask, start, transitions, end):
        return decode_tags(emissions, mask, start, transitions, end, False, False, "torch")


@pytest.mark.parametrize("backend", [*BACKENDS, "torchscript"])
@pytest.mark.parametrize("forbid", [False, True])
def test_every_backend_finds_the_enumerated_best_path(backend, forbid):
    scripted = torch.jit.script(Scripted()) if backend == "torchscript" else None
    for seed in range(6):
        emissions, mask, lengths, start, transitions, end = instance(seed, forbid=forbid)
        if scripted is not None:
            paths = scripted(emissions, mask, start, transitions, end)
        else:
            paths = viterbi(emissions, mask, start, transitions, end, backend)
        for b, n in enumerate(lengths.tolist()):
            scores = brute_scores(emissions[b], n, start, transitions, end)
            assert tuple(paths[b, :n].tolist()) == max(scores, key=scores.get)
            assert paths[b, n:].eq(0).all()


def test_backends_agree_tag_for_tag_on_larger_batches():
    """The same arithmetic in every backend: identical paths, ties included (integer scores tie often)."""
    for seed in range(10):
        gen = torch.Generator().manual_seed(seed)
        emissions = torch.randint(-2, 3, (16, 12, 5), generator=gen).float()  # (B, L, T): many exact ties
        transitions = torch.randint(-1, 2, (5, 5), generator=gen).float()
        start, end = torch.zeros(5), torch.zeros(5)
        lengths = torch.randint(1, 13, (16,), generator=gen)
        mask = torch.arange(12).unsqueeze(0) < lengths.unsqueeze(1)
        paths = [viterbi(emissions, mask, start, transitions, end, backend) for backend in BACKENDS]
        assert all(torch.equal(paths[0], p) for p in paths[1:])


def test_unknown_backend_is_a_model_error():
    emissions, mask, _, start, transitions, end = instance(0)
    with pytest.raises(ModelError, match="unknown Viterbi backend 'gpu'"):
        viterbi(emissions, mask, start, transitions, end, "gpu")


@pytest.mark.parametrize("seed", range(4))
def test_nbest_lists_the_enumerated_paths_in_order(seed):
    emissions, mask, lengths, start, transitions, end = instance(seed, num_tags=3, max_len=4)
    k = 6
    paths, scores = viterbi_nbest(emissions, mask, start, transitions, end, k)
    assert paths.shape == (5, k, 4) and scores.shape == (5, k)
    for b, n in enumerate(lengths.tolist()):
        ranked = sorted((v, p) for p, v in brute_scores(emissions[b], n, start, transitions, end).items() if v > float("-inf"))[::-1]
        available = min(k, len(ranked))
        for r in range(available):
            assert float(scores[b, r]) == pytest.approx(ranked[r][0], abs=1e-4)
        assert len({tuple(paths[b, r, :n].tolist()) for r in range(available)}) == available
        assert torch.isinf(scores[b, available:]).all()
    assert torch.equal(paths[:, 0], viterbi(emissions, mask, start, transitions, end))


def test_decode_tags_independent_is_the_argmax_and_normalise_runs_on_log_probabilities():
    emissions, mask, lengths, start, transitions, end = instance(3)
    argmax = decode_tags(emissions, mask, start, transitions, end, normalise=True, independent=True)
    assert torch.equal(argmax, emissions.argmax(dim=2) * mask)
    chained = decode_tags(emissions, mask, start, transitions, end, normalise=True, independent=False)
    assert torch.equal(chained, viterbi(emissions.log_softmax(dim=2), mask, start, transitions, end))
