"""Inference runtimes: what computes a batch's tag scores for ``Tagger.infer`` (``seqlab predict``,
``evaluate`` and ``serve`` take ``--runtime`` and ``--quantize``).

* ``torch`` (default): the model itself, fp32.
* ``torch`` with ``int8``: a copy of the model with its recurrent (LSTM/GRU) and linear layers
  dynamically quantized (``torch.ao.quantization.quantize_dynamic``: int8 weights, activations
  quantized per batch on the fly); embeddings, the character CNN and the vanilla RNN stay fp32.
* ``onnxruntime``: the network up to the tag scores exported to ONNX (``seqlab.export.onnx``, written
  to a temporary file when the tagger is loaded) and run by ONNX Runtime's CPU provider; with
  ``int8``, that graph after ``onnxruntime.quantization.quantize_dynamic`` (int8 weights of the
  MatMul/LSTM/GRU nodes).

Whatever computes the scores, everything after them is the model's own head: Viterbi, marginals,
span confidences and n-best are exact over those scores. The fp32 ONNX graph gives the torch scores up
to floating-point order; int8 changes the scores a little, so a few tags can change (docs/benchmarks.md
measures how many on CoNLL-2003). CPU only.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from seqlab.errors import ModelError
from seqlab.tagger.inference import Tagger

RUNTIMES = ("torch", "onnxruntime")
QUANTIZATIONS = ("int8",)


def with_runtime(tagger: Tagger, runtime: str = "torch", quantize: str | None = None) -> Tagger:
    """``tagger`` with its scores computed by ``runtime`` (``RUNTIMES``), quantized when ``quantize`` is
    ``int8``; ``tagger`` itself for fp32 torch."""
    if runtime not in RUNTIMES:
        raise ModelError(f"--runtime: expected one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ModelError(f"--quantize: expected one of {', '.join(QUANTIZATIONS)}, got {quantize!r}")
    if runtime == "torch" and quantize is None:
        return tagger
    if tagger.device.type != "cpu":
        raise ModelError(f"--runtime {runtime}{' --quantize ' + quantize if quantize else ''} runs on the CPU only; use --device cpu")
    if runtime == "torch":
        return _derived(tagger, quantized(tagger.model), f"torch-{quantize}")
    scores = OnnxScores(tagger, quantize)
    derived = _derived(tagger, tagger.model, "onnxruntime" + (f"-{quantize}" if quantize else ""))
    derived.scores = scores
    return derived


def _derived(tagger: Tagger, model: nn.Module, name: str) -> Tagger:
    derived = Tagger(model, tagger.bundle, tagger.device)
    derived.directory, derived.runtime = tagger.directory, name
    return derived


def quantized(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with its LSTM, GRU and Linear layers dynamically quantized to int8."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).cpu().eval(), {nn.LSTM, nn.GRU, nn.Linear}, dtype=torch.qint8)


class OnnxScores:
    """``batch`` → tag scores ``(B, L, T)`` by ONNX Runtime, from the tagger's network exported when built."""

    def __init__(self, tagger: Tagger, quantize: str | None) -> None:
        from seqlab.export import export
        from seqlab.export.onnx import OnnxTagger

        with tempfile.TemporaryDirectory(prefix="seqlab-onnx-") as work, _quiet():
            path = export(tagger, "onnx", Path(work) / "model.onnx")
            if quantize == "int8":
                path = _quantize_onnx(path, Path(work) / "model.int8.onnx")
            self.session = OnnxTagger(path)  # the session holds the graph: the file can go

    def __call__(self, batch) -> torch.Tensor:
        return self.session.scores(batch.words, batch.chars, batch.casing, batch.lengths)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence what the ONNX exporter (C++ warnings on standard error) and the quantizer (root logger)
    print about their internals while a runtime is built; errors still raise."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    logging.disable(logging.WARNING)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
        logging.disable(logging.NOTSET)


def _quantize_onnx(path: Path, out: Path) -> Path:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise ModelError("--runtime onnxruntime needs onnxruntime: pip install -e '.[export]'") from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(str(path), str(out), weight_type=QuantType.QInt8)
    return out
