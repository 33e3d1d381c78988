# shellcheck shell=bash
# Shared helpers for scripts/test and scripts/dev-servers: install and start
# the throwaway MongoDB-compatible server (NX-27017, see
# shared/mongo-test-server.md) and redis-server on free loopback ports, wait
# until they accept connections, and stop them again.
#
# Source it from bash; it sets no shell options of its own. Every function and
# global is prefixed with ef_/EF_.

EF_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EF_NX_VERSION="0.8.1"
EF_VENV="$EF_ROOT/.venv"
EF_NX_BIN="$EF_VENV/bin/nx-27017"
# Seconds to wait for a server to accept connections.
EF_START_TIMEOUT="${EF_START_TIMEOUT:-30}"

EF_RUN_DIR=""
EF_MONGO_PID=""
EF_MONGO_PORT=""
EF_REDIS_PID=""
EF_REDIS_PORT=""
# The six nodes of the test Redis Cluster (issue 14): pids and ports, in order.
EF_CLUSTER_PIDS=()
EF_CLUSTER_PORTS=()
# Set by the signal traps: the servers may have got the signal too, so their
# exit is then no surprise.
EF_SIGNALLED=""

ef_step() { printf '==> %s\n' "$*" >&2; }
ef_info() { printf '    %s\n' "$*" >&2; }
ef_die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Run a command as root: directly when we are root, through sudo otherwise.
ef_as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        ef_die "need root to run '$*' (not root and no sudo); install it by hand"
    fi
}

# Quietly apt-get install the given Debian packages; show apt's output only if
# it fails.
ef_apt_install() {
    local log
    log="$(mktemp)"
    if ! {
        ef_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            ef_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
    } >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        rm -f "$log"
        ef_die "apt-get install $* failed"
    fi
    rm -f "$log"
}

ef_ensure_redis() {
    if ! command -v redis-server >/dev/null 2>&1; then
        ef_step "installing redis-server (apt-get)"
        ef_apt_install redis-server
        command -v redis-server >/dev/null 2>&1 || ef_die "redis-server is still not on PATH after installing it"
    fi
}

# True when .venv holds a working nx-27017 of the pinned version. The entry
# point's shebang is an absolute path, so a venv that was moved or copied from
# elsewhere counts as broken.
ef_nx_ok() {
    [[ -x $EF_NX_BIN ]] || return 1
    local shebang
    IFS= read -r shebang <"$EF_NX_BIN" || return 1
    shebang="${shebang#\#!}"
    [[ -x ${shebang%% *} ]] || return 1
    compgen -G "$EF_VENV/lib/python3*/site-packages/nx_27017-$EF_NX_VERSION.dist-info" >/dev/null
}

ef_ensure_nx() {
    ef_nx_ok && return 0
    command -v python3 >/dev/null 2>&1 || ef_die "python3 is needed for the NX-27017 test server"
    ef_step "installing nx-27017==$EF_NX_VERSION into .venv"
    if [[ ! -x $EF_VENV/bin/python ]] || ! "$EF_VENV/bin/python" -c '' >/dev/null 2>&1 ||
        ! "$EF_VENV/bin/python" -m pip --version >/dev/null 2>&1; then
        if ! python3 -m venv --clear "$EF_VENV" >/dev/null 2>&1; then
            # Debian's own python3 ships venv/ensurepip separately.
            ef_apt_install python3-venv
            python3 -m venv --clear "$EF_VENV" || ef_die "python3 -m venv .venv failed"
        fi
    fi
    "$EF_VENV/bin/pip" install -q --disable-pip-version-check "nx-27017==$EF_NX_VERSION" ||
        ef_die "pip install nx-27017==$EF_NX_VERSION failed"
    ef_nx_ok || ef_die "nx-27017 is not usable in .venv after installing it"
}

# Print a TCP port that is free on 127.0.0.1 right now.
ef_free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# ef_port_open PORT: true when something accepts connections on 127.0.0.1:PORT.
ef_port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ef_listens PID PORT: true when process PID itself has a listening TCP socket
# on 127.0.0.1:PORT (read from /proc, so a server that lost a race for the
# port is not mistaken for ready because someone else answers there). Where
# /proc/net/tcp is unreadable it settles for PID being alive.
ef_listens() {
    local pid=$1 port=$2 want line inode
    local -a f
    kill -0 "$pid" 2>/dev/null || return 1
    [[ -r /proc/net/tcp && -d /proc/$pid/fd ]] || return 0
    printf -v want '0100007F:%04X' "$port"
    while read -r line; do
        read -ra f <<<"$line"
        # f[1] local address, f[3] state (0A = LISTEN), f[9] socket inode
        if [[ ${f[1]} == "$want" && ${f[3]} == 0A ]]; then
            inode=${f[9]}
            break
        fi
    done </proc/net/tcp
    [[ -n ${inode:-} ]] || return 1
    local fd
    for fd in /proc/"$pid"/fd/*; do
        [[ $(readlink "$fd" 2>/dev/null) == "socket:[$inode]" ]] && return 0
    done
    return 1
}

# ef_wait_ready NAME PID PORT LOG: poll until PID accepts connections on
# 127.0.0.1:PORT. Returns 0 when it does, 2 when PID exits first (e.g. it lost
# the port to someone else), 1 after EF_START_TIMEOUT seconds; on failure it
# prints what happened and the tail of LOG.
ef_wait_ready() {
    local name=$1 pid=$2 port=$3 log=$4
    local deadline=$((SECONDS + EF_START_TIMEOUT))
    while :; do
        if ! kill -0 "$pid" 2>/dev/null; then
            ef_log_tail "$log"
            printf 'error: %s (pid %s) exited before accepting connections on 127.0.0.1:%s\n' \
                "$name" "$pid" "$port" >&2
            return 2
        fi
        if ef_port_open "$port" && ef_listens "$pid" "$port"; then
            return 0
        fi
        if ((SECONDS >= deadline)); then
            ef_log_tail "$log"
            printf 'error: %s (pid %s) did not accept connections on 127.0.0.1:%s within %ss\n' \
                "$name" "$pid" "$port" "$EF_START_TIMEOUT" >&2
            return 1
        fi
        sleep 0.05
    done
}

# ef_check_port_free PORT: fail when PORT, given by the user, is already taken.
ef_check_port_free() {
    if ef_port_open "$1"; then
        ef_die "port 127.0.0.1:$1 is already in use"
    fi
}

ef_log_tail() {
    if [[ -s $1 ]]; then
        printf -- '--- last lines of %s ---\n' "$1" >&2
        tail -n 30 "$1" >&2
        printf -- '---\n' >&2
    fi
}

# Create the run directory that holds the servers' logs, pid files and data.
ef_make_run_dir() {
    EF_RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/eventflow-servers.XXXXXX")"
}

# ef_start_mongo [PORT]: start NX-27017 in memory on PORT (default: a free
# one, retried on a race for it). Sets EF_MONGO_PID and EF_MONGO_PORT; exits
# the shell if the server does not come up.
ef_start_mongo() {
    local attempt rc
    [[ -z ${1:-} ]] || ef_check_port_free "$1"
    for attempt in 1 2 3; do
        EF_MONGO_PORT="${1:-$(ef_free_port)}"
        # nx writes start-up errors to stdout/stderr, the rest to --log-file.
        "$EF_NX_BIN" --db memory --host 127.0.0.1 -p "$EF_MONGO_PORT" \
            --log-file "$EF_RUN_DIR/nx.log" --pid-file "$EF_RUN_DIR/nx.pid" \
            </dev/null >>"$EF_RUN_DIR/nx.out" 2>&1 &
        EF_MONGO_PID=$!
        rc=0
        ef_wait_ready nx-27017 "$EF_MONGO_PID" "$EF_MONGO_PORT" "$EF_RUN_DIR/nx.out" || rc=$?
        ((rc == 0)) && return 0
        EF_SIGNALLED=quiet ef_stop_pid nx-27017 "$EF_MONGO_PID" "$EF_RUN_DIR/nx.out"
        EF_MONGO_PID=""
        # Only an early exit on a port we picked ourselves is worth a retry.
        [[ $rc -eq 2 && -z ${1:-} && $attempt -lt 3 ]] || break
        ef_info "retrying nx-27017 on another port"
    done
    ef_die "could not start nx-27017 (logs: see above)"
}

# ef_start_redis [PORT]: start a throwaway redis-server (no persistence) on
# PORT (default: a free one, retried on a race for it). Sets EF_REDIS_PID and
# EF_REDIS_PORT; exits the shell if the server does not come up.
ef_start_redis() {
    local attempt rc
    [[ -z ${1:-} ]] || ef_check_port_free "$1"
    mkdir -p "$EF_RUN_DIR/redis"
    for attempt in 1 2 3; do
        EF_REDIS_PORT="${1:-$(ef_free_port)}"
        redis-server --port "$EF_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
            --dir "$EF_RUN_DIR/redis" --daemonize no \
            </dev/null >>"$EF_RUN_DIR/redis.log" 2>&1 &
        EF_REDIS_PID=$!
        rc=0
        ef_wait_ready redis-server "$EF_REDIS_PID" "$EF_REDIS_PORT" "$EF_RUN_DIR/redis.log" || rc=$?
        ((rc == 0)) && return 0
        EF_SIGNALLED=quiet ef_stop_pid redis-server "$EF_REDIS_PID" "$EF_RUN_DIR/redis.log"
        EF_REDIS_PID=""
        [[ $rc -eq 2 && -z ${1:-} && $attempt -lt 3 ]] || break
        ef_info "retrying redis-server on another port"
    done
    ef_die "could not start redis-server (logs: see above)"
}

# ef_cluster_ports N: print N distinct ports of 55535 or less that are free on
# 127.0.0.1, each with its cluster bus port (+10000) free too; a node whose bus
# port would pass 65535 refuses to start.
ef_cluster_ports() {
    python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
taken, out = set(), []
for _ in range(20000):
    p = random.randint(20000, 55535)
    if {p, p + 10000} & taken or not free(p) or not free(p + 10000):
        continue
    taken |= {p, p + 10000}
    out.append(p)
    if len(out) == n:
        break
if len(out) < n:
    sys.exit("no free ports for the Redis Cluster")
print(" ".join(map(str, out)))
PY
}

# ef_start_redis_cluster: start six redis-server nodes in cluster mode (AOF on,
# --cluster-node-timeout 1000), join them as three primaries with one replica
# each, and wait until every node sees the cluster as ok and every replica is in
# sync (writes then wait for a replica: WAIT 1). Sets EF_CLUSTER_PIDS and
# EF_CLUSTER_PORTS; exits the shell if the cluster does not come up.
ef_start_redis_cluster() {
    local attempt port i ok
    # redis-cli joins the nodes; Debian ships it in redis-tools.
    command -v redis-cli >/dev/null 2>&1 || ef_apt_install redis-tools
    for attempt in 1 2 3; do
        read -ra EF_CLUSTER_PORTS <<<"$(ef_cluster_ports 6)" || ef_die "no free ports for the Redis Cluster"
        EF_CLUSTER_PIDS=()
        ok=1
        for port in "${EF_CLUSTER_PORTS[@]}"; do
            mkdir -p "$EF_RUN_DIR/cluster/$port"
            redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
                --cluster-config-file nodes.conf --cluster-node-timeout 1000 \
                --appendonly yes --appendfsync everysec --save '' \
                --dir "$EF_RUN_DIR/cluster/$port" --daemonize no \
                </dev/null >>"$EF_RUN_DIR/cluster/$port.log" 2>&1 &
            EF_CLUSTER_PIDS+=("$!")
        done
        for i in "${!EF_CLUSTER_PORTS[@]}"; do
            ef_wait_ready "redis-server (cluster)" "${EF_CLUSTER_PIDS[$i]}" "${EF_CLUSTER_PORTS[$i]}" \
                "$EF_RUN_DIR/cluster/${EF_CLUSTER_PORTS[$i]}.log" || ok=0
        done
        # shellcheck disable=SC2046 # one word per node is the point
        if ((ok)) && redis-cli --cluster create $(printf '127.0.0.1:%s ' "${EF_CLUSTER_PORTS[@]}") \
            --cluster-replicas 1 --cluster-yes >"$EF_RUN_DIR/cluster/create.log" 2>&1 &&
            ef_wait_cluster_ok; then
            return 0
        fi
        ef_log_tail "$EF_RUN_DIR/cluster/create.log"
        ef_stop_cluster quiet
        ((attempt < 3)) && ef_info "retrying the Redis Cluster on other ports"
    done
    ef_die "could not start the Redis Cluster (logs: see above)"
}

# True once every node reports cluster_state:ok and every replica's link to
# its primary is up, within EF_START_TIMEOUT seconds.
ef_wait_cluster_ok() {
    local deadline=$((SECONDS + EF_START_TIMEOUT)) port listo
    while ((SECONDS < deadline)); do
        listo=1
        for port in "${EF_CLUSTER_PORTS[@]}"; do
            if ! redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; then
                listo=0
                break
            fi
            if redis-cli -p "$port" info replication 2>/dev/null | grep -q '^role:slave' &&
                ! redis-cli -p "$port" info replication 2>/dev/null | grep -q '^master_link_status:up'; then
                listo=0
                break
            fi
        done
        ((listo)) && return 0
        sleep 0.1
    done
    printf 'error: the Redis Cluster on ports %s did not become ok within %ss\n' \
        "${EF_CLUSTER_PORTS[*]}" "$EF_START_TIMEOUT" >&2
    return 1
}

# ef_stop_cluster [quiet]: stop the cluster's nodes (quietly when asked).
ef_stop_cluster() {
    local i signalled=$EF_SIGNALLED
    [[ ${1:-} == quiet ]] && signalled=quiet
    for i in "${!EF_CLUSTER_PIDS[@]}"; do
        EF_SIGNALLED=$signalled ef_stop_pid "redis-server (cluster :${EF_CLUSTER_PORTS[$i]})" \
            "${EF_CLUSTER_PIDS[$i]}" "$EF_RUN_DIR/cluster/${EF_CLUSTER_PORTS[$i]}.log"
    done
    EF_CLUSTER_PIDS=()
}

ef_redis_cluster_url() {
    local port urls=()
    for port in "${EF_CLUSTER_PORTS[@]}"; do
        urls+=("redis://127.0.0.1:$port/")
    done
    local IFS=,
    printf '%s' "${urls[*]}"
}

ef_mongo_uri() { printf 'mongodb://127.0.0.1:%s/?serverSelectionTimeoutMS=2000' "$EF_MONGO_PORT"; }
ef_redis_url() { printf 'redis://127.0.0.1:%s/' "$EF_REDIS_PORT"; }

# ef_stop_pid NAME PID LOG: TERM the process, KILL it after 10 s, reap it. A
# process that had already exited is reported with its log tail (unless
# EF_SIGNALLED is set). Never fails, so it is safe under set -e.
ef_stop_pid() {
    local name=$1 pid=$2 log=$3 i
    [[ -n $pid ]] || return 0
    if ! kill -0 "$pid" 2>/dev/null; then
        if [[ -z $EF_SIGNALLED ]]; then
            printf 'warning: %s (pid %s) had exited before the end of the run\n' "$name" "$pid" >&2
            ef_log_tail "$log"
        fi
        wait "$pid" 2>/dev/null || true
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        printf 'warning: %s (pid %s) ignored SIGTERM; killing it\n' "$name" "$pid" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    return 0
}

# Stop whatever ef_start_* started and remove the run directory. Safe to call
# more than once and from an EXIT trap: it never fails.
ef_cleanup() {
    set +e
    ef_stop_pid redis-server "$EF_REDIS_PID" "$EF_RUN_DIR/redis.log"
    EF_REDIS_PID=""
    ef_stop_cluster
    ef_stop_pid nx-27017 "$EF_MONGO_PID" "$EF_RUN_DIR/nx.out"
    EF_MONGO_PID=""
    if [[ -n $EF_RUN_DIR ]]; then
        rm -rf -- "$EF_RUN_DIR"
        EF_RUN_DIR=""
    fi
}

# Install traps so that ef_cleanup runs on any exit, Ctrl-C and SIGTERM
# included. The signal traps exit with 128+signal, which runs the EXIT trap.
ef_install_traps() {
    trap ef_cleanup EXIT
    trap 'EF_SIGNALLED=INT; exit 130' INT
    trap 'EF_SIGNALLED=TERM; exit 143' TERM
    trap 'EF_SIGNALLED=HUP; exit 129' HUP
}
