"""``seqlab export --format onnx``: the tag scores and the decode's scores as an ONNX graph.

The graph maps ``(words, chars, casing, lengths)`` to ``(scores (B, L, T), start (T,), transitions (T, T),
end (T,))``, with dynamic batch, length and word-width axes; ONNX holds no loop-carried back-pointers
here, so the decode runs after onnxruntime: ``OnnxTagger`` applies ``seqlab.nn.decode.decode_tags`` (the
eager heads' decode) to those outputs, with the head's ``normalise``/``independent`` flags read from the
file's metadata. Writing needs ``onnx``; running needs ``onnxruntime`` (``pip install -e ".[export]"``).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from seqlab.errors import ModelError
from seqlab.export.program import (
    INPUTS,
    Decoder,
    Emissions,
    example_inputs,
    graph_network,
)
from seqlab.nn.decode import decode_tags
from seqlab.tagger.inference import Tagger

FLAGS = ("normalise", "independent")
"""Decode flags kept in the file's metadata as ``seqlab.<flag>`` = ``0``/``1`` (absent: 0)."""


class Scores(nn.Module):
    """``(words, chars, casing, lengths)`` → ``(scores, start, transitions, end)``."""

    def __init__(self, emissions: nn.Module, decoder: Decoder) -> None:
        super().__init__()
        self.emissions = emissions
        self.decoder = decoder

    def forward(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, lengths: torch.Tensor):
        decoder = self.decoder
        return self.emissions(words, chars, casing, lengths), decoder.start, decoder.transitions, decoder.end


def write(tagger: Tagger, out: Path) -> None:
    try:
        import onnx
    except ImportError:
        raise ModelError("writing an ONNX export needs onnx: pip install -e '.[export]'") from None
    model = graph_network(tagger, "fused", graph_chars=True)
    decoder = Decoder(model.head, "numpy")
    axes = {"words": {0: "batch", 1: "length"}, "chars": {0: "batch", 1: "length", 2: "word_chars"}, "casing": {0: "batch", 1: "length"},
            "lengths": {0: "batch"}, "scores": {0: "batch", 1: "length"}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Scores(Emissions(model), decoder), example_inputs(tagger), str(out), dynamo=False, input_names=list(INPUTS),
            output_names=["scores", "start", "transitions", "end"], dynamic_axes=axes,
        )
    graph = onnx.load(str(out))
    for flag in FLAGS:
        entry = graph.metadata_props.add()
        entry.key, entry.value = f"seqlab.{flag}", str(int(getattr(decoder, flag)))
    onnx.save(graph, str(out))


class OnnxTagger:
    """An ONNX export run by onnxruntime, then decoded: callable like the TorchScript program."""

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
        meta = self.session.get_modelmeta().custom_metadata_map
        self.normalise, self.independent = (meta.get(f"seqlab.{flag}", "0") == "1" for flag in FLAGS)

    def run(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The graph's outputs ``(scores (B, L, T), start, transitions, end)``."""
        given = dict(zip(INPUTS, (words, chars, casing, lengths)))
        return tuple(torch.from_numpy(a) for a in self.session.run(None, {name: given[name].cpu().numpy() for name in self.inputs}))

    def scores(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The tag scores ``(B, L, T)``."""
        return self.run(words, chars, casing, lengths)[0]

    def __call__(self, words: torch.Tensor, chars: torch.Tensor, casing: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        scores, start, transitions, end = self.run(words, chars, casing, lengths)
        mask = torch.arange(scores.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)  # (B, L)
        return decode_tags(scores, mask, start, transitions, end, self.normalise, self.independent)
