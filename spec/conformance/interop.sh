#!/usr/bin/env bash
# FIFO-RPC/1 interop: each implementation's client against the other's echo server.
#
#   spec/conformance/interop.sh            (after `cargo build --examples`)
#
#   Python client -> Rust server:  the CLI checks below; then through the fiforpc library client
#                                  a 4 MiB message, 500 calls in flight, an ERROR answer,
#                                  METHOD_NOT_FOUND and PING; then exit (CLI)
#   Rust client -> Python server:  the CLI checks below, then exit (CLI)
#
# The CLI checks, the same for both clients: small calls, a 100 000-octet message, a 4 MiB
# message (--message-file), 600 calls 200 at a time (--in-flight 200 --repeat 3) and an ERROR
# answer (--method fail: exit status 1 and the code and message on stderr).
#
# After exit each server must exit 0 and leave its directory empty (FR-EXIT-1, FR-FIFO-19).
# Prints one PASS/FAIL line per check, then `N passed, N failed`; exit status 1 on any FAIL.
# Every wait is bounded (timeout(1), read -t); nothing sleeps to synchronise.
#
# Override the programs with RUST_SERVER, RUST_CLIENT (paths) if they live elsewhere.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUST_SERVER=${RUST_SERVER:-$ROOT/target/debug/examples/echo_server}
RUST_CLIENT=${RUST_CLIENT:-$ROOT/target/debug/examples/echo_client}
PY=${PYTHON:-python3}
PY_SERVER=("$PY" "$ROOT/spec/python/echo_server.py")
PY_CLIENT=("$PY" "$ROOT/spec/python/echo_client.py")
WAIT=20  # seconds: the bound of each step
UNICODE=$'h\u00e9llo \u2713'
export LC_ALL=C.UTF-8

passed=0
failed=0
BASE=$(mktemp -d "${TMPDIR:-/tmp}/fiforpc-interop-XXXXXX")
SRV_PID=""  # the echo server running now
SRV_OUT=""  # a descriptor of its stdout

cleanup() {
  if [[ -n "$SRV_PID" ]] && kill -0 "$SRV_PID" 2>/dev/null; then
    kill -KILL "$SRV_PID" 2>/dev/null
  fi
  rm -rf "$BASE"
}
trap cleanup EXIT

# pass/fail NAME [DETAIL...]: one line each; DETAIL words are joined with spaces.
pass() { local n=$1; shift; echo "PASS $n${*:+ ($*)}"; passed=$((passed + 1)); }
fail() { local n=$1; shift; echo "FAIL $n${*:+ ($*)}"; failed=$((failed + 1)); }

for prog in "$RUST_SERVER" "$RUST_CLIENT"; do
  if [[ ! -x "$prog" ]]; then
    echo "missing $prog: run 'cargo build --examples' first" >&2
    exit 2
  fi
done

# start_server NAME DIR CMD...: starts an echo server, waits (bounded) for `listening on DIR`.
start_server() {
  local name=$1 dir=$2
  shift 2
  # coproc sets SERVER (its stdout as SERVER[0]) and SERVER_PID, and unsets them when the
  # process ends: keep our own copies (a duplicate of the read end, the pid) at once.
  coproc SERVER { exec "$@" --dir "$dir" 2>"$BASE/$name.stderr"; }
  SRV_PID=${SERVER_PID:-}
  if [[ -z "${SERVER[0]:-}" ]]; then
    fail "$name: server ready" "it exited at once: $(tail -n 2 "$BASE/$name.stderr")"
    return 1
  fi
  exec {SRV_OUT}<&"${SERVER[0]}"
  local line=""
  if read -r -t "$WAIT" -u "$SRV_OUT" line && [[ "$line" == "listening on $dir" ]]; then
    pass "$name: server ready" "$line"
    return 0
  fi
  fail "$name: server ready" "got '${line}', stderr: $(tail -n 2 "$BASE/$name.stderr")"
  kill -KILL "$SRV_PID" 2>/dev/null
  wait "$SRV_PID" 2>/dev/null
  SRV_PID=""
  exec {SRV_OUT}<&-
  return 1
}

# stop_check NAME DIR: after exit, the server's stdout ends, it exits 0 and D is empty.
stop_check() {
  local name=$1 dir=$2 rest=""
  # read returns non-zero at EOF (the server closed stdout: it is exiting) or on timeout (>128).
  read -r -t "$WAIT" -u "$SRV_OUT" rest
  local rc=$?
  if ((rc > 128)); then
    fail "$name: server exits after exit" "still running after ${WAIT}s"
    kill -KILL "$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=""
    return
  fi
  local status=0
  wait "$SRV_PID" || status=$?
  SRV_PID=""
  exec {SRV_OUT}<&-
  if ((status != 0)); then
    fail "$name: server exit status" "$status, stderr: $(tail -n 2 "$BASE/$name.stderr")"
  else
    pass "$name: server exit status" "0"
  fi
  local left
  left=$(ls -A "$dir" 2>&1)
  if [[ -d "$dir" && -z "$left" ]]; then
    pass "$name: no files left" "D exists and is empty"
  else
    fail "$name: no files left" "$left"
  fi
}

# cli NAME EXPECTED_STDOUT CMD...: runs a client CLI (bounded), checks exit 0 and stdout.
cli() {
  local name=$1 want=$2
  shift 2
  local out status=0
  out=$(timeout "$WAIT" "$@" 2>"$BASE/cli.stderr") || status=$?
  if ((status == 0)) && [[ "$out" == "$want" ]]; then
    pass "$name"
  else
    fail "$name" "exit $status, stdout '$(head -c 200 <<<"$out")'," \
      "stderr $(head -c 300 "$BASE/cli.stderr")"
  fi
}

# cli_error NAME EXPECTED_STDOUT EXPECTED_STDERR CMD...: runs a client CLI (bounded), checks
# exit status 1, stdout, and that stderr is exactly the one expected line.
cli_error() {
  local name=$1 want=$2 want_err=$3
  shift 3
  local out err status=0
  out=$(timeout "$WAIT" "$@" 2>"$BASE/cli.stderr") || status=$?
  err=$(cat "$BASE/cli.stderr")
  if ((status == 1)) && [[ "$out" == "$want" && "$err" == "$want_err" ]]; then
    pass "$name" "$err"
  else
    fail "$name" "exit $status, stdout '$(head -c 200 <<<"$out")'," \
      "stderr '$(head -c 300 <<<"$err")', wanted '$want_err'"
  fi
}

transcript() {
  local m
  for m in "$@"; do
    if [[ "$m" == exit ]]; then
      echo "server exited"
    else
      printf 'sent: %s\nreceived: %s\n' "$m" "$m"
    fi
  done
}

# The inputs of the CLI checks.
BIG=$(head -c 100000 /dev/zero | tr '\0' 'b')
HUGE_FILE="$BASE/4mib.txt"
head -c $((4 * 1024 * 1024)) /dev/zero | tr '\0' 'q' >"$HUGE_FILE"
FLIGHT=()      # m1 .. m200
FLIGHT_SENT=() # each three times in a row, as --repeat 3 sends them
for ((i = 1; i <= 200; i++)); do
  FLIGHT+=("m$i")
  FLIGHT_SENT+=("m$i" "m$i" "m$i")
done

# cli_checks N DIR CLIENT...: the checks every echo client passes through its command line.
cli_checks() {
  local n=$1 dir=$2
  shift 2
  cli "$n: small calls (CLI)" "$(transcript hello "two words" "$UNICODE")" \
    "$@" --dir "$dir" --timeout-ms 5000 hello "two words" "$UNICODE"
  cli "$n: 100000-octet message, 25 fragments each way (CLI)" "$(transcript "$BIG")" \
    "$@" --dir "$dir" --timeout-ms 10000 "$BIG"
  cli "$n: 4 MiB message (CLI --message-file)" \
    "$(printf 'sent: 4194304 bytes from %s\nreceived: 4194304 bytes, identical' "$HUGE_FILE")" \
    "$@" --dir "$dir" --timeout-ms 15000 --message-file "$HUGE_FILE"
  cli "$n: 600 calls, 200 in flight (CLI --in-flight 200 --repeat 3)" \
    "$(transcript "${FLIGHT_SENT[@]}")" \
    "$@" --dir "$dir" --timeout-ms 15000 --in-flight 200 --repeat 3 "${FLIGHT[@]}"
  cli_error "$n: ERROR answer (CLI --method fail)" "sent: interop error" \
    "echo_client: the server answered with error 1000: interop error" \
    "$@" --dir "$dir" --timeout-ms 5000 --method fail "interop error" "not sent"
}

# ---- Python client -> Rust server -----------------------------------------------------------

D="$BASE/py-rust/svc"
mkdir -p "$BASE/py-rust"
N="python client -> rust server"
if start_server rust-server "$D" "$RUST_SERVER"; then
  cli_checks "$N" "$D" "${PY_CLIENT[@]}"

  # The library client: what the CLI cannot express. One check per line of output.
  lib_out=$(timeout 180 "$PY" - "$ROOT/spec/python" "$D" 2>&1 <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from fiforpc import bincode1 as B
from fiforpc import messages as M
from fiforpc.client import Client, RemoteError

def s(t):
    return B.encode(B.STRING, t)

def check(name, ok, detail=""):
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, " (%s)" % detail if detail else ""))

with Client.connect(sys.argv[2], timeout=10) as c:
    big = "q" * (4 * 1024 * 1024)
    try:
        check("4 MiB message (library)", c.call("echo", s(big), 120) == s(big))
    except Exception as e:
        check("4 MiB message (library)", False, e)
    try:
        ids = [c.start("echo", s("m%d" % i), 20) for i in range(500)]
        got = [c.result(i, 20) for i in ids]
        check("500 calls in flight (library)", got == [s("m%d" % i) for i in range(500)],
              "max in-flight %d" % c.welcome.max_in_flight)
    except Exception as e:
        check("500 calls in flight (library)", False, e)
    try:
        c.call("fail", s("interop error"), 10)
        check("ERROR answer (library)", False, "fail() succeeded")
    except RemoteError as e:
        check("ERROR answer (library)", (e.code, e.message) == (1000, "interop error"),
              "code %d %r" % (e.code, e.message))
    try:
        c.call("no-such-method", b"", 10)
        check("METHOD_NOT_FOUND (library)", False, "succeeded")
    except RemoteError as e:
        check("METHOD_NOT_FOUND (library)", e.code == M.METHOD_NOT_FOUND, "code %d" % e.code)
    try:
        c.ping(10)
        check("PING (library)", True)
    except Exception as e:
        check("PING (library)", False, e)
EOF
  )
  lib_status=$?
  while IFS= read -r line; do
    case "$line" in
      PASS\ *) pass "$N: ${line#PASS }" ;;
      FAIL\ *) fail "$N: ${line#FAIL }" ;;
      *) [[ -n "$line" ]] && fail "$N: library client" "$line" ;;
    esac
  done <<<"$lib_out"
  if ((lib_status != 0)); then fail "$N: library client exit status" "$lib_status"; fi

  cli "$N: exit (CLI)" "server exited" "${PY_CLIENT[@]}" --dir "$D" --timeout-ms 5000 exit
  stop_check "$N" "$D"
fi

# ---- Rust client -> Python server -----------------------------------------------------------

D="$BASE/rust-py/svc"
mkdir -p "$BASE/rust-py"
N="rust client -> python server"
if start_server python-server "$D" "${PY_SERVER[@]}"; then
  cli_checks "$N" "$D" "$RUST_CLIENT"
  cli "$N: exit (CLI)" "server exited" "$RUST_CLIENT" --dir "$D" --timeout-ms 5000 exit
  stop_check "$N" "$D"
fi

echo "$passed passed, $failed failed"
((failed == 0))
