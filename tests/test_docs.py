"""The documentation says what the code does: the generated references are current, the README stays
short enough to read, and every file it links to exists."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from seqlab.config.settings import key_specs

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_config_and_cli_references_are_generated_from_the_current_code():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_docs.py"), "--check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_config_reference_has_every_key_with_its_doc():
    reference = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    for spec in key_specs():
        assert f"| `{spec.key}` |" in reference and spec.doc, spec.key


def test_readme_is_short_and_its_links_resolve():
    assert len(README) < 12_000, f"README.md has {len(README)} characters"
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert links and all((ROOT / link).exists() for link in links if not link.startswith("http")), links
    for name in ("scripts/demo.sh", "scripts/test.sh"):
        assert f"bash {name}" in README and (ROOT / name).is_file()


DOCS = {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8") for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]}


def test_every_import_shown_in_the_readme_and_docs_works():
    """Each ``from seqlab… import …`` / ``import seqlab…`` line of a code block runs in a fresh interpreter."""
    lines = sorted({line.strip() for text in DOCS.values() for block in text.split("```")[1::2] for line in block.splitlines()
                    if re.match(r"\s*(from seqlab[\w.]* import [\w, ]+|import seqlab[\w.]*)\s*(#.*)?$", line)})
    assert "from seqlab import Tagger" in lines and "from seqlab.train import train" in lines
    done = subprocess.run([sys.executable, "-c", "\n".join(line.split("#")[0].strip() for line in lines)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]


def test_every_dotted_name_the_docs_mention_exists():
    """``seqlab.x.y`` in backticks names a module, or a module's attribute, that exists (a moved or
    renamed module leaves no dangling name in the docs)."""
    import importlib

    missing = []
    for name, text in DOCS.items():
        for ref in sorted(set(re.findall(r"`[^`\n]*?\b(seqlab(?:\.[A-Za-z_]\w*)+)", text))):
            parts = ref.split(".")
            for k in range(len(parts), 0, -1):
                try:
                    found: object = importlib.import_module(".".join(parts[:k]))
                except ImportError:
                    continue
                for attribute in parts[k:]:
                    found = getattr(found, attribute, None)
                break
            if found is None:
                missing.append(f"{name}: {ref}")
    assert not missing, missing


def apple_table_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("apple_table", ROOT / "scripts" / "bench" / "apple_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readmes_apple_table_has_the_form_scripts_apple_table_prints():
    """The full run takes minutes (python scripts/bench/apple_table.py --seeds 3); here its printer and the
    README's copy must agree line for line in form: the header, one row per config in order, the footer."""
    table = apple_table_module()
    block = README.split("$ python scripts/bench/apple_table.py --seeds 3\n", 1)[1].split("```", 1)[0].rstrip("\n").splitlines()
    cell = r"\d+\.\d(?: ± \d+\.\d)?"
    row = re.compile(rf"^(\S+) +({cell}) +({cell}) +({cell}) +({cell}) +(\d+\.\d)  (B-\w+|O) / (B-\w+|O)$")
    footer = re.compile(r"^\(accuracy in % on the \d+ apple tokens of data/apple/test.conll; seeds: \d+; notes' sentences: seed 1\)$")
    assert block[0] == table.HEADER
    assert [row.match(line).group(1) for line in block[1:-1]] == ["none", "rnn", "lstm", "gru", "lstm_uni"]
    assert footer.match(block[-1]), block[-1]
    fake = [(name, [{"all": 0.5, "before": 0.25, "after": 1.0, "f1": 0.75, "apple_tokens": 689}] * 3, [["B-FRUIT", "B-ORG"]] * 3, [1.0, 2.0, 3.0])
            for name in ("none", "rnn")]
    printed = table.format_table(fake, 3)
    assert printed[0] == table.HEADER and all(row.match(line) for line in printed[1:-1]) and footer.match(printed[-1])
