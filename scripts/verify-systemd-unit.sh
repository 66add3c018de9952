#!/usr/bin/env bash
# Checks deploy/gpt3dev.service with systemd's own tools (Debian package `systemd`; no running systemd needed):
#   - `systemd-analyze verify`, where any message counts as a failure: it exits 0 on unknown keys and bad values,
#     which it only prints ("Unknown key …, ignoring").
#   - `systemd-analyze security --offline`: the exposure score must stay at or below 2.0 (it is 1.5), so that
#     a later edit cannot quietly drop the hardening.
# verify refuses a unit whose ExecStart executable does not exist, and /opt/gpt3dev/current is the server's path,
# not this machine's: the check runs on a copy in a temporary folder with ExecStart pointed at the built executable.
#
#   scripts/verify-systemd-unit.sh [EXECUTABLE]        (default: dist/gpt3dev; run `bun run build` first)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
unit="$repo/deploy/gpt3dev.service"
binary=$(realpath "${1:-$repo/dist/gpt3dev}")
installed_path=/opt/gpt3dev/current/gpt3dev
max_exposure=20 # systemd's scale is tenths: 20 is the "2.0" that `security` prints

fail() { echo "[systemd-unit] FAIL: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null || fail "systemd-analyze not found (apt-get install -y systemd)"
[[ -x $binary ]] || fail "$binary not found: run \`bun run build\` first"
grep -q "^ExecStart=$installed_path " "$unit" || fail "ExecStart in $unit no longer starts $installed_path"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|$installed_path|$binary|g" "$unit" >"$tmp/gpt3dev.service"

messages=$(systemd-analyze verify "$tmp/gpt3dev.service" 2>&1) || fail "systemd-analyze verify: $messages"
[[ -z $messages ]] || fail "systemd-analyze verify printed:
$messages"

security=$(systemd-analyze security --offline=yes --threshold="$max_exposure" "$tmp/gpt3dev.service" 2>&1) ||
  fail "exposure above $max_exposure/10:
$(grep -e '^✗' -e 'Overall' <<<"$security")"

echo "[systemd-unit] ok: verify clean, $(grep -o 'Overall exposure level.*' <<<"$security")"
