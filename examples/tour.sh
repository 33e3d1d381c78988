#!/usr/bin/env bash
# A tour of the CLI: a user, an event, a purchase, the failures a script must handle,
# and the checks. Runs on whatever backend the environment selects (embedded when no
# URI is set; `scripts/dev-servers` prints the exports for MongoDB + Redis).
#   examples/tour.sh [path/to/eventflow]
set -uo pipefail
ef=${1:-eventflow}
run() { printf '$ %s\n' "$*"; "$@"; local rc=$?; ((rc)) && printf '(exit %d)\n' "$rc"; return 0; }
json() { python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }

# Like `run`, and keeps stdout (one JSON object) in $salida.
capturar() { printf '$ %s\n' "$*"; salida=$("$@"); printf '%s\n' "$salida"; }

run "$ef" estado
capturar "$ef" -o json usuarios crear --nombre Juan --apellido Pérez --email juan@example.com
u=$(json <<<"$salida")
capturar "$ef" -o json eventos crear --nombre "Concierto Rock" --fecha 2025-12-01T21:00:00Z \
    --lugar "Estadio Centenario" --aforo 1000 --precio 2500
e=$(json <<<"$salida")
run "$ef" reservar --evento "$e" --usuario "$u" --entradas 2
run "$ef" reservar --evento "$e" --usuario "$u" --entradas 5000
EVENTFLOW_PAGO_RECHAZO=1 run "$ef" reservar --evento "$e" --usuario "$u" --entradas 1
run "$ef" usuarios historial "$u"
run "$ef" reservas listar --evento "$e"
run "$ef" verificar --evento "$e"
run "$ef" usuarios crear --nombre Ana --apellido Gómez --email ana@
run "$ef" usuarios crear --nombre Juan --apellido Otro --email JUAN@example.com
