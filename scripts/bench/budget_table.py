"""Print the long-range budget sweep's results as the Markdown tables of docs/experiments.md.

    python scripts/bench/budget_table.py docs/experiments/long-range-budget/results.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def _cell(condition: dict) -> str:
    """``20`` (reached T = 20, missed the next: per-seed accuracies there), ``≥ 200`` (longest tried)."""
    tried = sorted(int(t) for t in condition["accuracy"])
    reach = condition["reach"]
    if reach == tried[-1]:
        return f"≥ {reach}"
    missed = next(t for t in tried if t > reach)
    seeds = " / ".join("–" if a is None else f"{100 * a:.0f}" for a in condition["accuracy"][str(missed)])
    return f"{reach or '< ' + str(tried[0])} (T = {missed}: {seeds})"


def main(path: str) -> None:
    results = json.loads(Path(path).read_text(encoding="utf-8"))["results"]
    budgets = results["budgets"]
    print("| variant | " + " | ".join(budgets) + " |")
    print("|---|" + "---|" * len(budgets))
    lines: dict[str, dict[str, str]] = {}
    for condition in results["conditions"]:
        name = " ".join([condition["variant"], *condition["settings"]])
        lines.setdefault(name, {})[condition["budget"]] = _cell(condition)
    for name, row in lines.items():
        print(f"| {name} | " + " | ".join(row.get(b, "") for b in budgets) + " |")
    print()
    for cell, text in results["cells"].items():
        print(f"- **{cell}**: {text}")


if __name__ == "__main__":
    main(sys.argv[1])
