#!/usr/bin/env bash
# Set up everything on a fresh machine, idempotently.
#   scripts/setup.sh          the app: .venv with torch and the runtime requirements
#   scripts/setup.sh --dev    also the test tools (Ray included, for the ray backend's tests) and
#                             Debian's chromium for the browser tests
# torch is installed first and pinned, so pip takes the CPU wheel where one is provided
# instead of pulling a multi-GB CUDA build through another package's loose requirement.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH="torch==2.13.0"
dev=0
[[ "${1:-}" == "--dev" ]] && dev=1

if [[ ! -x .venv/bin/python ]]; then
  python3 -m venv .venv
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  pip install "$TORCH"
fi
if [[ $dev == 1 ]]; then
  pip install -r requirements-dev.txt
else
  pip install -r requirements.txt
fi

# The emoji font makes headless screenshots show what users' browsers show.
if [[ $dev == 1 ]] && { ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi emoji; }; then
  sudo=""
  [[ $(id -u) != 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q chromium fonts-noto-color-emoji >/dev/null 2>&1 || {
    $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium fonts-noto-color-emoji >/dev/null; }
  command -v chromium >/dev/null || { echo "could not install Debian's chromium (browser tests need it)" >&2; exit 1; }
fi
echo "ready: $(.venv/bin/python -c 'import torch, streamlit; print("torch", torch.__version__, "· streamlit", streamlit.__version__)')"
