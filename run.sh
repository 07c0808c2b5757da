#!/usr/bin/env bash
# One entry point for the README's two commands; both create or reuse ./.venv first.
#   bash run.sh demo [args]   the main job: the end-to-end demo on embedded data
#   bash run.sh test [args]   the test suite (pytest)
set -euo pipefail
cd "$(dirname "$0")"

VENV=${R2RNET_VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_PINS="torch==2.14.1 torchvision==0.29.1"

setup_venv() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  # Reinstall only when the package's requirements changed since the last install.
  local stamp="$VENV/.r2rnet_installed" want
  want=$(cat setup.py run.sh | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "installing r2rnet_plugin and its dependencies into $VENV (a few minutes the first time)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q $TORCH_PINS
    "$VENV/bin/python" -m pip install -q -e ".[test,demo]"
    echo "$want" > "$stamp"
  fi
}

command=${1:-}
shift || true
case "$command" in
  demo)
    setup_venv
    exec "$VENV/bin/python" -m r2rnet_plugin.demo "$@"
    ;;
  test)
    setup_venv
    exec "$VENV/bin/python" -m pytest -q "$@"
    ;;
  *)
    echo "usage: bash run.sh demo|test [args]" >&2
    exit 2
    ;;
esac
