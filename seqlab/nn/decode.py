"""Max-product decoding over a linear chain: Viterbi (one algorithm, three backends), the n best
paths, and ``decode_tags``, the one decode every head and every export format goes through.

The chain scores ``s(y) = start[y_1] + Σ_t E[t, y_t] + Σ_{t>1} A[y_{t-1}, y_t] + end[y_n]`` (see
``seqlab.nn.chain``). Viterbi keeps, for every position and tag, the best score of a prefix ending there,

    δ_1(j) = start[j] + E[1, j]
    δ_t(j) = max_i δ_{t-1}(i) + M_t[i, j]          with M_t[i, j] = A[i, j] + E[t, j]

reads each sentence's best last tag at its own last position, ``y_n = argmax_j δ_n(j) + end[j]``, and
walks back recovering ``y_{t-1} = argmax_i δ_{t-1}(i) + M_t[i, y_t]`` for the tags on the path only (the
forward pass stores no back-pointers: on the CPU a reduction that also returns indices costs several
times one that does not). Ties go to the lowest tag id. Backends (``BACKENDS``) run exactly this
arithmetic, so they agree tag for tag:

* ``torch``: a loop over time in torch ops on the tensors' device (TorchScript compiles it);
* ``numpy``: the forward pass in torch, the walk back in NumPy on the host, whose per-call cost is a
  fraction of torch's at these sizes (the default on the CPU);
* ``scan``: both passes as ``torch.scan`` loops, so that ``torch.export`` keeps a loop over the input's
  length instead of unrolling the example's.

Shapes: ``B`` batch, ``L`` padded length, ``T`` tags; ``mask (B, L)`` bool prefix mask, every sentence
non-empty. Decoded paths are ``(B, L)`` long with 0 at padding.
"""
# No ``from __future__ import annotations`` here: TorchScript compiles ``viterbi`` and ``decode_tags``
# (``seqlab export --format torchscript``) and reads the annotations of the functions it compiles and of
# the ``torch.jit.unused`` ones it replaces by stubs; it cannot resolve them from strings.
import numpy as np
import torch

from seqlab.errors import ModelError
from seqlab.nn.chain import step_scores

BACKENDS = ("torch", "numpy", "scan")


def viterbi(
    emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor, backend: str = "auto"
) -> torch.Tensor:
    """The best path of each sentence, ``(B, L)``; ``backend`` is one of ``BACKENDS`` or ``auto`` (NumPy's
    walk back on the CPU, torch's elsewhere)."""
    if backend == "auto":
        backend = "numpy" if emissions.device.type == "cpu" else "torch"
    if backend == "scan":
        return viterbi_scan(emissions, mask, start, transitions, end)
    steps = step_scores(emissions, mask, transitions, False)  # (L-1, T, T, B)
    score = (start + emissions[:, 0]).t()  # (T, B)
    history = [score]
    for step in steps.unbind(0):
        score = (score.unsqueeze(1) + step).amax(dim=0)  # (T, B)
        history.append(score)
    deltas = torch.stack(history)  # (L, T, B)
    last = mask.sum(dim=1) - 1  # (B,)
    seq, num_tags, batch = deltas.shape
    final = deltas.gather(0, last.view(1, 1, batch).expand(1, num_tags, batch))[0] + end.unsqueeze(1)  # (T, B)
    best = final.argmax(dim=0)  # (B,)
    if backend == "numpy":
        path = backtrace_numpy(deltas, steps, last, best)
    elif backend == "torch":
        path = backtrace_torch(deltas, steps, last, best)
    else:
        raise ModelError(f"unknown Viterbi backend '{backend}'; expected auto or one of torch, numpy, scan")
    return path * mask


def backtrace_torch(deltas: torch.Tensor, steps: torch.Tensor, last: torch.Tensor, best: torch.Tensor) -> torch.Tensor:
    """The walk back in torch ops: paths ``(B, L)`` from ``deltas (L, T, B)``, ``steps (L-1, T, T, B)``,
    each sentence's last position ``last (B,)`` and best last tag ``best (B,)``. Positions after a
    sentence's end hold its last tag (the caller masks them)."""
    seq, num_tags, batch = deltas.shape
    current = best  # (B,)
    path = [current]
    for t in range(seq - 2, -1, -1):
        into = steps[t].gather(1, current.view(1, 1, batch).expand(num_tags, 1, batch)).squeeze(1)  # (T, B): M[i, y_{t+1}]
        back = (deltas[t] + into).argmax(dim=0)  # (B,)
        current = torch.where(last == t, best, back)  # a sentence ending at t starts its walk here
        path.append(current)
    path.reverse()
    return torch.stack(path, dim=1)  # (B, L)


@torch.jit.unused
def backtrace_numpy(deltas: torch.Tensor, steps: torch.Tensor, last: torch.Tensor, best: torch.Tensor) -> torch.Tensor:
    """``backtrace_torch`` in NumPy on the host (for CPU tensors: no copy in, one copy out)."""
    seq, _, batch = deltas.shape
    delta_np, steps_np = deltas.detach().cpu().numpy(), steps.detach().cpu().numpy()
    last_np, best_np = last.cpu().numpy(), best.cpu().numpy()
    cols = np.arange(batch)
    out = np.empty((seq, batch), dtype=np.int64)  # (L, B)
    out[seq - 1] = current = best_np
    for t in range(seq - 2, -1, -1):
        back = (delta_np[t] + steps_np[t][:, current, cols]).argmax(axis=0)  # (B,)
        current = np.where(last_np == t, best_np, back)
        out[t] = current
    return torch.from_numpy(out).t().to(deltas.device)  # (B, L)


@torch.jit.unused
def viterbi_scan(emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """``viterbi``'s two passes as ``torch.scan`` loops over all ``L`` positions, ``(B, L)``.

    Position 0 takes ``start + E[0]`` in place of a step, so a one-token batch needs no empty loop; the
    walk back reads ``M_{t+1}[i, y_{t+1}] = A[i, y_{t+1}] + E[t+1, y_{t+1}]`` for the chosen tags only
    (the same sum of the same two numbers as ``step_scores``' entry)."""
    from torch._higher_order_ops.scan import scan

    batch, seq, num_tags = emissions.shape
    emit = emissions.permute(1, 2, 0)  # (L, T, B)
    positions = torch.arange(seq, device=emissions.device)  # (L,)
    first = positions == 0  # (L,)

    def forward(score: torch.Tensor, inputs: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        e_t, first_t = inputs  # (T, B), ()
        step = transitions.unsqueeze(2) + e_t.unsqueeze(0)  # (T, T, B): M_t
        moved = (score.unsqueeze(1) + step).amax(dim=0)  # (T, B)
        score = torch.where(first_t, start.unsqueeze(1) + e_t, moved)  # (T, B)
        return score, score.clone()

    _, deltas = scan(forward, emit.new_zeros(num_tags, batch), (emit, first))  # (L, T, B)
    last = mask.sum(dim=1) - 1  # (B,)
    final = deltas.gather(0, last.view(1, 1, batch).expand(1, num_tags, batch))[0] + end.unsqueeze(1)  # (T, B)
    best = final.argmax(dim=0)  # (B,)
    ahead = torch.cat([emit[1:], emit[-1:]])  # (L, T, B): E[t+1] (a placeholder at L-1, never read)
    is_end = (positions.unsqueeze(1) == last.unsqueeze(0)) | (positions == seq - 1).unsqueeze(1)  # (L, B)

    def backward(current: torch.Tensor, inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        delta_t, e_next, end_t = inputs  # (T, B), (T, B), (B,)
        into = transitions.index_select(1, current) + e_next.gather(0, current.unsqueeze(0))  # (T, B): A[i, y] + E[t+1, y]
        back = (delta_t + into).argmax(dim=0)  # (B,)
        current = torch.where(end_t, best, back)  # (B,)
        return current, current.clone()

    _, path = scan(backward, best.clone(), (deltas, ahead, is_end), reverse=True)  # (L, B)
    return path.t() * mask  # (B, L)


def viterbi_nbest(
    emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """List Viterbi: the ``k`` best distinct paths per sentence, ``(B, k, L)``, and their scores ``s(y)`` ``(B, k)``.

    Each state ``(t, y)`` keeps its ``k`` best partial scores ``(B, T, k)``; a step takes the top ``k`` of
    the ``T·k`` extensions, remembering the (previous tag, previous rank) of each. Ties are broken by
    ``torch.topk``; distinct ranks always denote distinct paths. A sentence with fewer than ``k``
    possible sequences gets ``-inf`` scores in the surplus rows.
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


def decode_tags(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    start: torch.Tensor,
    transitions: torch.Tensor,
    end: torch.Tensor,
    normalise: bool,
    independent: bool,
    backend: str = "auto",
) -> torch.Tensor:
    """A head's best tags, ``(B, L)``: the per-token argmax of ``emissions`` when the head decides each
    token on its own (``independent``), else Viterbi over the chain, on ``log_softmax(emissions)`` when
    the head normalises per token (``normalise``: the softmax head) and on the raw scores otherwise."""
    if independent:
        return emissions.argmax(dim=2) * mask  # (B, L)
    if normalise:
        emissions = emissions.log_softmax(dim=2)  # (B, L, T)
    return viterbi(emissions, mask, start, transitions, end, backend)
