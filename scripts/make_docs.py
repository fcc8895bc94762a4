#!/usr/bin/env python3
"""Write docs/config.md and docs/cli.md from the code: the config dataclasses (each field's default,
type, range and the docstring under it) and the command line's argparse parsers.

    python scripts/make_docs.py            # rewrite both files
    python scripts/make_docs.py --check    # exit 1 (naming the file) when either is not what the code gives

tests/test_docs.py runs the check, so a change to a key or an option that is not in the docs fails the suite.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from seqlab.cli.parser import build_parser  # noqa: E402
from seqlab.config.settings import key_specs  # noqa: E402

CONFIG_HEAD = """# Config reference

Generated from `seqlab/config/settings.py` by `python scripts/make_docs.py`; do not edit by hand.

A config is one YAML file with the sections `data`, `model` (`embedding`, `encoder`, `decoder`) and
`train`. Every key below has a default, so a file holds only what differs. Unknown keys, wrong types
and out-of-range values are all reported together in one error naming each dotted key and the closest
valid name; `seqlab train --set KEY=VALUE` overrides any key (the value is read as YAML: `true`, `0.1`,
`null`). A trained model's directory holds its resolved config, every key included.

| key | default | type | meaning |
|---|---|---|---|
"""

CLI_HEAD = """# Command-line reference

Generated from `seqlab/cli/parser.py` by `python scripts/make_docs.py`; do not edit by hand.

`seqlab [-q] COMMAND ...` (`-q`: only warnings and errors on stderr). User mistakes (bad config, bad
data, missing model) print one line `seqlab COMMAND: error: ...` on stderr and exit with status 1;
nothing already saved is touched. Ctrl-C exits with status 130 (training writes a checkpoint first).
"""


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("``", "`")


def config_md() -> str:
    rows = []
    for spec in key_specs():
        default = "null" if spec.default is None else str(spec.default).lower() if isinstance(spec.default, bool) else spec.default
        if isinstance(default, tuple):
            default = f"[{', '.join(map(str, default))}]"  # as YAML writes a list
        span = f" Range {spec.range}." if spec.range else ""
        rows.append(f"| `{spec.key}` | `{default}` | {cell(spec.type.replace('|', 'or'))} | {cell(spec.doc)}{span} |")
    return CONFIG_HEAD + "\n".join(rows) + "\n"


def option(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`" + (" ..." if action.nargs in ("+", "*") else "")
    names = ", ".join(action.option_strings)
    if action.nargs == 0:
        return f"`{names}`"
    value = action.metavar or (f"{{{','.join(map(str, action.choices))}}}" if action.choices else action.dest.upper())
    return f"`{names} {value}`"


def command_md(title: str, parser: argparse.ArgumentParser, description: str | None) -> list[str]:
    """One command's section; a command with sub-commands (``seqlab debug data``) gets one per sub-command."""
    parts = [f"\n## {title}\n\n{description or ''}\n"]
    nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]  # argparse keeps its options here; no public accessor
    if nested:
        for choice, sub in nested[0].choices.items():
            help_text = next((a.help for a in nested[0]._choices_actions if a.dest == choice), "")
            parts += command_md(f"{title} {choice}", sub, (help_text or "").capitalize() + ".")
        return parts
    parts.append("| argument | meaning |\n|---|---|")
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        required = " Required." if action.required else ""
        default = f" Default: `{action.default}`." if action.default not in (None, False, [], argparse.SUPPRESS) and action.option_strings else ""
        meaning = cell(action.help or "").rstrip(".")
        parts.append(f"| {cell(option(action))} | {meaning}.{required}{default} |")
    groups = [g for g in parser._mutually_exclusive_groups if g.required]
    for group in groups:
        names = " or ".join(f"`{a.option_strings[0]}`" for a in group._group_actions)
        parts.append(f"\nExactly one of {names}.")
    return parts


def cli_md() -> str:
    _, commands = build_parser()
    parts = [CLI_HEAD]
    for name, parser in commands.items():
        parts += command_md(f"seqlab {name}", parser, parser.description)
    return "\n".join(parts).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    stale = []
    for path, text in ((ROOT / "docs" / "config.md", config_md()), (ROOT / "docs" / "cli.md", cli_md())):
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"stale: {', '.join(stale)}; run python scripts/make_docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
