"""The documentation says what the code does: the generated references are current, the README stays
short enough to read, and every file it links to exists."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from seqlab.config import key_specs

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
