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
        ones = torch.ones(num_tags, dtype=torch.bool)
        allowed = torch.ones(num_tags, num_tags, dtype=torch.bool) if allowed is None else allowed
        allowed_start = ones if allowed_start is None else allowed_start
        allowed_end = ones if allowed_end is None else allowed_end
        if allowed.shape != (num_tags, num_tags) or allowed_start.shape != (num_tags,) or allowed_end.shape != (num_tags,):
            raise ModelError(f"CRF: expected constraint masks of shape ({num_tags}, {num_tags}) and ({num_tags},)")
        # Buffers are not saved with the weights: they are rebuilt from the tag vocabulary and scheme.
        self.register_buffer("allowed", allowed.clone(), persistent=False)  # (T, T)
        self.register_buffer("allowed_start", allowed_start.clone(), persistent=False)  # (T,)
        self.register_buffer("allowed_end", allowed_end.clone(), persistent=False)  # (T,)
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
        emit = emissions.transpose(0, 1)  # (L, B, T)
        live = mask.transpose(0, 1).unsqueeze(2)  # (L, B, 1)
        alpha = start + emit[0]  # (B, T)
        alphas = [alpha]
        for t in range(1, emit.shape[0]):
            step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emit[t]  # (B, T)
            alpha = torch.where(live[t], step, alpha)
            alphas.append(alpha)
        return torch.stack(alphas)  # (L, B, T)

    def backward_scores(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Backward variables ``β_t(y) = log Σ exp s(suffix after y at t)`` (end score included), ``(L, B, T)``.

        ``β`` equals ``end`` at each sentence's last token (and at padding).
        """
        _, transitions, end = self.scores()
        emit = emissions.transpose(0, 1)  # (L, B, T)
        live = mask.transpose(0, 1).unsqueeze(2)  # (L, B, 1)
        beta = end.expand(emit.shape[1], self.num_tags)  # (B, T)
        betas = [beta]
        for t in range(emit.shape[0] - 2, -1, -1):
            step = torch.logsumexp(transitions + (emit[t + 1] + beta).unsqueeze(1), dim=2)  # (B, T)
            beta = torch.where(live[t + 1], step, end.expand_as(step))
            betas.append(beta)
        return torch.stack(betas[::-1])  # (L, B, T)

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``log Z`` per sentence, ``(B,)``."""
        self._check(emissions, mask)
        _, _, end = self.scores()
        alpha = self.forward_scores(emissions, mask)[-1]  # (B, T)
        return torch.logsumexp(alpha + end, dim=1)

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
        alphas = self.forward_scores(emissions, mask)  # (L, B, T)
        betas = self.backward_scores(emissions, mask)  # (L, B, T)
        _, _, end = self.scores()
        log_z = torch.logsumexp(alphas[-1] + end, dim=1)  # (B,)
        probs = torch.exp(alphas + betas - log_z.unsqueeze(1)).transpose(0, 1)  # (B, L, T)
        return probs * mask.unsqueeze(2)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The Viterbi (highest-scoring) tag sequence of each sentence, ``(B, L)`` long; 0 at padding.

        The backtrace is vectorised over the batch: padding steps carry identity back-pointers, so every
        sentence is traced from the last column at once.
        """
        self._check(emissions, mask)
        start, transitions, end = self.scores()
        emit = emissions.transpose(0, 1)  # (L, B, T)
        live = mask.transpose(0, 1).unsqueeze(2)  # (L, B, 1)
        batch, num_tags = emit.shape[1], self.num_tags
        identity = torch.arange(num_tags, device=emissions.device).expand(batch, num_tags)  # (B, T)
        score = start + emit[0]  # (B, T)
        pointers = []
        for t in range(1, emit.shape[0]):
            best, arg = (score.unsqueeze(2) + transitions).max(dim=1)  # (B, T) each
            score = torch.where(live[t], best + emit[t], score)
            pointers.append(torch.where(live[t], arg, identity))
        rows = torch.arange(batch, device=emissions.device)  # (B,)
        current = (score + end).argmax(dim=1)  # (B,)
        path = [current]
        for back in reversed(pointers):
            current = back[rows, current]  # (B,)
            path.append(current)
        tags = torch.stack(path[::-1], dim=1)  # (B, L)
        return tags * mask
