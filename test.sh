#!/usr/bin/env bash
# One command to run the tests: sets up .venv with the test tools if needed, then runs pytest (all tests, the
# ones that run the bundled 0.5B model included). Extra arguments go to pytest, e.g. ./test.sh -m "not llm".
set -euo pipefail
cd "$(dirname "$0")"
./start.sh --install-only --dev
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
exec .venv/bin/python -m pytest -q "$@"
