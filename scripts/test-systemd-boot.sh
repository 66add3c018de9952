#!/usr/bin/env bash
# Runs deploy/gpt3dev.service under a real systemd: boots a Debian root (debootstrap minbase + systemd + curl) with
# systemd-nspawn, installs dist/ as deploy/README.md says (/opt/gpt3dev/releases/<v>, current symlink, env file,
# unit), and a probe unit inside checks that the sandboxed service serves a completion as a dynamic non-root user
# with no capabilities, NoNewPrivileges and a seccomp filter, and that `systemctl stop` during a stream lets the
# stream finish with [DONE] and ends with exit 0. `systemd-analyze verify` alone cannot tell whether the hardening
# breaks the executable (a syscall filter, a read-only root, a hidden /home).
#
#   sudo scripts/test-systemd-boot.sh [DIST_DIR]     (default: dist/; run `bun run build` first)
#
# Needs root, systemd-nspawn (Debian package systemd-container) and debootstrap. The root is cached like the bare
# root (scripts/rootfs-cache.sh). The container has its own network namespace: nothing listens on the host.
#
# Measured on the 2-core CI machine: about 93 s for the first run (nearly all debootstrap), 6-11 s once the root is
# cached (copy, boot, probe, power-off).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dist=$(cd "${1:-$repo/dist}" && pwd)
# shellcheck source=scripts/rootfs-cache.sh
source "$repo/scripts/rootfs-cache.sh"
started=$SECONDS

say() { echo "[systemd-boot] $*"; }
fail() { echo "[systemd-boot] FAIL: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || fail "needs root"
for tool in debootstrap systemd-nspawn flock timeout; do
  command -v "$tool" >/dev/null || fail "$tool not found (apt-get install -y debootstrap systemd-container)"
done
[[ -x $dist/gpt3dev ]] || fail "$dist/gpt3dev not found: run \`bun run build\` first"

base=$(cached_rootfs systemd --variant=minbase --include=systemd,systemd-sysv,dbus,curl)

work=$(mktemp -d /var/tmp/gpt3dev-systemd-boot.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/root"
cp -a "$base" "$root"

mkdir -p "$root/opt/gpt3dev/releases" "$root/etc/gpt3dev"
cp -a "$dist" "$root/opt/gpt3dev/releases/under-test"
ln -s releases/under-test "$root/opt/gpt3dev/current"
printf 'GPT3DEV_HOST=127.0.0.1\n' >"$root/etc/gpt3dev/gpt3dev.env"
cp "$repo/deploy/gpt3dev.service" "$root/etc/systemd/system/gpt3dev.service"

cat >"$root/usr/local/bin/gpt3dev-probe" <<'PROBE'
#!/bin/sh
# Inside the booted root: checks gpt3dev.service as systemd runs it, reports on stdout, then powers off.
url=http://127.0.0.1:7860
json='content-type: application/json'
finish() { echo "$1"; journalctl -u gpt3dev --no-pager -o cat; systemctl --no-block poweroff; exit 0; }

i=0
until curl -fsS "$url/healthz" >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -lt 200 ] || finish "FAIL: no /healthz 200 within 20 s"; sleep 0.1
done
out=$(curl -fsS -H "$json" -d '{"model":"tiny-gpt2","prompt":"Hello","max_tokens":5}' "$url/v1/completions") ||
  finish "FAIL: completion: $out"
case $out in *'"text_completion"'*) ;; *) finish "FAIL: completion: $out" ;; esac

status=/proc/$(systemctl show gpt3dev -p MainPID --value)/status
grep -Eq '^Uid:\s+0\s' "$status" && finish "FAIL: runs as root"
grep -Eq '^NoNewPrivs:\s+1$' "$status" || finish "FAIL: NoNewPrivs is not set"
grep -Eq '^Seccomp:\s+2$' "$status" || finish "FAIL: no seccomp filter"
grep -Eq '^CapEff:\s+0+$' "$status" || finish "FAIL: has capabilities"
uid=$(awk '/^Uid:/ { print $2 }' "$status")

# A 1000-token stream (about a second) is in flight when systemd sends SIGTERM.
curl -fsSN -H "$json" -d '{"model":"gpt2-vocab","prompt":"Hi","max_tokens":1000,"stream":true}' \
  "$url/v1/completions" >/run/stream.txt 2>&1 &
i=0
until grep -q '^data: {' /run/stream.txt 2>/dev/null; do
  i=$((i + 1)); [ "$i" -lt 200 ] || finish "FAIL: no stream chunk within 20 s"; sleep 0.1
done
systemctl stop gpt3dev
wait
grep -v '^$' /run/stream.txt | tail -n 1 | grep -q '^data: \[DONE\]$' || finish "FAIL: the stream did not finish: $(tail -c 300 /run/stream.txt)"
result=$(systemctl show gpt3dev -p Result --value)/$(systemctl show gpt3dev -p ExecMainStatus --value)
[ "$result" = success/0 ] || finish "FAIL: stop ended with $result"

finish "PASS: served as uid $uid with no capabilities, finished a stream on stop, exit 0; $(systemd-analyze security gpt3dev | tail -n 1)"
PROBE
chmod 755 "$root/usr/local/bin/gpt3dev-probe"

cat >"$root/etc/systemd/system/gpt3dev-probe.service" <<'UNIT'
[Unit]
Wants=gpt3dev.service
After=gpt3dev.service
[Service]
Type=oneshot
ExecStart=/usr/local/bin/gpt3dev-probe
StandardOutput=file:/probe.out
StandardError=inherit
UNIT
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
for unit in gpt3dev gpt3dev-probe; do
  ln -s "/etc/systemd/system/$unit.service" "$root/etc/systemd/system/multi-user.target.wants/$unit.service"
done

# --register=no/--keep-unit: this host need not run systemd itself (no machined, no bus).
say "booting the root with systemd-nspawn"
timeout 120 systemd-nspawn --quiet --register=no --keep-unit --private-network -D "$root" --boot --console=pipe \
  >"$work/boot.log" 2>&1 || true
[[ -s $root/probe.out ]] || { tail -n 40 "$work/boot.log" >&2; fail "the probe did not run"; }
verdict=$(head -n 1 "$root/probe.out")
[[ $verdict == PASS:* ]] || { cat "$root/probe.out" >&2; fail "${verdict#FAIL: }"; }
say "ok: ${verdict#PASS: } ($((SECONDS - started)) s in all)"
