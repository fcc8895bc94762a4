"""Linear-chain conditional random field (Lafferty, McCallum & Pereira, 2001), batch-first, and
``ChainHead``, what every tagger head shares.

For emissions ``E`` (``E[t, y]`` is the encoder's score of tag ``y`` at position ``t``) and a tag sequence
``y_1 … y_n`` the CRF scores

    s(y) = start[y_1] + Σ_t E[t, y_t] + Σ_{t>1} A[y_{t-1}, y_t] + end[y_n]

and defines ``p(y | x) = exp s(y) / Z`` with ``Z = Σ_{y'} exp s(y')`` over every tag sequence of the
sentence's length. ``A`` is ``transitions[from, to]``; the start and end scores are separate vectors,
so no START/STOP pseudo-tags enter the label set. Everything is computed in log space with
``torch.logsumexp`` (``seqlab.nn.chain``) and decoded by ``seqlab.nn.decode``. A transition that the tag
scheme forbids is fixed at ``-inf`` (not a large negative sentinel), so it has probability exactly 0 in
training, marginals and decoding.

Shapes: ``B`` batch, ``L`` padded length, ``T`` number of tags. ``mask`` is a ``(B, L)`` bool tensor,
True at real tokens, with every sentence non-empty and left-aligned (``mask[:, 0]`` all True).
"""
from __future__ import annotations

import torch
from torch import nn

from seqlab.capture import capturing
from seqlab.errors import ModelError
from seqlab.nn.chain import (
    chain_marginals,
    chain_segment_log_probs,
    log_partition,
    path_score,
)
from seqlab.nn.decode import decode_tags, viterbi_nbest


class ChainHead(nn.Module):
    """A head whose sequence distribution is a linear chain over its (possibly normalised) emissions.

    Every head answers with one interface (shapes: ``emissions (B, L, T)``, ``tags (B, L)`` long,
    ``mask (B, L)`` bool):

    - ``loss(emissions, tags, mask)``: the batch's summed sentence loss (a scalar);
    - ``decode(emissions, mask)``: ``(B, L)`` long tag ids, 0 at padding;
    - ``decode_nbest(emissions, mask, k)``: ``(paths (B, k, L), log-probabilities (B, k))``, best first;
    - ``marginals(emissions, mask)``: ``p(y_t = y | x)``, ``(B, L, T)``;
    - ``segment_log_probs(emissions, mask, segments)``: ``log p(y_s … y_{s+n-1} = pattern | x)``
      (``seqlab.nn.chain.segment_log_probs`` gives the layout of ``segments``).

    A subclass gives its chain's ``scores()`` (start, transitions, end), says whether the chain runs
    over per-token log-probabilities (``normalise``) and whether each token is decided alone
    (``independent``), computes its ``loss`` and ``log_z``, and registers any learned scores in
    ``add_parameters``.

    Args:
        num_tags: number of tags ``T``.
        allowed: optional ``(T, T)`` bool tensor, ``allowed[i, j]`` False when tag ``j`` may not follow ``i``.
        allowed_start: optional ``(T,)`` bool tensor, False for tags a sentence may not start with.
        allowed_end: optional ``(T,)`` bool tensor, False for tags a sentence may not end with.
    """

    normalise = False
    """Whether the chain runs over ``log_softmax(emissions)`` rather than the raw emissions."""

    def __init__(
        self,
        num_tags: int,
        allowed: torch.Tensor | None = None,
        allowed_start: torch.Tensor | None = None,
        allowed_end: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if num_tags < 1:
            raise ModelError(f"{type(self).__name__}: expected num_tags >= 1, got {num_tags}")
        self.num_tags = num_tags
        self.constrained = allowed is not None
        """Whether constraint masks were given (an unconstrained softmax head decides each token alone)."""
        ones = torch.ones(num_tags, dtype=torch.bool)
        allowed = torch.ones(num_tags, num_tags, dtype=torch.bool) if allowed is None else allowed
        allowed_start = ones if allowed_start is None else allowed_start
        allowed_end = ones if allowed_end is None else allowed_end
        if allowed.shape != (num_tags, num_tags) or allowed_start.shape != (num_tags,) or allowed_end.shape != (num_tags,):
            raise ModelError(f"expected constraint masks of shape ({num_tags}, {num_tags}) and ({num_tags},)")
        # Not saved with the weights: they are rebuilt from the tag vocabulary and scheme.
        self.register_buffer("allowed", allowed.clone(), persistent=False)  # (T, T)
        self.register_buffer("allowed_start", allowed_start.clone(), persistent=False)  # (T,)
        self.register_buffer("allowed_end", allowed_end.clone(), persistent=False)  # (T,)
        self.add_parameters()

    def add_parameters(self) -> None:
        """Register and initialise the head's learned scores (none by default)."""

    @property
    def independent(self) -> bool:
        """Whether each token's tag is decided on its own (the per-token argmax)."""
        return False

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"

    def scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(start (T,), transitions (T, T), end (T,))`` with forbidden entries ``-inf``."""
        raise NotImplementedError

    def chain(self, emissions: torch.Tensor) -> torch.Tensor:
        """The emissions the chain runs over, ``(B, L, T)``."""
        return emissions.log_softmax(dim=2) if self.normalise else emissions

    def log_z(self, chained: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``log Z`` of the chain over ``chained = self.chain(emissions)``, ``(B,)``."""
        raise NotImplementedError

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def check(self, emissions: torch.Tensor, mask: torch.Tensor, tags: torch.Tensor | None = None) -> None:
        """Shapes, dtype and non-empty sentences, with expected/got messages (skipped while a graph is
        captured for export: the checks read data)."""
        if capturing():
            return
        name = type(self).__name__
        if emissions.dim() != 3 or emissions.shape[2] != self.num_tags:
            raise ModelError(f"{name}: expected emissions of shape (batch, seq, {self.num_tags}), got {tuple(emissions.shape)}")
        if mask.shape != emissions.shape[:2] or mask.dtype != torch.bool:
            raise ModelError(f"{name}: expected a bool mask of shape {tuple(emissions.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")
        if tags is not None and tags.shape != emissions.shape[:2]:
            raise ModelError(f"{name}: expected tags of shape {tuple(emissions.shape[:2])}, got {tuple(tags.shape)}")
        if emissions.shape[1] == 0 or not bool(mask[:, 0].all()):
            raise ModelError(f"{name}: every sentence must have at least one token (mask[:, 0] all True)")

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor, backend: str = "auto") -> torch.Tensor:
        """The best tag sequence of each sentence, ``(B, L)`` long; 0 at padding (``backend``: see
        ``seqlab.nn.decode.viterbi``)."""
        self.check(emissions, mask)
        return decode_tags(emissions, mask, *self.scores(), self.normalise, self.independent, backend)

    def decode_nbest(self, emissions: torch.Tensor, mask: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` most probable distinct tag sequences, best first: ``(paths (B, k, L), log p (B, k))``;
        a sentence with fewer than ``k`` possible sequences gets ``-inf`` in the surplus rows."""
        self.check(emissions, mask)
        if k < 1:
            raise ModelError(f"{type(self).__name__}: expected k >= 1 best paths, got {k}")
        chained = self.chain(emissions)  # (B, L, T)
        paths, scores = viterbi_nbest(chained, mask, *self.scores(), k)  # (B, k, L), (B, k)
        return paths, scores - self.log_z(chained, mask).unsqueeze(1)

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``p(y_t = y | x)`` by forward–backward, ``(B, L, T)``; rows at padding are 0."""
        self.check(emissions, mask)
        if self.independent:
            return emissions.softmax(dim=2) * mask.unsqueeze(2)  # (B, L, T)
        return chain_marginals(self.chain(emissions), mask, *self.scores())

    def path_log_probs(self, emissions: torch.Tensor, mask: torch.Tensor, paths: torch.Tensor) -> torch.Tensor:
        """``log p(y | x) = s(y) − log Z`` of the tag sequence ``paths`` (B, L) of each sentence, ``(B,)``
        (``−inf`` for a sequence the constraints forbid)."""
        self.check(emissions, mask, paths)
        chained = self.chain(emissions)  # (B, L, T)
        return path_score(chained, paths, mask, *self.scores()) - self.log_z(chained, mask)

    def segment_log_probs(self, emissions: torch.Tensor, mask: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
        """``log p(y_s … y_{s+n-1} = pattern | x)`` for each row of ``segments``, ``(N,)``."""
        self.check(emissions, mask)
        return chain_segment_log_probs(self.chain(emissions), mask, *self.scores(), segments)


class CRF(ChainHead):
    """A linear-chain CRF over ``num_tags`` tags with learned start, transition and end scores (the
    constructor is ``ChainHead``'s)."""

    def add_parameters(self) -> None:
        num_tags = self.num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))  # (T, T) [from, to]
        self.start = nn.Parameter(torch.empty(num_tags))  # (T,)
        self.end = nn.Parameter(torch.empty(num_tags))  # (T,)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.transitions, -0.1, 0.1)
        nn.init.uniform_(self.start, -0.1, 0.1)
        nn.init.uniform_(self.end, -0.1, 0.1)

    def scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        neg_inf = float("-inf")
        start = self.start.masked_fill(~self.allowed_start, neg_inf)  # (T,)
        transitions = self.transitions.masked_fill(~self.allowed, neg_inf)  # (T, T)
        end = self.end.masked_fill(~self.allowed_end, neg_inf)  # (T,)
        return start, transitions, end

    def log_z(self, chained: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return log_partition(chained, mask, *self.scores())

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood ``log Z − s(y)`` of each gold sequence, ``(B,)``."""
        self.check(emissions, mask, tags)
        scores = self.scores()  # once for both terms: three masked copies fewer per batch
        return log_partition(emissions, mask, *scores) - path_score(emissions, tags, mask, *scores)

    def loss(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``Σ_b (log Z_b − s(y_b))`` over the batch's sentences (a scalar)."""
        return self.nll(emissions, tags, mask).sum()
