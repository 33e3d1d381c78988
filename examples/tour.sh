#!/usr/bin/env bash
# A tour of the CLI: a user, an event, a purchase, the failures a script must handle,
# output for pipes and scripts, and the checks. Runs on whatever backend the environment
# selects (embedded when no URI is set; `scripts/dev-servers` prints the exports for
# MongoDB + Redis). Tables look as they do in the terminal it runs in; the README's
# capture ran under `script` at 80 columns.
#   examples/tour.sh [path/to/eventflow]
set -uo pipefail
ef=${1:-eventflow}
run() { printf '$ %s\n' "$*"; "$@"; local rc=$?; ((rc)) && printf '(exit %d)\n' "$rc"; return 0; }
# A pipeline, shown as typed (`ef` stands for the binary).
tuberia() { printf '$ %s\n' "${1//\$ef/eventflow}"; ef=$ef bash -c "$1"; }

# Like `run`, and keeps stdout in $salida.
capturar() { printf '$ %s\n' "$*"; salida=$("$@"); printf '%s\n' "$salida"; }

run "$ef" estado
capturar "$ef" -o json usuarios crear --nombre Juan --apellido Pérez --email juan@example.com
capturar "$ef" -o id usuarios ver --email juan@example.com
u=$salida
capturar "$ef" -o id eventos crear --nombre "Concierto de Rock en el Estadio" \
    --fecha 2025-12-01T21:00:00Z --lugar "Estadio Centenario, Montevideo" --aforo 1000 --precio 2500
e=$salida
run "$ef" reservar --evento "$e" --usuario "$u" --entradas 2
run "$ef" reservar --evento "$e" --usuario "$u" --entradas 5000
EVENTFLOW_PAGO_RECHAZO=1 run "$ef" -o json reservar --evento "$e" --usuario "$u" --entradas 1
run "$ef" eventos listar
run "$ef" usuarios historial "$u"
run "$ef" reservas listar --evento "$e"
tuberia "\$ef reservas listar --evento $e | cut -f1,5"
tuberia "\$ef --no-encabezado -o id reservas listar --estado confirmada"
run "$ef" -o jsonl usuarios listar --limite 1
run "$ef" verificar --evento "$e"
run "$ef" usuarios crear --nombre Ana --apellido Gómez --email ana@
run "$ef" -o json usuarios crear --nombre Juan --apellido Otro --email JUAN@example.com
