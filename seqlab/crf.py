"""Linear-chain conditional random field (Lafferty, McCallum & Pereira, 2001), batch-first.

For emissions ``E`` (``E[t, y]`` is the encoder's score of tag ``y`` at position ``t``) and a tag sequence
``y_1 … y_n`` the CRF scores

    s(y) = start[y_1] + Σ_t E[t, y_t] + Σ_{t>1} A[y_{t-1}, y_t] + end[y_n]

and defines ``p(y | x) = exp s(y) / Z`` with ``Z = Σ_{y'} exp s(y')`` over every tag sequence of the
sentence's length. ``A`` is ``transitions[from, to]``; the start and end scores are separate vectors,
so no START/STOP pseudo-tags enter the label set. Everything is computed in log space with
``torch.logsumexp``. A transition that the tag scheme forbids is fixed at ``-inf`` (not a large
negative sentinel), so it has probability exactly 0 in training, marginals and decoding.

Shapes: ``B`` batch, ``L`` padded length, ``T`` number of tags. ``mask`` is a ``(B, L)`` bool tensor,
True at real tokens, with every sentence non-empty and left-aligned (``mask[:, 0]`` all True).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from seqlab.errors import ModelError


class CRF(nn.Module):
    """A linear-chain CRF over ``num_tags`` tags.

    Args:
        num_tags: number of tags ``T``.
        allowed: optional ``(T, T)`` bool tensor, ``allowed[i, j]`` False when tag ``j`` may not follow ``i``.
        allowed_start: optional ``(T,)`` bool tensor, False for tags a sentence may not start with.
        allowed_end: optional ``(T,)`` bool tensor, False for tags a sentence may not end with.
    """

    def __init__(
        self,
        num_tags: int,
        allowed: torch.Tensor | None = None,
        allowed_start: torch.Tensor | None = None,
        allowed_end: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if num_tags < 1:
            raise ModelError(f"CRF: expected num_tags >= 1, got {num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))  # (T, T) [from, to]
        self.start = nn.Parameter(torch.empty(num_tags))  # (T,)
        self.end = nn.Parameter(torch.empty(num_tags))  # (T,)
        register_constraints(self, num_tags, allowed, allowed_start, allowed_end)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.transitions, -0.1, 0.1)
        nn.init.uniform_(self.start, -0.1, 0.1)
        nn.init.uniform_(self.end, -0.1, 0.1)

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"

    # ---------------------------------------------------------------------------------------- scores

    def scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(start, transitions, end)`` with forbidden entries set to ``-inf``."""
        neg_inf = float("-inf")
        start = self.start.masked_fill(~self.allowed_start, neg_inf)  # (T,)
        transitions = self.transitions.masked_fill(~self.allowed, neg_inf)  # (T, T)
        end = self.end.masked_fill(~self.allowed_end, neg_inf)  # (T,)
        return start, transitions, end

    def _check(self, emissions: torch.Tensor, mask: torch.Tensor, tags: torch.Tensor | None = None) -> None:
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise ModelError(f"CRF: expected emissions of shape (batch, seq, {self.num_tags}), got {tuple(emissions.shape)}")
        if mask.shape != emissions.shape[:2] or mask.dtype != torch.bool:
            raise ModelError(f"CRF: expected a bool mask of shape {tuple(emissions.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")
        if tags is not None and tags.shape != emissions.shape[:2]:
            raise ModelError(f"CRF: expected tags of shape {tuple(emissions.shape[:2])}, got {tuple(tags.shape)}")
        if emissions.shape[1] == 0 or not bool(mask[:, 0].all()):
            raise ModelError("CRF: every sentence must have at least one token (mask[:, 0] all True)")

    def path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``s(y)`` of the given tag sequences, ``(B,)``."""
        start, transitions, end = self.scores()
        lengths = mask.sum(1)  # (B,)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (B, L)
        score = start[tags[:, 0]] + (emitted * mask).sum(1)  # (B,)
        if tags.shape[1] > 1:
            moves = transitions[tags[:, :-1], tags[:, 1:]]  # (B, L-1)
            score = score + moves.masked_fill(~mask[:, 1:], 0.0).sum(1)
        last = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)  # (B,)
        return score + end[last]

    def forward_scores(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Forward variables ``α_t(y) = log Σ exp s(prefix ending in y at t)``, ``(L, B, T)``.

        At padding positions ``α`` repeats the last real position's value.
        """
        start, transitions, _ = self.scores()
        return forward_scores(emissions, mask, start, transitions)

    def backward_scores(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Backward variables ``β_t(y) = log Σ exp s(suffix after y at t)`` (end score included), ``(L, B, T)``.

        ``β`` equals ``end`` at each sentence's last token (and at padding).
        """
        _, transitions, end = self.scores()
        return backward_scores(emissions, mask, transitions, end)

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``log Z`` per sentence, ``(B,)``.

        This is the recursion training differentiates, so padding is handled by keeping the previous
        ``α`` (``torch.where``) rather than by identity steps: an identity step over a tag that is
        impossible at that point (``α = -inf``) would be a ``logsumexp`` of only ``-inf``, whose gradient
        is NaN even where it is multiplied by zero.
        """
        self._check(emissions, mask)
        start, transitions, end = self.scores()
        steps = step_scores(emissions, mask, transitions, hold_padding=False)  # (L-1, T, T, B)
        live = mask[:, 1:].t().unsqueeze(1)  # (L-1, 1, B)
        alpha = (start + emissions[:, 0]).t()  # (T, B)
        for t, step in enumerate(steps):
            alpha = torch.where(live[t], torch.logsumexp(alpha.unsqueeze(1) + step, dim=0), alpha)  # (T, B)
        return torch.logsumexp(alpha + end.unsqueeze(1), dim=0)

    # ------------------------------------------------------------------------------- public interface

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood ``log Z − s(y)`` of each gold sequence, ``(B,)``."""
        self._check(emissions, mask, tags)
        return self.log_partition(emissions, mask) - self.path_score(emissions, tags, mask)

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean over sentences of the negative log-likelihood (a scalar)."""
        return self.nll(emissions, tags, mask).mean()

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``p(y_t = y | x)`` by forward–backward, ``(B, L, T)``; rows at padding are 0."""
        self._check(emissions, mask)
        return chain_marginals(emissions, mask, *self.scores())

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The Viterbi (highest-scoring) tag sequence of each sentence, ``(B, L)`` long; 0 at padding."""
        self._check(emissions, mask)
        return viterbi(emissions, mask, *self.scores())

    def decode_nbest(self, emissions: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` highest-scoring distinct tag sequences, best first.

        Returns ``(paths (B, k, L), scores (B, k))``; ``scores`` are ``s(y)`` (subtract ``log_partition`` for
        log-probabilities). A sentence with fewer than ``k`` possible sequences gets ``-inf`` scores in the
        surplus rows. (A separate method rather than a ``nbest`` flag on ``decode``, so that each method has
        one return type.)
        """
        self._check(emissions, mask)
        if k < 1:
            raise ModelError(f"CRF: expected k >= 1 best paths, got {k}")
        return viterbi_nbest(emissions, mask, *self.scores(), k)

    def sequence_log_prob(self, emissions: torch.Tensor, mask: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
        """``log p(y_s … y_{s+n-1} = pattern | x)`` for tag segments, from the forward–backward quantities.

        ``segments`` is ``(N, 3 + P)`` long: batch row, start position ``s``, segment length ``n``, then the
        ``n`` tags of the pattern (padded to ``P`` with any tag id). For each segment the result is
        ``α_s(y_s) + Σ_{t=s+1}^{s+n-1} (A[y_{t-1}, y_t] + E[t, y_t]) + β_{s+n-1}(y_{s+n-1}) − log Z``, ``(N,)``.
        """
        self._check(emissions, mask)
        return chain_segment_log_probs(emissions, mask, *self.scores(), segments)


def register_constraints(
    module: nn.Module,
    num_tags: int,
    allowed: torch.Tensor | None,
    allowed_start: torch.Tensor | None,
    allowed_end: torch.Tensor | None,
) -> None:
    """Give ``module`` the bool buffers ``allowed (T, T)``, ``allowed_start (T,)``, ``allowed_end (T,)``
    (all True where None). They are not saved with the weights: they are rebuilt from the tag vocabulary
    and scheme."""
    ones = torch.ones(num_tags, dtype=torch.bool)
    allowed = torch.ones(num_tags, num_tags, dtype=torch.bool) if allowed is None else allowed
    allowed_start = ones if allowed_start is None else allowed_start
    allowed_end = ones if allowed_end is None else allowed_end
    if allowed.shape != (num_tags, num_tags) or allowed_start.shape != (num_tags,) or allowed_end.shape != (num_tags,):
        raise ModelError(f"expected constraint masks of shape ({num_tags}, {num_tags}) and ({num_tags},)")
    module.register_buffer("allowed", allowed.clone(), persistent=False)  # (T, T)
    module.register_buffer("allowed_start", allowed_start.clone(), persistent=False)  # (T,)
    module.register_buffer("allowed_end", allowed_end.clone(), persistent=False)  # (T,)


def forward_scores(emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor) -> torch.Tensor:
    """``α`` of the chain ``(start, transitions)`` over ``emissions``, ``(L, B, T)`` (see ``CRF.forward_scores``)."""
    alpha = (start + emissions[:, 0]).t()  # (T, B)
    alphas = [alpha]
    for step in step_scores(emissions, mask, transitions):
        alpha = torch.logsumexp(alpha.unsqueeze(1) + step, dim=0)  # (T, B)
        alphas.append(alpha)
    return torch.stack(alphas).transpose(1, 2)  # (L, B, T)


def backward_scores(emissions: torch.Tensor, mask: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """``β`` of the chain ``(transitions, end)`` over ``emissions``, ``(L, B, T)`` (see ``CRF.backward_scores``)."""
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
    return probs * mask.unsqueeze(2)


def chain_segment_log_probs(
    emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor, segments: torch.Tensor
) -> torch.Tensor:
    """``log p(pattern at s … s+n-1 | x)`` of a linear chain (see ``CRF.sequence_log_prob``), ``(N,)``."""
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
    """See ``CRF.sequence_log_prob``, given the forward and backward variables."""
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
    return score + betas[last_pos, rows, last] - log_z[rows]


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


def viterbi(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    start: torch.Tensor,
    transitions: torch.Tensor,
    end: torch.Tensor,
    host_backtrace: bool | None = None,
) -> torch.Tensor:
    """Max-product decoding of ``start[y_1] + Σ E[t, y_t] + Σ A[y_{t-1}, y_t] + end[y_n]``, ``(B, L)``.

    The forward pass keeps only the best scores ``δ_t(j) = max_i δ_{t-1}(i) + A[i, j] + E[t, j]`` (``amax``:
    on the CPU a reduction that also returns indices costs several times one that does not); each
    sentence's best last tag is read at its own last position. The backtrace then recovers
    ``y_{t-1} = argmax_i δ_{t-1}(i) + A[i, y_t] + E[t, y_t]`` only for the tags on the path
    (``_backtrace``; ``host_backtrace`` picks its NumPy or its torch form, by default NumPy on the CPU).
    ``mask`` must be a prefix mask (lengths); positions past a sentence's end are 0.
    """
    steps = step_scores(emissions, mask, transitions, hold_padding=False)  # (L-1, T, T, B)
    score = (start + emissions[:, 0]).t()  # (T, B)
    history = [score]
    for step in steps.unbind(0):
        score = (score.unsqueeze(1) + step).amax(dim=0)  # (T, B)
        history.append(score)
    deltas = torch.stack(history)  # (L, T, B)
    last = mask.sum(dim=1) - 1  # (B,)
    if host_backtrace is None:
        host_backtrace = emissions.device.type == "cpu"
    return _backtrace(deltas, steps, last, end, host_backtrace) * mask


def _backtrace(deltas: torch.Tensor, steps: torch.Tensor, last: torch.Tensor, end: torch.Tensor, host: bool) -> torch.Tensor:
    """Best paths ``(B, L)`` from the Viterbi scores ``deltas (L, T, B)``, step scores and last positions.

    With ``host`` it runs in NumPy on CPU tensors, whose per-call cost is a fraction of torch's at these
    sizes: per step one gather of the ``(T, B)`` scores that lead into the chosen tags and one argmax.
    Otherwise (the default on CUDA) all back-pointers are found by one batched max on the device and
    followed with one gather per step.
    Positions after a sentence's end hold its last tag (the caller masks them).
    """
    seq, num_tags, batch = deltas.shape
    final = deltas.gather(0, last.view(1, 1, batch).expand(1, num_tags, batch))[0] + end.unsqueeze(1)  # (T, B)
    best = final.argmax(dim=0)  # (B,)
    if host:
        delta_np, steps_np = deltas.detach().cpu().numpy(), steps.detach().cpu().numpy()
        last_np, best_np = last.cpu().numpy(), best.cpu().numpy()
        cols = np.arange(batch)
        out = np.empty((seq, batch), dtype=np.int64)  # (L, B)
        out[seq - 1] = current = best_np
        for t in range(seq - 2, -1, -1):
            back = (delta_np[t] + steps_np[t][:, current, cols]).argmax(axis=0)  # (B,)
            current = np.where(last_np == t, best_np, back)  # a sentence ending at t starts its trace here
            out[t] = current
        return torch.from_numpy(out).t().to(deltas.device)  # (B, L)
    pointers = (deltas[:-1].unsqueeze(2) + steps).max(dim=1).indices  # (L-1, T, B)
    current = best
    path = [current]
    for t in range(seq - 2, -1, -1):
        back = pointers[t].gather(0, current.unsqueeze(0)).squeeze(0)  # (B,)
        current = torch.where(last == t, best, back)
        path.append(current)
    return torch.stack(path[::-1], dim=1)  # (B, L)


def viterbi_nbest(
    emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """List Viterbi: the ``k`` best distinct paths per sentence, ``(B, k, L)``, and their scores ``(B, k)``.

    Each state ``(t, y)`` keeps its ``k`` best partial scores ``(B, T, k)``; a step takes the top ``k`` of
    the ``T·k`` extensions, remembering the (previous tag, previous rank) of each. Ties are broken by
    ``torch.topk``; distinct ranks always denote distinct paths.
    """
    emit = emissions.transpose(0, 1)  # (L, B, T)
    live = mask.transpose(0, 1)  # (L, B)
    batch, num_tags = emit.shape[1], emit.shape[2]
    neg_inf = torch.tensor(float("-inf"), device=emissions.device, dtype=emissions.dtype)
    score = torch.full((batch, num_tags, k), float("-inf"), device=emissions.device, dtype=emissions.dtype)  # (B, T, k)
    score[:, :, 0] = start + emit[0]
    keep_tag = torch.arange(num_tags, device=emissions.device).view(1, num_tags, 1).expand(batch, num_tags, k)  # (B, T, k)
    keep_rank = torch.arange(k, device=emissions.device).view(1, 1, k).expand(batch, num_tags, k)  # (B, T, k)
    back_tags, back_ranks = [], []
    for t in range(1, emit.shape[0]):
        # extensions[b, i*k + r, j]: rank-r path ending in i, then j
        ext = (score.unsqueeze(3) + transitions.view(1, num_tags, 1, num_tags)).reshape(batch, num_tags * k, num_tags)  # (B, T*k, T)
        top, arg = ext.topk(k, dim=1)  # (B, k, T) each
        new_score = top.transpose(1, 2) + emit[t].unsqueeze(2)  # (B, T, k)
        arg = arg.transpose(1, 2)  # (B, T, k)
        on = live[t].view(batch, 1, 1)  # (B, 1, 1)
        score = torch.where(on, new_score, score)
        back_tags.append(torch.where(on, arg // k, keep_tag))
        back_ranks.append(torch.where(on, arg % k, keep_rank))
    final = (score + end.view(1, num_tags, 1)).reshape(batch, num_tags * k)  # (B, T*k)
    best, arg = final.topk(min(k, num_tags * k), dim=1)  # (B, k)
    tag, rank = arg // k, arg % k  # (B, k) each
    rows = torch.arange(batch, device=emissions.device).unsqueeze(1).expand(batch, k)  # (B, k)
    path = [tag]
    for bt, br in zip(reversed(back_tags), reversed(back_ranks)):
        tag, rank = bt[rows, tag, rank], br[rows, tag, rank]
        path.append(tag)
    paths = torch.stack(path[::-1], dim=2)  # (B, k, L)
    best = torch.where(torch.isfinite(best), best, neg_inf)
    return paths * mask.unsqueeze(1), best
