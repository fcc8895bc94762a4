"""Export a trained tagger as one self-contained program from ids to tag ids, and check it.

    seqlab export --model runs/apple_lstm --format torchscript --out apple.pt --check
    seqlab export --model runs/apple_lstm --format onnx --out apple.onnx --check

The exported module takes the ids seqlab's vocabularies give (``seqlab.tagger.Tagger.encode_tokens``
then ``seqlab.data.collate``) and returns the best tag ids:

    forward(words (B, L) long, chars (B, L, C) long, casing (B, L) long, lengths (B,) long) → tags (B, L) long

0 at padding; tag ids index ``vocab.json``'s ``tags`` (the model's own scheme). The decode is inside:
Viterbi with the CRF's transition scores (forbidden transitions already ``-inf``), or the softmax
head's argmax (its constrained Viterbi when the decoder is constrained).

TorchScript: the embedding → encoder → projection part is traced (it holds no data-dependent Python
control flow once a batch is given: packing is recorded as an op on ``lengths``; a model trained with
the scratch cells is exported through the fused modules, which hold the same parameters), the decode
is scripted (a loop over time that works for any length). ONNX: the same traced part, exported with
dynamic batch/length axes, outputs the tag scores and the start/transition/end scores; the decode is
``viterbi_numpy`` (documented below), which ``OnnxTagger`` applies to onnxruntime's outputs. ``check`` runs the exported program and the
eager model on labelled data and reports every sentence whose tags differ.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from seqlab.cells import ScratchRecurrent
from seqlab.config import replace_in
from seqlab.data import EncodedSentence, collate, sorted_order
from seqlab.embedding import CharLSTM
from seqlab.errors import ConfigError, ModelError
from seqlab.heads import CRFHead
from seqlab.model import TaggerModel, build_model
from seqlab.tagger import Tagger

FORMATS = ("torchscript", "onnx", "torch-export")


@torch.jit.script
def viterbi_ids(emissions: torch.Tensor, lengths: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Best path ``argmax_y start[y_1] + Σ_t E[t, y_t] + Σ_t A[y_{t-1}, y_t] + end[y_n]`` per sentence, ``(B, L)``.

    A plain max-product recursion with back-pointers (independent of ``seqlab.crf.viterbi``, which the
    export check compares it with): ``δ_t(j) = max_i δ_{t-1}(i) + A[i, j] + E[t, j]`` for ``t < n``.
    """
    batch, seq, num_tags = emissions.shape
    score = start.unsqueeze(0) + emissions[:, 0]  # (B, T)
    pointers = torch.zeros(seq, batch, num_tags, dtype=torch.long, device=emissions.device)  # (L, B, T)
    for t in range(1, seq):
        candidates = score.unsqueeze(2) + transitions.unsqueeze(0)  # (B, T_prev, T)
        best, arg = candidates.max(dim=1)  # (B, T) each
        live = (t < lengths).unsqueeze(1)  # (B, 1)
        score = torch.where(live, best + emissions[:, t], score)  # (B, T)
        pointers[t] = arg
    last = (score + end.unsqueeze(0)).argmax(dim=1)  # (B,)
    path = torch.zeros(batch, seq, dtype=torch.long, device=emissions.device)  # (B, L)
    rows = torch.arange(batch, device=emissions.device)  # (B,)
    tag = last
    for t in range(seq - 1, -1, -1):
        here = t < lengths  # (B,)
        at_end = t == lengths - 1  # (B,)
        tag = torch.where(at_end, last, tag)  # (B,)
        path[:, t] = torch.where(here, tag, torch.zeros_like(tag))
        if t > 0:
            previous = pointers[t][rows, tag]  # (B,)
            tag = torch.where(here, previous, tag)
    return path


class _Emissions(nn.Module):
    """``(words, chars, casing, lengths)`` → tag scores ``(B, L, T)``, the part that gets traced."""

    def __init__(self, model: TaggerModel) -> None:
        super().__init__()
        self.embedding, self.encoder, self.projection = model.embedding, model.encoder, model.projection

    def forward(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.embedding(words, chars, casing)  # (B, L, D_in)
        return self.projection(self.encoder(x, lengths))  # (B, L, T)


class ExportedTagger(nn.Module):
    """Emissions (traced) + decode (scripted) in one module."""

    def __init__(self, emissions: nn.Module, start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor, log_softmax: bool, argmax: bool) -> None:
        super().__init__()
        self.emissions = emissions
        self.register_buffer("start", start)
        self.register_buffer("transitions", transitions)
        self.register_buffer("end", end)
        self.log_softmax = log_softmax
        self.argmax = argmax

    def forward(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        scores = self.emissions(words, chars, casing, lengths)  # (B, L, T)
        mask = torch.arange(words.shape[1], device=words.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, L)
        if self.argmax:
            return scores.argmax(dim=2) * mask
        if self.log_softmax:
            scores = scores.log_softmax(dim=2)
        return viterbi_ids(scores, lengths, self.start, self.transitions, self.end)


def _example(tagger: Tagger, width: int = 0) -> tuple[torch.Tensor, ...]:
    """Two sentences of different lengths; ``width`` pads the char axis to at least that many positions
    (torch.export treats an axis of size 1 as fixed)."""
    encoded = tagger.encode_tokens([("an", "example", "sentence", "."), ("two", "words")])
    batch = collate(encoded, [0, 1])
    chars = batch.chars
    if chars.shape[2] < width:
        chars = torch.nn.functional.pad(chars, (0, width - chars.shape[2]))
    return batch.words, chars, batch.casing, batch.lengths


def _fused(tagger: Tagger) -> TaggerModel:
    """The tagger's network with a fused recurrent encoder: the scratch cells loop over time in Python,
    which a trace would fix to the example's length; both implementations share their parameters."""
    config = tagger.bundle.config
    if config.model.encoder.impl != "scratch" or config.model.encoder.cell == "none":
        return tagger.model.cpu().eval()
    try:
        fused = replace_in(config, "model.encoder.impl", "fused")
    except ConfigError as err:
        raise ModelError(f"cannot export: the scratch encoder has no fused equivalent ({err})") from None
    model = build_model(fused.model, tagger.bundle.vocabs)
    model.load_state_dict(tagger.model.state_dict())
    return model.cpu().eval()


def build_exported(tagger: Tagger) -> torch.jit.ScriptModule:
    """The tagger as one TorchScript module (CPU, eval mode)."""
    model = _fused(tagger)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python values: the trace is checked below
        traced = torch.jit.trace(_Emissions(model), _example(tagger), check_trace=False)
    head = model.head
    start, transitions, end = (t.detach().clone() for t in head.scores())
    is_crf = isinstance(head, CRFHead)
    argmax = not is_crf and not head.constrained
    return torch.jit.script(ExportedTagger(traced, start, transitions, end, log_softmax=not is_crf, argmax=argmax))


def viterbi_scan(emissions: torch.Tensor, lengths: torch.Tensor, start: torch.Tensor, transitions: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """``viterbi_ids``' recursion as two ``torch.scan`` loops (forward max-product, then the backtrace
    in reverse), so that ``torch.export`` keeps a loop over the input's length: tag ids ``(B, L)``.

    Step 0 uses ``start`` in place of the transition scores (``δ_0(j) = start[j] + E[0, j]`` from a zero
    carry), so both loops run over all ``L`` positions and a one-token batch needs no special case."""
    from torch._higher_order_ops.scan import scan

    batch, seq, num_tags = emissions.shape
    steps = torch.arange(seq, device=emissions.device)  # (L,)
    live = steps.unsqueeze(1) < lengths.unsqueeze(0)  # (L, B)
    first = steps == 0  # (L,)
    opening = start.unsqueeze(0).expand(num_tags, num_tags)  # (T_prev, T): every row is start

    def forward(score: torch.Tensor, inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        e_t, live_t, first_t = inputs  # (B, T), (B,), ()
        moves = torch.where(first_t, opening, transitions)  # (T_prev, T)
        best, arg = (score.unsqueeze(2) + moves.unsqueeze(0)).max(dim=1)  # (B, T) each
        return torch.where(live_t.unsqueeze(1), best + e_t, score), arg

    score, pointers = scan(forward, emissions.new_zeros(batch, num_tags), (emissions.transpose(0, 1), live, first))  # (B, T), (L, B, T)
    last = (score + end.unsqueeze(0)).argmax(dim=1)  # (B,)
    at_end = steps.unsqueeze(1) == (lengths - 1).unsqueeze(0)  # (L, B)

    def backward(tag: torch.Tensor, inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        pointers_t, here_t, end_t = inputs  # (B, T), (B,), (B,)
        tag = torch.where(end_t, last, tag)  # (B,)
        previous = pointers_t.gather(1, tag.unsqueeze(1)).squeeze(1)  # (B,)
        return torch.where(here_t, previous, tag), torch.where(here_t, tag, torch.zeros_like(tag))

    _, path = scan(backward, last.clone(), (pointers, live, at_end), reverse=True)  # (L, B)
    return path.transpose(0, 1)  # (B, L)


def _keep_scores(module: nn.Module, head: nn.Module) -> None:
    """Register the head's start ``(T,)``, transition ``(T, T)`` and end ``(T,)`` scores on ``module`` as
    buffers (copies: the export does not follow later changes to the model)."""
    for name, scores in zip(("start", "transitions", "end"), head.scores()):
        module.register_buffer(name, scores.detach().clone())


class _Program(nn.Module):
    """For ``torch.export``: ids → emissions → decode, every loop a ``torch.scan``."""

    def __init__(self, model: TaggerModel) -> None:
        super().__init__()
        self.emissions = _Emissions(model)
        head = model.head
        _keep_scores(self, head)
        self.log_softmax = not isinstance(head, CRFHead)
        self.argmax = self.log_softmax and not head.constrained

    def forward(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        scores = self.emissions(words, chars, casing, lengths)  # (B, L, T)
        if self.argmax:
            mask = torch.arange(words.shape[1], device=words.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, L)
            return scores.argmax(dim=2) * mask
        if self.log_softmax:
            scores = scores.log_softmax(dim=2)
        return viterbi_scan(scores, lengths, self.start, self.transitions, self.end)


def _scan_model(tagger: Tagger) -> TaggerModel:
    """The tagger's network with every recurrence a ``ScratchRecurrent`` in scan mode (same parameters:
    the scratch cells keep torch's names), the char BiLSTM included."""
    config = tagger.bundle.config
    if config.model.encoder.cell != "none":
        config = replace_in(config, "model.encoder.impl", "scratch")
    model = build_model(config.model, tagger.bundle.vocabs)
    model.load_state_dict(tagger.model.state_dict())
    for module in list(model.modules()):
        if isinstance(module, CharLSTM):
            lstm = module.rnn
            scratch = ScratchRecurrent("lstm", lstm.input_size, lstm.hidden_size, bidirectional=True)
            scratch.load_state_dict(lstm.state_dict())
            module.rnn = scratch
    for module in model.modules():
        if isinstance(module, ScratchRecurrent):
            module.scan = True
    return model.cpu().eval()


def _write_torch_export(tagger: Tagger, out: Path) -> None:
    from torch.export import Dim

    batch, length, width = Dim("batch", min=1, max=1 << 20), Dim("length", min=1, max=1 << 20), Dim("word_chars", min=1, max=1 << 16)
    shapes = ({0: batch, 1: length}, {0: batch, 1: length, 2: width}, {0: batch, 1: length}, {0: batch})
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the scan op is a prototype and says so
        try:
            program = torch.export.export(_Program(_scan_model(tagger)), _example(tagger, width=3), dynamic_shapes=shapes)
        except Exception as err:  # torch.export raises many types; say which model could not be exported
            raise ModelError(f"torch.export failed for this model ({type(err).__name__}: {str(err).splitlines()[0][:160]})") from None
    torch.export.save(program, str(out))


class _Scores(nn.Module):
    """For ONNX: ``(words, chars, casing, lengths)`` → ``(scores (B, L, T), start (T,), transitions (T, T), end (T,))``.

    The decode is ``viterbi_numpy`` over these four (ONNX holds no loop-carried back-pointers here):
    CRF emissions with its transition scores; a constrained softmax head's log-probabilities with 0/−inf
    scores; an unconstrained softmax head's scores with zeros (Viterbi then is the per-token argmax).
    """

    def __init__(self, model: TaggerModel) -> None:
        super().__init__()
        self.emissions = _Emissions(model)
        head = model.head
        _keep_scores(self, head)
        self.log_softmax = not isinstance(head, CRFHead)

    def forward(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, lengths: torch.Tensor):
        scores = self.emissions(words, chars, casing, lengths)  # (B, L, T)
        if self.log_softmax:
            scores = scores.log_softmax(dim=2)
        return scores, self.start, self.transitions, self.end


INPUTS = ("words", "chars", "casing", "lengths")


def _write_onnx(tagger: Tagger, out: Path) -> None:
    axes = {"words": {0: "batch", 1: "length"}, "chars": {0: "batch", 1: "length", 2: "word_chars"}, "casing": {0: "batch", 1: "length"},
            "lengths": {0: "batch"}, "scores": {0: "batch", 1: "length"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Scores(_fused(tagger)), _example(tagger), str(out), dynamo=False, input_names=list(INPUTS),
            output_names=["scores", "start", "transitions", "end"], dynamic_axes=axes,
        )


def export(tagger: Tagger, fmt: str, out: str | Path) -> Path:
    if fmt not in FORMATS:
        raise ModelError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "onnx":
            _write_onnx(tagger, out)
        elif fmt == "torch-export":
            _write_torch_export(tagger, out)
        else:
            build_exported(tagger).save(str(out))
    except OSError as err:
        raise ModelError(f"{out}: cannot write ({err.strerror or err})") from None
    return out


def viterbi_numpy(scores: np.ndarray, lengths: np.ndarray, start: np.ndarray, transitions: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The decode step for the ONNX export, in NumPy: best tag ids ``(B, L)``, 0 at padding (the same
    max-product recursion as ``viterbi_ids``)."""
    batch, seq, _ = scores.shape
    path = np.zeros((batch, seq), dtype=np.int64)
    for b in range(batch):
        n = int(lengths[b])
        delta = start + scores[b, 0]  # (T,)
        pointers = []
        for t in range(1, n):
            candidates = delta[:, None] + transitions  # (T_prev, T)
            pointers.append(candidates.argmax(axis=0))  # (T,)
            delta = candidates.max(axis=0) + scores[b, t]  # (T,)
        tag = int(np.argmax(delta + end))
        path[b, n - 1] = tag
        for t in range(n - 1, 0, -1):
            tag = int(pointers[t - 1][tag])
            path[b, t - 1] = tag
    return path


class OnnxTagger:
    """An ONNX export run by onnxruntime plus ``viterbi_numpy``: callable like the TorchScript program."""

    def __init__(self, path: str | Path) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise ModelError("running an ONNX export needs onnxruntime: pip install -e '.[export]'") from None
        try:
            self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types
            raise ModelError(f"{path}: not an ONNX file written by seqlab export ({str(err).splitlines()[0][:120]})") from None
        self.inputs = [i.name for i in self.session.get_inputs()]  # unused inputs (e.g. chars) are pruned

    def __call__(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        given = dict(zip(INPUTS, (words, chars, casing, lengths)))
        scores, start, transitions, end = self.session.run(None, {name: given[name].numpy() for name in self.inputs})
        return torch.from_numpy(viterbi_numpy(scores, lengths.numpy(), start, transitions, end))


def load_exported(path: str | Path, fmt: str = "torchscript"):
    """A callable ``(words, chars, casing, lengths) → tag ids`` for an exported file."""
    if fmt == "onnx":
        return OnnxTagger(path)
    if fmt == "torch-export":
        try:
            return torch.export.load(str(path)).module()
        except Exception as err:  # a zip that is not an exported program raises several types
            raise ModelError(f"{path}: not a torch.export file written by seqlab export ({str(err).splitlines()[0][:120]})") from None
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError) as err:
        raise ModelError(f"{path}: not a TorchScript file written by seqlab export ({str(err).splitlines()[0][:120]})") from None


@dataclass(frozen=True)
class Parity:
    sentences: int
    tokens: int
    mismatched: tuple[int, ...]
    """Indices of the sentences whose exported tags differ from the eager model's."""


@torch.no_grad()
def check(exported, tagger: Tagger, encoded: Sequence[EncodedSentence], batch_size: int = 32) -> Parity:
    """Run the exported module and the eager model on ``encoded`` (batched by length) and compare every tag."""
    model = tagger.model.cpu().eval()
    nonempty = [k for k, e in enumerate(encoded) if e.words.shape[0] > 0]
    mismatched: list[int] = []
    for index in sorted_order([encoded[k].words.shape[0] for k in nonempty], batch_size):
        positions = [nonempty[i] for i in index]
        batch = collate([encoded[k] for k in positions], positions)
        mine = exported(batch.words, batch.chars, batch.casing, batch.lengths)  # (B, L)
        eager = model.decode(batch)  # (B, L)
        for row, position in enumerate(positions):
            n = int(batch.lengths[row])
            if not torch.equal(mine[row, :n], eager[row, :n]):
                mismatched.append(position)
    tokens = sum(e.words.shape[0] for e in encoded)
    return Parity(len(encoded), tokens, tuple(sorted(mismatched)))
