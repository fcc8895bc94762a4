"""The character-feature memo of inference: the same features as computing every batch, computed once
per spelling and set of weights, forgotten when the weights change, bounded."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seqlab.nn.embedding import CharCNN, CharLSTM, length_groups
from seqlab.nn.spelling_memo import SpellingMemo


def batch_of(words: list[list[int]], width: int) -> torch.Tensor:
    """Character ids ``(1, len(words), width)``, each word 0-padded at the end."""
    return torch.tensor([[w + [0] * (width - len(w)) for w in words]])


@pytest.mark.parametrize("make", [lambda: CharCNN(20, 6, 5, 3), lambda: CharLSTM(20, 6, 4)], ids=["cnn", "lstm"])
def test_the_memo_gives_what_each_batch_computes_and_computes_each_spelling_once(make):
    torch.manual_seed(0)
    cnn = make().eval()
    computed: list[int] = []
    features = cnn._features
    cnn._features = lambda flat: (computed.append(flat.shape[0]), features(flat))[1]
    batches = [batch_of([[3, 4, 5], [6, 7], [3, 4, 5], [9]], 4), batch_of([[6, 7], [3, 4, 5], [1, 2, 3, 4, 5, 6]], 7), batch_of([[9], [6, 7]], 2)]
    with torch.no_grad():
        remembered = [cnn(b) for b in batches]
        assert computed == [3, 1]  # the first batch's 3 spellings, then only the one new spelling; the last batch none
        cnn.memo.clear()
        cnn.train()  # training: no memo
        fresh = [cnn(b) for b in batches]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(remembered, fresh)) and not torch.equal(remembered[0][0, 0], remembered[0][0, 1])
    assert computed == [3, 1, 3, 3, 2]


def test_changed_weights_empty_the_memo():
    torch.manual_seed(1)
    cnn = CharCNN(20, 6, 5, 3).eval()
    chars = batch_of([[3, 4, 5], [6, 7]], 3)
    with torch.no_grad():
        before = cnn(chars)
        cnn.conv.weight.add_(0.5)  # an optimiser step writes in place
        after = cnn(chars)
        cnn.memo.clear()
        expected = cnn(chars)
    assert not torch.allclose(before, after) and torch.equal(after, expected)


def test_with_gradients_the_memo_is_not_used():
    cnn = CharCNN(20, 6, 5, 3).eval()
    cnn(batch_of([[3, 4, 5]], 3)).sum().backward()
    assert not len(cnn.memo) and cnn.conv.weight.grad is not None


def test_the_memo_stays_within_its_limit_and_handles_repeated_rows():
    memo = SpellingMemo(limit=5)
    compute = lambda flat: flat.float().sum(dim=1, keepdim=True).repeat(1, 2)  # noqa: E731  (N, 2)
    for start in range(0, 40, 3):
        spellings = torch.tensor([[start + 1, start + 2], [start + 1, start + 2], [start + 3, 0]])  # a repeated row: the memo sees every position of a batch
        out = memo.features(spellings, compute, stamp="w")
        assert torch.equal(out, compute(spellings)) and len(memo) <= 5


def _rowwise(flat: torch.Tensor) -> torch.Tensor:
    """A feature that tells every spelling apart: each character id times its position's weight, ``(N, 2)``."""
    weights = torch.arange(1, flat.shape[1] + 1, dtype=torch.float64)  # (C,)
    return torch.stack([(flat.double() * weights).sum(dim=1), (flat != 0).sum(dim=1).double()], dim=1)


def _random_batches(seed: int, count: int) -> list[torch.Tensor]:
    """Batches of random spellings (often repeated, some padding rows), each 0-padded to its own width."""
    rng = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(count):
        lengths = torch.randint(0, 6, (int(torch.randint(1, 30, (1,), generator=rng)),), generator=rng).tolist()
        width = max(lengths) + int(torch.randint(0, 3, (1,), generator=rng))
        rows = [torch.randint(1, 4, (n,), generator=rng).tolist() + [0] * (width - n) for n in lengths]
        batches.append(torch.tensor(rows, dtype=torch.long).reshape(len(rows), width))
    return batches


@pytest.mark.parametrize("limit", [3, 40, 10_000])
def test_the_memo_answers_what_computing_each_batch_gives(limit):
    memo = SpellingMemo(limit=limit)
    for spellings in _random_batches(3, 60):
        assert torch.equal(memo.features(spellings, _rowwise, stamp="w"), _rowwise(spellings)) and len(memo) <= limit


def test_a_shared_key_never_hands_out_another_spellings_feature(monkeypatch):
    import seqlab.nn.spelling_memo as spelling_memo

    monkeypatch.setattr(spelling_memo, "spelling_keys", lambda ids: (ids != 0).sum(axis=1).astype(np.uint64))  # every word of a length shares a key
    memo = SpellingMemo()
    for spellings in _random_batches(4, 40):
        assert torch.equal(memo.features(spellings, _rowwise, stamp="w"), _rowwise(spellings))


def test_a_spelling_has_one_key_at_every_padded_width():
    from seqlab.nn.spelling_memo import spelling_keys

    ids = np.array([[5, 2, 9, 0], [9, 2, 5, 0], [1, 0, 0, 0]])
    wider = np.pad(ids, ((0, 0), (0, 7)))
    assert np.array_equal(spelling_keys(ids), spelling_keys(wider)) and len(set(spelling_keys(ids).tolist())) == 3


def test_a_copied_model_starts_with_an_empty_memo():
    import copy
    import pickle

    cnn = CharCNN(20, 6, 5, 3).eval()
    with torch.no_grad():
        cnn(batch_of([[3, 4, 5]], 3))
    twin, thawed = copy.deepcopy(cnn), pickle.loads(pickle.dumps(cnn))
    assert len(cnn.memo) and not len(twin.memo) and not len(thawed.memo) and twin.memo.limit == cnn.memo.limit


@pytest.mark.parametrize("make", [lambda: CharCNN(30, 6, 5, 3), lambda: CharLSTM(30, 6, 4)], ids=["cnn", "lstm"])
def test_features_by_length_are_the_features_of_the_whole_batch(make):
    torch.manual_seed(2)
    module = make().eval()
    lengths = [1, 12, 3, 0, 3, 40, 2, 7, 7, 1, 25]  # one long word sets the width of all; a padding row
    flat = torch.tensor([[int(c) for c in torch.randint(1, 30, (n,))] + [0] * (40 - n) for n in lengths])  # (11, 40)
    with torch.no_grad():
        whole = module._features(flat)
        grouped = module._features_by_length(flat)
    assert torch.allclose(grouped, whole, atol=1e-6) and torch.equal(grouped[3], torch.zeros(module.output_dim))


def test_length_groups_find_the_cheapest_cut_found_by_brute_force():
    import itertools
    import random

    rng = random.Random(0)
    for _ in range(200):
        counts = sorted(rng.choice([0, 1, 2, 3, 5, 8, 13, 30]) for _ in range(rng.randint(1, 9)))
        call_cost = rng.choice([0, 1, 4, 20, 1000])

        def cost(groups):
            return sum((j - i) * max(counts[j - 1], 1) + call_cost for i, j in groups)

        best = min(
            cost(list(zip((0, *cuts), (*cuts, len(counts)))))
            for r in range(len(counts))
            for cuts in itertools.combinations(range(1, len(counts)), r)
        )
        groups = length_groups(counts, call_cost)
        assert groups[0][0] == 0 and groups[-1][1] == len(counts) and all(a[1] == b[0] for a, b in zip(groups, groups[1:]))
        assert cost(groups) == best
