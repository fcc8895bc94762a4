"""Training: a run's set-up, the epoch loop, checkpoints and exact resume, mixed precision, sweeps.

``run`` (``train`` and ``resume``: the whole run, saving the best model), ``prepare`` (what train,
resume and dry runs share: data, vocabularies, model, optimiser), ``loop`` (one epoch, evaluation,
early stopping), ``checkpoint`` (the resumable state, one safetensors file), ``amp`` (autocast and the
gradient scaler), ``sweep`` (a grid of runs over seeds).

``from seqlab.train import train, resume`` is the public path.
"""
from seqlab.train.run import resume, train

__all__ = ["resume", "train"]
