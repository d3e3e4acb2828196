#!/usr/bin/env bash
# Install segbench and every plugin under plugins/ into ./.venv (created if missing).
#
#   bash scripts/install.sh            core + plugins, ready for `segbench run`
#   bash scripts/install.sh --test     the same plus the test and peer extras, and Debian's
#                                      chromium (headless, for the HTML report's browser test)
#   bash scripts/install.sh --core     core only (no torch, no tensorflow, no CellProfiler)
#   bash scripts/install.sh --no-cellprofiler   everything but CellProfiler's own environment
#
# Every pip call into .venv passes constraints.txt, which pins the CPU build of torch.
# CellProfiler 5 needs numpy<2 and scipy<1.11, so it gets an environment of its own,
# .venv-cellprofiler/, which the cellprofiler plugin (running in .venv) drives.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all
extras="dask,plots"
cellprofiler=yes
browser=no
for arg in "$@"; do
  case "$arg" in
    --test) extras="test,peers"; browser=yes ;;
    --core) mode=core ;;
    --no-cellprofiler) cellprofiler=no ;;
    *) echo "install.sh: unknown option '$arg' (use --test, --core or --no-cellprofiler)" >&2; exit 2 ;;
  esac
done

# CellProfiler's environment: its nightly 5.0 packages run headless without Java.
# Not rebuilt when it is already there and imports; no constraints file (it pins numpy 2).
# cellprofiler-nightly comes last and without its dependencies: it names the GUI's
# wxPython and mysqlclient, which are not needed, and pip's check of an installed
# package's dependencies (an "ERROR: ... requires wxPython" line after a later
# install) runs only for installs with dependencies, so it never reads as a failure.
# tifffile: SaveImages' lossless compression fails with tifffile >= 2025.2.
cellprofiler_env() {
  local venv=.venv-cellprofiler version=5.0.0.dev784 tifffile=2025.1.10
  local check="import cellprofiler_core.pipeline, cellprofiler.modules.identifyprimaryobjects, tifffile
assert tifffile.__version__ == '$tifffile'"
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "$check" 2>/dev/null; then
    return 0
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  local pip=("$venv/bin/python" -m pip install --quiet)
  "${pip[@]}" "cellprofiler-core-nightly==$version" "cellprofiler-library-nightly==$version"
  "${pip[@]}" Jinja2 "sentry-sdk~=2.8.0" rapidfuzz "docutils==0.15.2" "tifffile==$tifffile"
  "${pip[@]}" --no-deps "cellprofiler-nightly==$version"
  "$venv/bin/python" -c "$check"
}

# Headless Chromium loads the HTML report in a test; without it that test is skipped.
# Installed with apt where this runs as root on Debian; elsewhere a note says how.
chromium_browser() {
  if command -v chromium >/dev/null 2>&1; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null \
      || echo "install.sh: note: apt-get could not install chromium; the browser test will be skipped" >&2
  else
    echo "install.sh: note: install Debian's chromium (apt-get install chromium) to run the browser test" >&2
  fi
}

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
if [ "$cellprofiler" = yes ]; then
  cellprofiler_env
fi
if [ "$browser" = yes ]; then
  chromium_browser
fi
