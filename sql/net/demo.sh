#!/usr/bin/env bash
# Runs sql/net/demo.sql against a small local HTTP server (python3's
# http.server serving sql/net/ on 127.0.0.1), with a config that allows only
# that server. Run from anywhere, after `bash udfs/build.sh`:
#
#   bash sql/net/demo.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
command -v python3 >/dev/null || { echo "sql/net/demo.sh: needs python3 for its HTTP server" >&2; exit 1; }
[ -f udfs/dist/fetch.wasm ] || bash udfs/build.sh

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server "$port" --bind 127.0.0.1 --directory sql/net >/dev/null 2>&1 &
server=$!
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && break
    sleep 0.1
done

cat > "$work/config.toml" <<TOML
[net]
[[net.allow]]
url = "http://127.0.0.1:$port/"
TOML
url="http://127.0.0.1:$port/country_names.json"
sed "s|{CONFIG_URL}|$url|g" sql/net/demo.sql > "$work/demo.sql"
cargo run -q -- --config "$work/config.toml" --udfs udfs/dist --continue-on-error -f "$work/demo.sql"
