"""Sum-product over a linear chain of tag scores: the step scores, the forward and backward recursions,
``log Z``, token marginals and the probability of a tag segment.

A chain over ``T`` tags scores a sequence ``y_1 … y_n`` of a sentence with emissions ``E`` as

    s(y) = start[y_1] + Σ_t E[t, y_t] + Σ_{t>1} A[y_{t-1}, y_t] + end[y_n]

(``A`` is ``transitions[from, to]``) and ``p(y | x) = exp s(y) / Z`` with ``Z = Σ_{y'} exp s(y')``. The CRF's
chain has learned scores; the constrained softmax head's chain has 0/−inf scores over log-probabilities.
The max-product counterparts (Viterbi, n-best) are ``seqlab.nn.decode``.

Shapes: ``B`` batch, ``L`` padded length, ``T`` number of tags; ``mask`` is a ``(B, L)`` bool prefix mask
(lengths), every sentence non-empty.
"""
from __future__ import annotations

import torch

from seqlab.capture import capturing


def step_scores(emissions: torch.Tensor, mask: torch.Tensor, transitions: torch.Tensor, hold_padding: bool = True) -> torch.Tensor:
    """Scores of every step ``t-1 → t``, ``M[t-1, i, j, b] = A[i, j] + E[b, t, j]``, ``(L-1, T, T, B)``.

    At a padding step ``M`` is the log of the identity (0 where ``i = j``, ``-inf`` elsewhere), so the
    recursions carry each sentence's last real value through the padding without a per-step mask: one
    ``add`` and one reduction per time step, whatever the lengths in the batch. The recursions keep
    their state as ``(T, B)`` and reduce over the leading (previous-tag) dimension, which on the CPU is a
    cheap elementwise pass over contiguous rows and yields the next state in the same layout.
    With ``hold_padding=False`` padding steps keep the ordinary scores (the caller masks them).
    """
    batch, num_tags = emissions.shape[0], emissions.shape[2]
    emit = emissions[:, 1:].permute(1, 2, 0).contiguous().unsqueeze(1)  # (L-1, 1, T, B)
    steps = transitions.view(1, num_tags, num_tags, 1) + emit  # (L-1, T, T, B)
    if not hold_padding:
        return steps
    live = mask[:, 1:].t().reshape(-1, 1, 1, batch)  # (L-1, 1, 1, B)
    hold = torch.full((num_tags, num_tags, 1), float("-inf"), device=emissions.device, dtype=emissions.dtype)  # (T, T, 1)
    hold[:, :, 0].fill_diagonal_(0.0)
    return torch.where(live, steps, hold)


def path_score(emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """``s(y)`` of the given tag sequences ``tags (B, L)``, ``(B,)``."""
    lengths = mask.sum(1)  # (B,)
    emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, L)
    score = start[tags[:, 0]] + (emitted * mask).sum(1)  # (B,)
    if tags.shape[1] > 1:
        moves = transitions[tags[:, :-1], tags[:, 1:]]  # (B, L-1)
        score = score + moves.masked_fill(~mask[:, 1:], 0.0).sum(1)
    last = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)  # (B,)
    return score + end[last]


def log_partition(emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """``log Z`` per sentence, ``(B,)``.

    This is the recursion training differentiates, so padding is handled by keeping the previous
    ``α`` (``torch.where``) rather than by identity steps: an identity step over a tag that is
    impossible at that point (``α = -inf``) would be a ``logsumexp`` of only ``-inf``, whose gradient
    is NaN even where it is multiplied by zero. The first ``min(lengths) − 1`` steps, which every
    sentence takes, skip the ``torch.where`` (the same values and gradients, a fifth less time forward
    and backward at batch 10); a captured graph keeps it at every step.
    """
    steps = step_scores(emissions, mask, transitions, hold_padding=False)  # (L-1, T, T, B)
    live = mask[:, 1:].t().unsqueeze(1)  # (L-1, 1, B)
    shared = 0 if capturing() else int(mask.sum(dim=1).min()) - 1  # steps every sentence takes
    alpha = (start + emissions[:, 0]).t()  # (T, B)
    for t, step in enumerate(steps):
        moved = torch.logsumexp(alpha.unsqueeze(1) + step, dim=0)  # (T, B)
        alpha = moved if t < shared else torch.where(live[t], moved, alpha)
    return torch.logsumexp(alpha + end.unsqueeze(1), dim=0)


def forward_scores(emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor) -> torch.Tensor:
    """Forward variables ``α_t(y) = log Σ exp s(prefix ending in y at t)``, ``(L, B, T)``; at padding
    positions ``α`` repeats the last real position's value."""
    alpha = (start + emissions[:, 0]).t()  # (T, B)
    alphas = [alpha]
    for step in step_scores(emissions, mask, transitions):
        alpha = torch.logsumexp(alpha.unsqueeze(1) + step, dim=0)  # (T, B)
        alphas.append(alpha)
    return torch.stack(alphas).transpose(1, 2)  # (L, B, T)


def backward_scores(emissions: torch.Tensor, mask: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Backward variables ``β_t(y) = log Σ exp s(suffix after y at t)`` (end score included), ``(L, B, T)``;
    ``β`` equals ``end`` at each sentence's last token (and at padding)."""
    steps = step_scores(emissions, mask, transitions)  # (L-1, T, T, B)
    beta = end.unsqueeze(1).expand(emissions.shape[2], emissions.shape[0])  # (T, B)
    betas = [beta]
    for t in range(steps.shape[0] - 1, -1, -1):
        beta = torch.logsumexp(steps[t] + beta.unsqueeze(0), dim=1)  # (T, B)
        betas.append(beta)
    return torch.stack(betas[::-1]).transpose(1, 2)  # (L, B, T)


def chain_marginals(emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """``p(y_t = y | x)`` of a linear chain by forward–backward, ``(B, L, T)``; 0 at padding."""
    alphas = forward_scores(emissions, mask, start, transitions)  # (L, B, T)
    betas = backward_scores(emissions, mask, transitions, end)  # (L, B, T)
    log_z = torch.logsumexp(alphas[-1] + end, dim=1)  # (B,)
    probs = torch.exp(alphas + betas - log_z.unsqueeze(1)).transpose(0, 1)  # (B, L, T)
    return probs.clamp(max=1.0) * mask.unsqueeze(2)  # α + β − log Z rounds a little above 0 for a near-certain tag


def chain_segment_log_probs(
    emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor, segments: torch.Tensor
) -> torch.Tensor:
    """``log p(pattern at s … s+n-1 | x)`` of a linear chain (``segments`` as ``segment_log_probs`` takes them), ``(N,)``."""
    alphas = forward_scores(emissions, mask, start, transitions)  # (L, B, T)
    betas = backward_scores(emissions, mask, transitions, end)  # (L, B, T)
    log_z = torch.logsumexp(alphas[-1] + end, dim=1)  # (B,)
    return segment_log_probs(emissions, transitions, alphas, betas, log_z, segments)


def segment_log_probs(
    emissions: torch.Tensor,
    transitions: torch.Tensor,
    alphas: torch.Tensor,
    betas: torch.Tensor,
    log_z: torch.Tensor,
    segments: torch.Tensor,
) -> torch.Tensor:
    """``log p(y_s … y_{s+n-1} = pattern | x)`` for tag segments, given the forward and backward variables.

    ``segments`` is ``(N, 3 + P)`` long: batch row, start position ``s``, segment length ``n``, then the
    ``n`` tags of the pattern (padded to ``P`` with any tag id). For each segment the result is
    ``α_s(y_s) + Σ_{t=s+1}^{s+n-1} (A[y_{t-1}, y_t] + E[t, y_t]) + β_{s+n-1}(y_{s+n-1}) − log Z``, ``(N,)``.
    """
    rows, starts, lengths = segments[:, 0], segments[:, 1], segments[:, 2]  # (N,) each
    patterns = segments[:, 3:]  # (N, P)
    first = patterns[:, 0]  # (N,)
    score = alphas[starts, rows, first]  # (N,)
    for offset in range(1, patterns.shape[1]):
        live = offset < lengths  # (N,)
        pos = (starts + offset).clamp(max=emissions.shape[1] - 1)  # (N,)
        prev, cur = patterns[:, offset - 1], patterns[:, offset]
        step = transitions[prev, cur] + emissions[rows, pos, cur]  # (N,)
        score = score + torch.where(live, step, torch.zeros_like(step))
    last_pos = starts + lengths - 1  # (N,)
    last = patterns.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)  # (N,)
    return (score + betas[last_pos, rows, last] - log_z[rows]).clamp(max=0.0)  # a probability, rounding kept ≤ 1
