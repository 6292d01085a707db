#!/usr/bin/env bash
# Set up ./.venv with curate and a CPU-only PyTorch (no CUDA packages): the README's first command.
#
#   scripts/install.sh            # curate + the annotate extra (what `curate demo` runs), CPU torch
#   scripts/install.sh dev        # everything the tests need (Ray, Streamlit, test tools) as well
#   scripts/install.sh core       # curate without torch: snapshots, reports, contamination, judges
#
# Why a script: on Linux, PyPI's torch is the CUDA build (several GB). The CPU build comes from PyTorch's own
# index; where that index cannot be reached (an offline mirror, a machine with a torch wheel on disk), torch
# is taken from the indexes pip is configured with. On a GPU machine install the torch build for your CUDA
# first (`pip install torch`), then `pip install -e ".[annotate]"`.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-annotate}"
torch_pin="torch==2.13.0"
cpu_index="https://download.pytorch.org/whl/cpu"

[ -d .venv ] || python3 -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip

if [ "$extra" != "core" ] && ! python -c "import torch" 2>/dev/null; then
  if python - "$cpu_index" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/torch/", timeout=5)
except Exception:
    sys.exit(1)
PY
  then
    python -m pip install --quiet "$torch_pin" --index-url "$cpu_index"
  else
    echo "install.sh: PyTorch's CPU index is not reachable; taking $torch_pin from pip's configured indexes" >&2
    python -m pip install --quiet "$torch_pin"
  fi
fi
if [ "$extra" = "core" ]; then
  python -m pip install --quiet -e .
else
  python -m pip install --quiet -e ".[$extra]"
fi
echo "installed curate${extra:+ [$extra]} in .venv ($(du -sh .venv | cut -f1)); activate it with: . .venv/bin/activate"
