"""The CRF against brute force: every tag sequence enumerated with itertools.product."""
from __future__ import annotations

import itertools

import pytest
import torch

from seqlab.errors import ModelError
from seqlab.nn.crf import CRF


def random_instance(seed: int, num_tags: int = 4, batch: int = 3, max_len: int = 5):
    gen = torch.Generator().manual_seed(seed)
    crf = CRF(num_tags)
    with torch.no_grad():
        for p in crf.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    lengths = torch.randint(1, max_len + 1, (batch,), generator=gen)
    lengths[0] = max_len
    emissions = torch.randn(batch, max_len, num_tags, generator=gen)
    mask = torch.arange(max_len).unsqueeze(0) < lengths.unsqueeze(1)
    tags = torch.randint(0, num_tags, (batch, max_len), generator=gen) * mask
    return crf, emissions, tags, mask, lengths


def brute_scores(crf: CRF, emissions: torch.Tensor, length: int) -> dict[tuple[int, ...], float]:
    start, trans, end = (t.detach() for t in crf.scores())
    out = {}
    for path in itertools.product(range(crf.num_tags), repeat=length):
        score = start[path[0]] + end[path[-1]] + sum(emissions[t, path[t]] for t in range(length))
        score = score + sum(trans[path[t - 1], path[t]] for t in range(1, length))
        out[path] = float(score)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_nll_decode_and_marginals_match_enumeration(seed):
    crf, emissions, tags, mask, lengths = random_instance(seed)
    nll = crf.nll(emissions, tags, mask)
    decoded = crf.decode(emissions, mask)
    marginals = crf.marginals(emissions, mask)
    for b in range(emissions.shape[0]):
        n = int(lengths[b])
        scores = brute_scores(crf, emissions[b], n)
        log_z = torch.logsumexp(torch.tensor(list(scores.values()), dtype=torch.float64), 0)
        gold = tuple(tags[b, :n].tolist())
        assert float(nll[b].detach()) == pytest.approx(float(log_z) - scores[gold], abs=1e-4)
        best = max(scores, key=scores.get)
        assert tuple(decoded[b, :n].tolist()) == best
        assert decoded[b, n:].eq(0).all()
        expected = torch.zeros(n, crf.num_tags, dtype=torch.float64)
        for path, s in scores.items():
            p = torch.exp(torch.tensor(s, dtype=torch.float64) - log_z)
            for t, y in enumerate(path):
                expected[t, y] += p
        assert torch.allclose(marginals[b, :n].double(), expected, atol=1e-5)


def test_padding_does_not_change_results():
    crf, emissions, tags, mask, lengths = random_instance(7, batch=4, max_len=6)
    nll, decoded = crf.nll(emissions, tags, mask), crf.decode(emissions, mask)
    for b in range(4):
        n = int(lengths[b])
        alone = (emissions[b : b + 1, :n], tags[b : b + 1, :n], mask[b : b + 1, :n])
        assert torch.allclose(crf.nll(*alone), nll[b : b + 1], atol=1e-5)
        assert torch.equal(crf.decode(alone[0], alone[2])[0], decoded[b, :n])


def test_gradcheck_float64():
    crf, emissions, tags, mask, _ = random_instance(3, num_tags=3, batch=2, max_len=4)
    crf = crf.double()
    emissions = emissions.double().requires_grad_()
    assert torch.autograd.gradcheck(lambda e: crf.nll(e, tags, mask), (emissions,))


def test_forbidden_transitions_are_never_decoded_and_have_zero_marginal():
    allowed = torch.ones(3, 3, dtype=torch.bool)
    allowed[0, 1] = False  # tag 1 may never follow tag 0
    start = torch.tensor([True, False, True])  # no sentence starts with tag 1
    crf = CRF(3, allowed=allowed, allowed_start=start)
    emissions = torch.randn(5, 7, 3)
    emissions[:, :, 1] += 5.0  # tag 1 is tempting everywhere
    mask = torch.ones(5, 7, dtype=torch.bool)
    paths = crf.decode(emissions, mask)
    assert (paths[:, 0] != 1).all()
    assert not ((paths[:, :-1] == 0) & (paths[:, 1:] == 1)).any()
    assert torch.all(crf.marginals(emissions, mask)[:, 0, 1] == 0)


def test_gold_tags_of_another_shape_are_refused():
    """(The input checks every head shares: tests/test_heads.py.)"""
    crf = CRF(3)
    with pytest.raises(ModelError, match=r"CRF: expected tags of shape \(2, 4\), got \(2, 3\)"):
        crf.nll(torch.zeros(2, 4, 3), torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ModelError, match="num_tags >= 1"):
        CRF(0)


@pytest.mark.parametrize("seed", range(5))
def test_nbest_returns_the_top_k_enumerated_paths_in_order(seed):
    crf, emissions, _, mask, lengths = random_instance(seed, num_tags=3, batch=3, max_len=4)
    k = 5
    with torch.no_grad():
        paths, scores = crf.decode_nbest(emissions, mask, k)
    assert paths.shape == (3, k, 4) and scores.shape == (3, k)
    for b in range(3):
        n = int(lengths[b])
        ranked = sorted(brute_scores(crf, emissions[b], n).items(), key=lambda kv: -kv[1])
        available = min(k, len(ranked))
        got = [tuple(paths[b, r, :n].tolist()) for r in range(available)]
        assert len(set(got)) == available
        log_z = torch.logsumexp(torch.tensor([v for _, v in ranked], dtype=torch.float64), 0)
        for r in range(available):
            assert float(scores[b, r]) == pytest.approx(ranked[r][1] - float(log_z), abs=1e-4)  # log-probabilities
            assert brute_scores(crf, emissions[b], n)[got[r]] == pytest.approx(ranked[r][1], abs=1e-4)
        assert torch.isinf(scores[b, available:]).all()
    assert torch.equal(paths[:, 0], crf.decode(emissions, mask))


def test_segment_probability_matches_enumeration():
    crf, emissions, _, mask, lengths = random_instance(11, num_tags=3, batch=2, max_len=5)
    segments = torch.tensor([[0, 1, 3, 2, 0, 1], [1, 0, 1, 1, 0, 0], [0, 4, 1, 2, 0, 0]])
    got = crf.segment_log_probs(emissions, mask, segments).exp().detach()
    for row, (b, s, n, *pattern) in enumerate(segments.tolist()):
        scores = brute_scores(crf, emissions[b], int(lengths[b]))
        log_z = torch.logsumexp(torch.tensor(list(scores.values()), dtype=torch.float64), 0)
        mass = sum(torch.exp(torch.tensor(v, dtype=torch.float64) - log_z) for p, v in scores.items() if list(p[s : s + n]) == pattern[:n])
        assert float(got[row]) == pytest.approx(float(mass), abs=1e-5)


def test_constrained_loss_has_finite_gradients_with_one_token_sentences_in_the_batch():
    from seqlab.data.schemes import transition_masks

    names = ["O", "B-A", "I-A", "E-A", "S-A"]
    crf = CRF(len(names), *transition_masks(names, "bioes"))
    emissions = torch.randn(3, 5, len(names), requires_grad=True)
    mask = torch.tensor([[True] * 5, [True, False, False, False, False], [True, True, False, False, False]])
    tags = torch.tensor([[1, 2, 3, 0, 4], [4, 0, 0, 0, 0], [0, 4, 0, 0, 0]])
    crf.nll(emissions, tags, mask).sum().backward()
    assert torch.isfinite(emissions.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in crf.parameters())


@pytest.mark.parametrize("lengths", [[7, 7, 7], [7, 5, 6], [7, 1, 4], [1, 1, 1]])
def test_log_partition_is_the_masked_recursion_at_every_step_values_and_gradients(lengths):
    """The shortcut for the steps every sentence takes changes nothing: the recursion with
    ``torch.where`` at every step (written out here) gives the same numbers, bit for bit."""
    from seqlab.nn.chain import log_partition, step_scores

    def every_step(emissions, mask, start, transitions, end):
        steps = step_scores(emissions, mask, transitions, hold_padding=False)
        live = mask[:, 1:].t().unsqueeze(1)
        alpha = (start + emissions[:, 0]).t()
        for t, step in enumerate(steps):
            alpha = torch.where(live[t], torch.logsumexp(alpha.unsqueeze(1) + step, dim=0), alpha)
        return torch.logsumexp(alpha + end.unsqueeze(1), dim=0)

    gen = torch.Generator().manual_seed(len(lengths) + sum(lengths))
    size = torch.tensor(lengths)
    mask = torch.arange(max(lengths)).unsqueeze(0) < size.unsqueeze(1)  # (3, L)
    results = []
    for fn in (log_partition, every_step):
        emissions = torch.randn(3, max(lengths), 5, generator=gen.manual_seed(1)).requires_grad_()
        scores = [torch.randn(shape, generator=gen).requires_grad_() for shape in ((5,), (5, 5), (5,))]
        log_z = fn(emissions, mask, *scores)
        (log_z * torch.tensor([1.0, -2.0, 0.5])).sum().backward()
        results.append([log_z.detach(), emissions.grad, *(s.grad for s in scores)])
    assert all(a is b is None or torch.equal(a, b) for a, b in zip(*results))  # one-token batches: no transition gradient


def test_marginals_and_segment_probabilities_never_exceed_one():
    """exp(α + β − log Z) rounds above 1 for near-certain tags with large scores (1.0001 here before the
    clamp; the service reported probs of 1.000008); a probability is at most 1."""
    from seqlab.nn.chain import chain_marginals, chain_segment_log_probs

    torch.manual_seed(0)
    batch, length, tags = 64, 40, 9
    emissions = torch.randn(batch, length, tags) * 8
    mask = torch.ones(batch, length, dtype=torch.bool)
    scores = (torch.randn(tags), torch.randn(tags, tags) * 3, torch.randn(tags))
    probs = chain_marginals(emissions, mask, *scores)
    assert float(probs.max()) <= 1.0
    torch.testing.assert_close(probs.sum(dim=2), torch.ones(batch, length), atol=1e-3, rtol=0)
    best = probs.argmax(dim=2)  # (B, L)
    segments = torch.stack([torch.arange(batch), torch.zeros(batch, dtype=torch.long), torch.ones(batch, dtype=torch.long), best[:, 0]], dim=1)
    assert float(chain_segment_log_probs(emissions, mask, *scores, segments).max()) <= 0.0
