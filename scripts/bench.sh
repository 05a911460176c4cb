#!/usr/bin/env bash
# Regenerates docs/benchmarks.md: builds openciam and openciam-bench in release mode, runs every
# benchmark of issue 8 against servers the tool starts itself (each on a fresh data directory),
# and writes the figures with the command that produced each and the machine's load at the time.
#
#   scripts/bench.sh                 # everything (about 15 minutes on 2 cores)
#   BENCH_SECONDS=10 scripts/bench.sh   # shorter measured segments
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432 scripts/bench.sh  # PostgreSQL server
#                                    # (default that URL; BENCH_POSTGRES=0 skips PostgreSQL)
#   BENCH_MILLION=0 scripts/bench.sh # skip the 1,000,000-user runs
#   BENCH_MICRO=0 scripts/bench.sh   # skip the criterion micro-benchmarks
#   BENCH_BIN_DIR=dir scripts/bench.sh  # use prebuilt release binaries instead of building
#   BENCH_BEFORE_BIN_DIR=dir scripts/bench.sh  # also run the before/after pairs: each marked run
#                                    # again right after it, against the `openciam` in dir
#
# Run it on a quiet machine: the load tool and the server share it, and every figure is only as
# good as the machine's idleness (the load averages before and after each run are recorded).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${BENCH_SECONDS:-20}
PG_BASE=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
PG=${BENCH_POSTGRES:-1}
MILLION=${BENCH_MILLION:-1}
OUT=target/bench
mkdir -p "$OUT"
rm -rf "$OUT"/*.json "$OUT"/manifest.tsv "$OUT"/criterion

# BENCH_BIN_DIR: a directory holding prebuilt release `openciam` and `openciam-bench` (skips the build).
if [ -n "${BENCH_BIN_DIR:-}" ]; then
  B=$BENCH_BIN_DIR/openciam-bench
else
  echo "building (release)…" >&2
  cargo build --release -q -p openciam -p openciam-bench
  B=target/release/openciam-bench
fi

# run NAME DESCRIPTION ARGS… : one run, JSON to $OUT/NAME.json, recorded in the manifest.
run() {
  local name=$1 what=$2
  shift 2
  echo "== $name: openciam-bench $*" >&2
  "$B" "$@" --json --out "$OUT/$name.json"
  printf '%s\t%s\t%s\n' "$name" "$what" "openciam-bench $*" >>"$OUT/manifest.tsv"
}

# before NAME DESCRIPTION ARGS… : with BENCH_BEFORE_BIN_DIR, the run NAME again against the server
# built before the change under study (the load tool is this run's), as NAME_before.
# The change now: SQLite writers of one process take turns instead of sleeping in SQLite's busy
# handler, the hot write transactions go to the database in one trip on one writer task that also
# batches the rate-limit counts and audit events of concurrent requests, and neither pool pings a
# connection on its way out.
before() {
  [ -n "${BENCH_BEFORE_BIN_DIR:-}" ] || return 0
  local name=$1 what=$2
  shift 2
  run "${name}_before" "$what, server before the change" "$@" --openciam "$BENCH_BEFORE_BIN_DIR/openciam"
}

fresh_pg() {
  psql "$PG_BASE/postgres" -qAt -c "DROP DATABASE IF EXISTS openciam_bench" -c "CREATE DATABASE openciam_bench" >/dev/null
  echo "$PG_BASE/openciam_bench"
}

flows_per_s() { jq -r '.flows_per_s' "$OUT/$1.json"; }

# Micro-benchmarks (criterion): token signing, continuation-token lookup, form parsing, error
# rendering. Run first, so their compilation is over before the flow runs start.
if [ "${BENCH_MICRO:-1}" = 1 ]; then
  echo "== micro-benchmarks (cargo bench)" >&2
  rm -rf target/criterion
  cargo bench -q -p openciam-core --bench token_signing >&2
  cargo bench -q -p openciam-store --bench flow_lookup >&2
  cargo bench -q -p openciam-wire --bench form_parsing --bench error_rendering >&2
  cp -r target/criterion "$OUT/criterion"
fi

S=$SECONDS_PER_RUN
echo "== raw" >&2
"$B" raw --windows 5 --window 1 --json >"$OUT/raw.json"
printf 'raw\t%s\t%s\n' "raw limits, machine otherwise idle" "openciam-bench raw --windows 5 --window 1" >>"$OUT/manifest.tsv"

# SQLite (serve on a file): password sign-in, refresh.
run pw_sqlite "password sign-in, closed loop (serve, SQLite)" \
  run --spawn serve --flow password-signin --concurrency 16 --duration "$S" --raw
before pw_sqlite "password sign-in, closed loop (serve, SQLite)" \
  run --spawn serve --flow password-signin --concurrency 16 --duration "$S" --raw
run refresh_sqlite "refresh grant, closed loop (serve, SQLite)" \
  run --spawn serve --flow refresh --concurrency 32 --sessions 512 --duration "$S" --raw
before refresh_sqlite "refresh grant, closed loop (serve, SQLite)" \
  run --spawn serve --flow refresh --concurrency 32 --sessions 512 --duration "$S" --raw
run refresh_sqlite_1000 "refresh grant at a fixed 1,000/s (serve, SQLite)" \
  run --spawn serve --flow refresh --rate 1000 --sessions 1024 --duration "$S"
before refresh_sqlite_1000 "refresh grant at a fixed 1,000/s (serve, SQLite)" \
  run --spawn serve --flow refresh --rate 1000 --sessions 1024 --duration "$S"
# The same latency target scaled to this machine: 1,000/s was set for a VM signing 7,000 RS256/s
# (two signatures per grant), so the rate here is 1,000 x this machine's raw RS256 rate / 7,000.
SCALED=$(jq -n "1000 * $(jq -r '.rs256_per_s' "$OUT/raw.json") / 7000 | floor")
run refresh_sqlite_scaled "refresh grant at $SCALED/s, the 1,000/s target scaled to this machine's RS256 rate (serve, SQLite)" \
  run --spawn serve --flow refresh --rate "$SCALED" --sessions 1024 --duration "$S"
# 3x the saturating load: RSS under overload (the hash queue sheds with 503).
PW_RATE=$(flows_per_s pw_sqlite)
RF_RATE=$(flows_per_s refresh_sqlite)
run pw_sqlite_3x "password sign-in at 3x the measured saturation (serve, SQLite)" \
  run --spawn serve --flow password-signin --rate "$(jq -n "$PW_RATE*3|floor")" --duration "$S"
run refresh_sqlite_3x "refresh grant at 3x the measured saturation (serve, SQLite)" \
  run --spawn serve --flow refresh --rate "$(jq -n "$RF_RATE*3|floor")" --sessions 4096 --duration "$S"

# dev with the bench limits profile: the code flows (codes from the dev mailbox).
run code_dev "e-mail-code sign-in, closed loop (dev --limits bench)" \
  run --spawn dev --flow code-signin --concurrency 32 --duration "$S"
before code_dev "e-mail-code sign-in, closed loop (dev --limits bench)" \
  run --spawn dev --flow code-signin --concurrency 32 --duration "$S"
run signup_dev "password sign-up with code, closed loop (dev --limits bench)" \
  run --spawn dev --flow signup --concurrency 16 --duration "$S" --raw

# 1,000 vs 1,000,000 users: sign-in latency at a fixed 20/s.
run pw_sqlite_1k_20 "password sign-in at 20/s, 1,000 users (serve, SQLite)" \
  run --spawn serve --flow password-signin --rate 20 --users 1000 --duration "$S"
if [ "$MILLION" = 1 ]; then
  run pw_sqlite_1m_20 "password sign-in at 20/s, 1,000,000 users (serve, SQLite)" \
    run --spawn serve --flow password-signin --rate 20 --users 1000000 --duration "$S"
fi

if [ "$PG" = 1 ]; then
  run pw_pg "password sign-in, closed loop (serve, PostgreSQL)" \
    run --spawn serve --database "$(fresh_pg)" --flow password-signin --concurrency 16 --duration "$S" --raw
  run refresh_pg "refresh grant, closed loop (serve, PostgreSQL)" \
    run --spawn serve --database "$(fresh_pg)" --flow refresh --concurrency 32 --sessions 512 --duration "$S" --raw
  before refresh_pg "refresh grant, closed loop (serve, PostgreSQL)" \
    run --spawn serve --database "$(fresh_pg)" --flow refresh --concurrency 32 --sessions 512 --duration "$S" --raw
  run refresh_pg_1000 "refresh grant at a fixed 1,000/s (serve, PostgreSQL)" \
    run --spawn serve --database "$(fresh_pg)" --flow refresh --rate 1000 --sessions 1024 --duration "$S"
  run code_pg "e-mail-code sign-in, closed loop (dev --limits bench --database PostgreSQL)" \
    run --spawn dev --database "$(fresh_pg)" --flow code-signin --concurrency 32 --duration "$S"
  before code_pg "e-mail-code sign-in, closed loop (dev --limits bench --database PostgreSQL)" \
    run --spawn dev --database "$(fresh_pg)" --flow code-signin --concurrency 32 --duration "$S"
  run signup_pg "password sign-up with code, closed loop (dev --limits bench --database PostgreSQL)" \
    run --spawn dev --database "$(fresh_pg)" --flow signup --concurrency 16 --duration "$S" --raw
  run pw_pg_1k_20 "password sign-in at 20/s, 1,000 users (serve, PostgreSQL)" \
    run --spawn serve --database "$(fresh_pg)" --flow password-signin --rate 20 --users 1000 --duration "$S"
  if [ "$MILLION" = 1 ]; then
    run pw_pg_1m_20 "password sign-in at 20/s, 1,000,000 users (serve, PostgreSQL)" \
      run --spawn serve --database "$(fresh_pg)" --flow password-signin --rate 20 --users 1000000 --duration "$S"
  fi
  psql "$PG_BASE/postgres" -qAt -c "DROP DATABASE IF EXISTS openciam_bench" >/dev/null || true
fi

if [ -n "${BENCH_BEFORE_BIN_DIR:-}" ]; then
  sed -i "s#$BENCH_BEFORE_BIN_DIR/openciam#BEFORE/openciam#g" "$OUT/manifest.tsv"
fi

python3 scripts/bench_report.py "$OUT" >docs/benchmarks.md
echo "wrote docs/benchmarks.md" >&2
