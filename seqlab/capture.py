"""Whether the model is being captured as a graph (TorchScript trace or script, ONNX export, torch.export or
torch.compile) rather than run eagerly. Data-dependent shortcuts (skipping packing, running each distinct
word once) are taken only eagerly; a captured graph keeps the general path, which is right for any input."""
from __future__ import annotations

import torch


def capturing() -> bool:
    return (
        torch.jit.is_tracing()
        or torch.jit.is_scripting()
        or torch.onnx.is_in_onnx_export()
        or torch.compiler.is_compiling()
    )
