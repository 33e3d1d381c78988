#!/usr/bin/env bash
# Issue #6 speed goal: purchases/s over HTTP against the in-process `simular` rate, in the
# same run, against the same servers, with the same shape (N buyers, N seats, 1 ticket
# each, concurrency C, no declines). Needs EVENTFLOW_MONGO_URI / EVENTFLOW_REDIS_URL (or
# runs on the embedded backend when neither is set) and the release build:
#   cargo build --release --bin eventflow --example bench_http
#   examples/bench_http_vs_simular.sh [N] [C] [ROUNDS]
set -euo pipefail
n=${1:-2000} c=${2:-64} rondas=${3:-2}
bin=target/release/eventflow
bench=target/release/examples/bench_http
sufijo=$(date +%s)
for ronda in $(seq 1 "$rondas"); do
    # In process.
    EVENTFLOW_MONGO_DB="bsim_${sufijo}_$ronda" EVENTFLOW_REDIS_PREFIX="bsim_${sufijo}_$ronda:" \
        EVENTFLOW_DATA_DIR="$(mktemp -d)" \
        "$bin" -o json simular --aforo "$n" --compradores "$n" --concurrencia "$c" \
        --rechazo-pago 0 --semilla 1 2>/dev/null |
        python3 -c 'import json,sys; r=json.load(sys.stdin); print("simular", r.get("compras_por_segundo") or r)' 
    # Over HTTP, authenticated like any integrator (issue 11): an admin token, and the
    # rate limits raised above the benchmark's rate (it measures cost, not the limits).
    log=$(mktemp)
    datos=$(mktemp -d)
    export EVENTFLOW_MONGO_DB="bhttp_${sufijo}_$ronda" EVENTFLOW_REDIS_PREFIX="bhttp_${sufijo}_$ronda:" \
        EVENTFLOW_DATA_DIR="$datos"
    EVENTFLOW_API_TOKEN=$("$bin" -o json tokens crear --nombre bench --permisos admin |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["secreto"])')
    export EVENTFLOW_API_TOKEN
    EVENTFLOW_LOG=warn "$bin" serve --addr 127.0.0.1:0 \
        --limite-ip 1000000 --rafaga-ip 1000000 --limite-token 1000000 --rafaga-token 1000000 \
        2>"$log" &
    pid=$!
    until grep -q 'escuchando en' "$log"; do
        kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
        sleep 0.05
    done
    url=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
    "$bench" "$url" "$n" "$c" | grep -i 'compras/s\|purchases/s' || true
    kill -TERM "$pid"; wait "$pid" || true
    unset EVENTFLOW_MONGO_DB EVENTFLOW_REDIS_PREFIX EVENTFLOW_DATA_DIR EVENTFLOW_API_TOKEN
done
