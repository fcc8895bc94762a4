#!/usr/bin/env bash
# Install seqlab into ./.venv (created when missing). `bash scripts/install.sh test` adds the test tools.
# torch is installed first, pinned to the CPU wheel 2.13.0, so that resolving the project's torch range
# never pulls a multi-GB CUDA build. Set SEQLAB_TORCH to install another torch (e.g. "torch==2.13.0+cu126").
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2>&1 | grep -v "^WARNING: Location" || true; }
pip install "${SEQLAB_TORCH:-torch==2.13.0}"
extra=""
[ "${1:-}" = "test" ] && extra="[test]"
pip install -e ".${extra}"
.venv/bin/python -c "import seqlab, torch; print(f'seqlab {seqlab.__version__} installed in .venv with torch {torch.__version__}')"
