#!/usr/bin/env python3
"""Print the config reference (every key, its default and meaning) as a Markdown table, from the
docstrings under the fields of seqlab/config.py. The README's table is this script's output."""
from __future__ import annotations

import ast
import dataclasses
import sys
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seqlab import config as cfg  # noqa: E402


def field_docs() -> dict[tuple[str, str], str]:
    tree = ast.parse((ROOT / "seqlab" / "config.py").read_text(encoding="utf-8"))
    docs = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            body = node.body
            for stmt, after in zip(body, body[1:]):
                if isinstance(stmt, ast.AnnAssign) and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
                    docs[(node.name, stmt.target.id)] = " ".join(str(after.value.value).split()).replace("``", "`")
    return docs


def rows(cls: type, prefix: str, docs: dict) -> list[str]:
    out = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out += rows(tp, f"{prefix}{f.name}.", docs)
            continue
        default = getattr(cls(), f.name)
        shown = "null" if default is None else str(default).lower() if isinstance(default, bool) else default
        meta = f.metadata
        bounds = ""
        if meta.get("lo") is not None or meta.get("hi") is not None:
            hi = "∞" if meta.get("hi") is None else f"{meta['hi']}"
            bounds = f" Range [{meta.get('lo')}, {hi}{')' if meta.get('hi_open') or meta.get('hi') is None else ']'}."
        doc = docs.get((cls.__name__, f.name), "").replace("|", "\\|")
        out.append(f"| `{prefix}{f.name}` | `{shown}` | {cfg._type_name(tp).replace('|', 'or')} | {doc}{bounds} |")
    return out


def main() -> None:
    print("| key | default | type | meaning |")
    print("|---|---|---|---|")
    print("\n".join(rows(cfg.Config, "", field_docs())))


if __name__ == "__main__":
    main()
