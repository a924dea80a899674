#!/usr/bin/env bash
# The README's run command: install the Debian packages, build chatd (Release) and run it on the
# repository's etc/chatd.yaml, or on the file CHATD_CONFIG names (e.g. etc/conformance.yaml). If
# the configured Redis (redis.url in the file, or --redis URL on this command line; default
# redis://127.0.0.1:6379) does not answer PING and is on this machine,
# a throw-away redis-server (no persistence) is started for the session and stopped, by its PID,
# when chatd exits. Extra arguments go to chatd (e.g. --workers 2 --port 8001).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${CHATD_BUILD_DIR:-$root/build}
config=${CHATD_CONFIG:-$root/etc/chatd.yaml}

bash "$root/tests/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j2 --target chatd

# Which Redis: --redis on the command line wins over the file.
redis_url=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --redis) redis_url=${args[i + 1]:-} ;;
    --redis=*) redis_url=${args[i]#--redis=} ;;
  esac
done
if [[ -z "$redis_url" && -f "$config" ]]; then
  # `url:` inside the top-level `redis:` section
  redis_url=$(awk '/^[^[:space:]#]/ { in_redis = ($1 == "redis:") }
                   in_redis && $1 == "url:" { print $2; exit }' "$config" | tr -d "\"'")
fi
redis_url=${redis_url:-redis://127.0.0.1:6379}
redis_mode=""
if [[ -f "$config" ]]; then
  redis_mode=$(awk '/^[^[:space:]#]/ { in_redis = ($1 == "redis:") }
                    in_redis && $1 == "mode:" { print $2; exit }' "$config" | tr -d "\"'")
fi

cli=()
local_redis=false
case "$redis_url" in
  unix://*)
    path=${redis_url#unix://}; path=${path%%\?*}
    cli=(-s "$path") ;;
  redis://*)
    rest=${redis_url#redis://}; rest=${rest##*@}; hostport=${rest%%/*}
    if [[ "$hostport" == \[* ]]; then            # [IPv6]:port
      host=${hostport%%]*}; host=${host#[}; port=${hostport##*]}; port=${port#:}
    else
      host=${hostport%%:*}; port=${hostport#"$host"}; port=${port#:}
    fi
    host=${host:-127.0.0.1}; port=${port:-6379}
    cli=(-h "$host" -p "$port")
    [[ "$host" == 127.* || "$host" == localhost || "$host" == ::1 ]] && local_redis=true ;;
  *)
    echo "run-local: unsupported Redis URL: $redis_url" >&2; exit 1 ;;
esac

redis_pid=""
if [[ "$(redis-cli "${cli[@]}" ping 2>/dev/null || true)" == PONG ]]; then
  echo "run-local: Redis at $redis_url answers"
elif [[ "$redis_mode" == cluster ]]; then
  # A standalone throw-away Redis cannot stand in for a cluster (CLUSTER SLOTS would fail).
  echo "run-local: warning: redis.mode is cluster and $redis_url does not answer; start the cluster (README \"Scale-out\"); chatd keeps retrying" >&2
elif $local_redis; then
  log=$build/redis-local.log
  echo "run-local: no Redis at $redis_url; starting redis-server on 127.0.0.1:$port (log: $log)"
  # setsid: Ctrl-C in the terminal reaches chatd, which stops first; Redis is stopped after it.
  setsid redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >"$log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 100); do
    [[ "$(redis-cli "${cli[@]}" ping 2>/dev/null || true)" == PONG ]] && break
    kill -0 "$redis_pid" 2>/dev/null || { echo "run-local: redis-server failed, see $log" >&2; exit 1; }
    sleep 0.1
  done
else
  echo "run-local: warning: Redis at $redis_url does not answer; chatd serves local rooms and keeps retrying" >&2
fi

chatd_args=("$@")
[[ -f "$config" ]] && chatd_args=(--config "$config" "$@")

if [[ -z "$redis_pid" ]]; then
  exec "$build/chatd" "${chatd_args[@]}"
fi

# We own a redis-server: run chatd as a child, pass signals on, then stop Redis by its PID.
"$build/chatd" "${chatd_args[@]}" &
chatd_pid=$!
for sig in TERM INT HUP QUIT; do
  trap "kill -s $sig $chatd_pid 2>/dev/null || true" "$sig"
done
status=0
while kill -0 "$chatd_pid" 2>/dev/null; do
  wait "$chatd_pid" && status=0 || status=$?
done
kill "$redis_pid" 2>/dev/null || true
wait "$redis_pid" 2>/dev/null || true
exit "$status"
