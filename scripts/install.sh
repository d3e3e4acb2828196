#!/usr/bin/env bash
# Install segbench and every plugin under plugins/ into ./.venv (created if missing).
#
#   bash scripts/install.sh            core + plugins, ready for `segbench run`
#   bash scripts/install.sh --test     the same plus the test and peer extras
#   bash scripts/install.sh --core     core only (no torch, no tensorflow)
#
# Every pip call passes constraints.txt, which pins the CPU build of torch.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all
extras="dask,plots"
for arg in "$@"; do
  case "$arg" in
    --test) extras="test,peers" ;;
    --core) mode=core ;;
    *) echo "install.sh: unknown option '$arg' (use --test or --core)" >&2; exit 2 ;;
  esac
done

python3 -m venv .venv
pip=(.venv/bin/python -m pip install --quiet -c constraints.txt)
if [ "$mode" = core ]; then
  "${pip[@]}" -e ".[${extras/,peers/}]"
  exit 0
fi
# torch first, from its pinned CPU wheel, so no later step resolves a CUDA build.
"${pip[@]}" torch==2.13.0
plugin_args=()
for plugin in plugins/*/; do
  [ -f "$plugin/pyproject.toml" ] && plugin_args+=(-e "${plugin}[test]")
done
"${pip[@]}" -e ".[${extras}]" "${plugin_args[@]}"
