#!/usr/bin/env bash
# schemathesis against the coordinator's served OpenAPI document: no server
# errors (5xx) on any generated request. Runs `tandem-sim web-fixture` (bj-01 and
# gz-01 with the HTTP API), logs in as an agent (refused most things: refusals
# must be 4xx too) and then as the administrator (who may do everything), sending
# each session token as a bearer. Skips the never-ending event stream and logout
# (which would end the session the run uses).
#
# Environment: TANDEM_SIM (default target/debug/tandem-sim), ARTIFACTS (default
# target/web-e2e), MAX_EXAMPLES (per operation, default 50; the agent's pass
# uses a fifth).
set -euo pipefail
cd "$(dirname "$0")/../.."
sim="${TANDEM_SIM:-target/debug/tandem-sim}"
artifacts="${ARTIFACTS:-target/web-e2e}"
mkdir -p "$artifacts"
fifo="$(mktemp -u)"
mkfifo "$fifo"
out="$artifacts/schemathesis-fixture.out"

RUST_LOG="${RUST_LOG:-warn}" "$sim" web-fixture --http 127.0.0.1:0 <"$fifo" >"$out" 2>"$artifacts/schemathesis-fixture.log" &
fixture=$!
exec 3>"$fifo" # holds the fixture's stdin open
rm -f "$fifo"
stop() {
  echo quit >&3 || true
  exec 3>&-
  wait "$fixture" || true
}
trap stop EXIT

for _ in $(seq 1 600); do
  [ -s "$out" ] && break
  kill -0 "$fixture" 2>/dev/null || { echo "the fixture exited" >&2; cat "$artifacts/schemathesis-fixture.log" >&2; exit 1; }
  sleep 0.2
done
info="$(head -n 1 "$out")"
url="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["url"])' "$info")"
echo "fixture at $url"

# Both log in before either pass: the passes try logins with made-up passwords,
# which the rate limit then refuses from this address. The agent goes first:
# the administrator's pass may change or delete accounts.
declare -A tokens
for role in agent admin; do
  login="$(python3 -c 'import json,sys; a=json.loads(sys.argv[1])["accounts"][sys.argv[2]]; print(json.dumps({"username":a["username"],"password":a["password"]}))' "$info" "$role")"
  tokens[$role]="$(curl -sf -H 'content-type: application/json' -d "$login" "$url/api/v1/auth/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
done
for role in agent admin; do
  examples="${MAX_EXAMPLES:-50}"
  [ "$role" = admin ] || examples=$(((examples + 4) / 5))
  echo "== schemathesis as $role ($examples examples per operation)"
  SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="tests/web${PYTHONPATH:+:$PYTHONPATH}" \
    schemathesis run "$url/api/v1/openapi.json" \
    --url "$url" \
    --header "Authorization: Bearer ${tokens[$role]}" \
    --checks not_a_server_error \
    --exclude-path /api/v1/events \
    --exclude-path /api/v1/auth/logout \
    --max-examples "$examples" \
    --seed 2026 \
    --report junit --report-dir "$artifacts/schemathesis-$role" \
    --no-color
done
