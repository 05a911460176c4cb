#!/usr/bin/env bash
# Entry point for the MSAL.js real-client e2e suite.
#   OPENCIAM_BIN   path to a built openciam binary (default: ../../target/debug/openciam)
#   CHROMIUM_PATH  Chromium executable (default: /usr/bin/chromium)
#   CI=true        missing Chromium is an error instead of a skip
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

log() { echo "[msal-js e2e] $*" >&2; }

# 1. Node dependencies (exact pins from package-lock.json).
if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] \
   || [ package.json -nt node_modules/.package-lock.json ] \
   || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  if [ -f package-lock.json ]; then
    log "installing node modules (npm ci)"
    npm ci --no-audit --no-fund
  else
    log "no package-lock.json; installing node modules (npm install)"
    npm install --no-audit --no-fund
  fi
fi

# 2. Chromium.
CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
export CHROMIUM_PATH
if [ ! -x "$CHROMIUM_PATH" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  log "$CHROMIUM_PATH missing; installing Debian chromium"
  if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }; then
    log "apt-get install chromium failed"
  fi
fi
if [ ! -x "$CHROMIUM_PATH" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "ERROR: msal-js suite needs Chromium at $CHROMIUM_PATH (set CHROMIUM_PATH or install the 'chromium' package)" >&2
    exit 1
  fi
  echo "SKIPPED: msal-js suite (no chromium)"
  exit 0
fi

# 3. The openciam binary under test.
OPENCIAM_BIN="${OPENCIAM_BIN:-../../target/debug/openciam}"
case "$OPENCIAM_BIN" in
  /*) ;;
  *) OPENCIAM_BIN="$(pwd)/$OPENCIAM_BIN" ;;
esac
if [ ! -x "$OPENCIAM_BIN" ]; then
  echo "ERROR: openciam binary not found or not executable at $OPENCIAM_BIN (build it first, or set OPENCIAM_BIN)" >&2
  exit 1
fi
export OPENCIAM_BIN

# 4. Bundle the page and run the tests.
node build.mjs
exec node --test test/
