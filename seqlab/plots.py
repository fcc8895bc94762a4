"""Figures for the experiments (matplotlib, the optional ``plot`` extra). Every figure has labelled axes,
a legend where several series share it, and a log scale where values span orders of magnitude."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from seqlab.errors import SeqlabError


class PlotUnavailable(SeqlabError):
    """matplotlib is not installed; the experiment still writes results.json."""


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, or ``PlotUnavailable``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailable("plots need matplotlib: pip install -e '.[plot]'") from None
    return plt


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    pyplot().close(fig)


def bars(path: Path, title: str, groups: list[str], series: dict[str, list[tuple[float, float]]], ylabel: str, ylim: tuple[float, float] | None = (0, 1), baseline: tuple[str, float] | None = None) -> None:
    """Grouped bars: ``series[name][g] = (mean, std)`` for each group ``g``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(groups) * max(1, len(series)) / 2 + 2), 3.6))
    width = 0.8 / max(1, len(series))
    for k, (name, values) in enumerate(series.items()):
        xs = [g + (k - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, [m for m, _ in values], width, yerr=[s for _, s in values], capsize=3, label=name)
    if baseline is not None:
        ax.axhline(baseline[1], color="grey", linestyle="--", linewidth=1, label=baseline[0])
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    ax.set_title(title)
    ax.legend(fontsize=8)
    _save(fig, path)


def lines(path: Path, title: str, series: dict[str, tuple[list[float], list[float], list[float]]], xlabel: str, ylabel: str, logx: bool = False, logy: bool = False, styles: dict[str, str] | None = None, hline: tuple[str, float] | None = None, xticks: tuple[list[float], list[str]] | None = None, yticks: list[float] | None = None) -> None:
    """One line per series: ``series[name] = (xs, means, stds)`` (stds may be all 0); ``xticks``: positions
    and their labels, for a categorical x axis; ``yticks``: the y values to label, written plainly."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for name, (xs, means, stds) in series.items():
        style = (styles or {}).get(name, "-o")
        ax.errorbar(xs, means, yerr=stds if any(stds) else None, fmt=style, capsize=3, markersize=4, label=name)
    if hline is not None:
        ax.axhline(hline[1], color="grey", linestyle="--", linewidth=1, label=hline[0])
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if xticks is not None:
        ax.set_xticks(xticks[0], xticks[1])
    if yticks is not None:
        ax.set_yticks(yticks, [f"{v:g}" for v in yticks])
        ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    _save(fig, path)


def training_curves(path: Path, title: str, history: list[dict]) -> None:
    """Write ``curves_figure`` as a PNG."""
    _save(curves_figure(title, history), path)


def curves_figure(title: str, history: list[dict]) -> Any:
    """Loss per epoch (log scale) and, when there is a dev file, dev span F1 per epoch, side by side
    (``history``: ``metrics.jsonl``'s records); a matplotlib figure."""
    plt = pyplot()
    epochs = [h["epoch"] for h in history]
    with_dev = any("dev_f1" in h for h in history)
    fig, axes = plt.subplots(1, 2 if with_dev else 1, figsize=(9 if with_dev else 5, 3.6), squeeze=False)
    ax = axes[0, 0]
    ax.plot(epochs, [h["loss"] for h in history], "-o", markersize=4, label="training loss")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss per sentence")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if with_dev:
        ax = axes[0, 1]
        ax.plot(epochs, [h.get("dev_f1") for h in history], "-o", markersize=4, color="tab:green", label="dev span F1")
        best = [h["epoch"] for h in history if h.get("best")]
        if best:
            ax.axvline(best[-1], color="grey", linestyle="--", linewidth=1, label=f"kept: epoch {best[-1]}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("F1")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    from matplotlib.ticker import MaxNLocator

    for ax in axes[0]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    fig.suptitle(title)
    return fig


def unit_gates(path: Path, title: str, gates: dict[str, dict[str, list[float]]], key_units: list[int]) -> None:
    """One panel per gate: each unit's mean gate value on distractors and on the key (``gates[g]["filler"]``,
    ``gates[g]["key"]``, one value per unit), the key-carrying units shaded."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(gates), figsize=(3.6 * len(gates), 3.4), squeeze=False)
    for ax, (name, values) in zip(axes[0], gates.items()):
        units = list(range(len(values["filler"])))
        for unit in key_units:
            ax.axvspan(unit - 0.5, unit + 0.5, color="gold", alpha=0.35, linewidth=0)
        ax.plot(units, values["filler"], "o", markersize=4, label="distractors")
        ax.plot(units, values["key"], "^", markersize=4, label="key")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("unit (shaded: carries the key)")
        ax.set_ylabel(f"{name} gate")
        ax.grid(True, alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title)
    _save(fig, path)
