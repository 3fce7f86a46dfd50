#!/usr/bin/env bash
# Run the README's test command on another torch release, in a virtual environment of its own.
#
#   bash tools/check_torch.sh 2.14.1 [pytest args...]
#
# The environment is `.venv-torch-VERSION` in this folder (git ignores it) and is reused by the
# next run, since a torch wheel is large. Everything but torch comes from requirements.txt.
# Where pip can only find a CUDA build of that release, it is several GB and still runs on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: bash tools/check_torch.sh TORCH_VERSION [pytest args...]}
shift
venv=".venv-torch-$version"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
# shellcheck disable=SC1091
. "$venv/bin/activate"
pip install --quiet --disable-pip-version-check "torch==$version"
grep -v '^torch==' requirements.txt > "$venv/requirements-without-torch.txt"
pip install --quiet --disable-pip-version-check -r "$venv/requirements-without-torch.txt" "torch==$version"
python -c "import torch, sys; v = torch.__version__.split('+')[0]; sys.exit(v != '$version' and f'got torch {torch.__version__}')"
echo "torch $(python -c 'import torch; print(torch.__version__)')"
python -m pytest "$@"
