#!/usr/bin/env bash
# Installs Deflect and runs the demo: SQLite + FAISS under ./var, demo shop loaded, API on 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/deflect demo "$@"
