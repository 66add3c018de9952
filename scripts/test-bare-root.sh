#!/usr/bin/env bash
# Proves "copy dist/ to a bare server and run it": dist/ is copied into a minimal Debian root (debootstrap
# --variant=minbase: no bun, node or npm, no curl), gpt3dev runs there under chroot as an unprivileged user with an
# empty environment, and must answer /healthz, a completion and a streamed completion, write nothing, and exit 0 on
# SIGTERM.
#
#   sudo scripts/test-bare-root.sh [DIST_DIR]        (default: dist/ of this repository; run `bun run build` first)
#
# Needs root (debootstrap, chroot, mount), debootstrap and curl. The Debian root is made once and cached in
# $GPT3DEV_ROOTFS_CACHE (default /var/cache/gpt3dev-rootfs, see scripts/rootfs-cache.sh), outside the repository;
# each run works on a throw-away copy, so the cache stays pristine. Only Debian's package mirror is contacted, and
# only to make that cache.
#
# Measured on the 2-core CI machine: 29-45 s for the first run (almost all of it debootstrap), 1-6 s once the root
# is cached (copying the 206 MB root, then the requests), the spread being other load on the machine.
#
# /proc must be mounted inside the root: a Bun executable aborts at start without it (a real host always has it).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dist=$(cd "${1:-$repo/dist}" && pwd)
# shellcheck source=scripts/rootfs-cache.sh
source "$repo/scripts/rootfs-cache.sh"
started=$SECONDS

say() { echo "[bare-root] $*"; }
fail() { echo "[bare-root] FAIL: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || fail "needs root (debootstrap, chroot, mount)"
for tool in debootstrap chroot curl flock; do
  command -v "$tool" >/dev/null || fail "$tool not found (apt-get install -y debootstrap curl)"
done
[[ -x $dist/gpt3dev ]] || fail "$dist/gpt3dev not found: run \`bun run build\` first"

base=$(cached_rootfs minbase --variant=minbase)

work=$(mktemp -d /var/tmp/gpt3dev-bare-root.XXXXXX)
root="$work/root"
pid=""
cleanup() {
  [[ -n $pid ]] && kill -KILL "$pid" 2>/dev/null || true
  for mnt in "$root/dev" "$root/proc"; do
    mountpoint -q "$mnt" && umount -l "$mnt"
  done
  rm -rf "$work"
}
trap cleanup EXIT

cp -a "$base" "$root"
for exe in bun node nodejs npm npx; do
  found=$(chroot "$root" /bin/sh -c "command -v $exe" || true)
  [[ -z $found ]] || fail "the bare root has $exe at $found"
done
mkdir -p "$root/opt"
cp -a "$dist" "$root/opt/gpt3dev"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
touch "$work/before-start"

# nobody:nogroup, no HOME, PATH of the root only: the executable must need nothing else. Port 0 lets the kernel
# pick a free port; the start-up line says which.
log="$work/gpt3dev.log"
chroot --userspec=65534:65534 "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/nonexistent TMPDIR=/tmp \
  /opt/gpt3dev/gpt3dev --port 0 --host 127.0.0.1 >"$log" 2>&1 &
pid=$!

port=""
for _ in $(seq 1 200); do
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\) .*|\1|p' "$log" | head -n 1)
  [[ -n $port ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "gpt3dev exited at start"; }
  sleep 0.05
done
[[ -n $port ]] || { cat "$log" >&2; fail "gpt3dev did not report its port within 10 s"; }
base_url="http://127.0.0.1:$port"
say "gpt3dev is up in the bare root on port $port ($(head -n 1 "$log"))"

request() { curl --silent --show-error --fail-with-body --max-time 30 "$@"; }

health=$(request "$base_url/healthz") || fail "/healthz: $health"
[[ $health == *'"ok"'* ]] || fail "/healthz answered $health"

body='{"model":"tiny-gpt2","prompt":"Hello","max_tokens":8,"temperature":0}'
completion=$(request -H 'content-type: application/json' -d "$body" "$base_url/v1/completions") ||
  fail "POST /v1/completions: $completion"
[[ $completion == *'"object":"text_completion"'* && $completion == *'"completion_tokens":'* ]] ||
  fail "unexpected completion: $completion"
say "completion: $completion"

stream=$(request -N -H 'content-type: application/json' -d "${body%\}},\"stream\":true}" "$base_url/v1/completions") ||
  fail "streamed POST /v1/completions: $stream"
[[ $stream == *'data: [DONE]'* ]] || fail "stream did not end with [DONE]: $stream"
say "streamed completion: $(grep -c '^data: {' <<<"$stream") chunks, then [DONE]"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
[[ $status == 0 ]] || { cat "$log" >&2; fail "exit code $status after SIGTERM"; }

# The sandbox promise: nothing extracted to /tmp, nothing cached in a home, no file anywhere in the root.
written=$(find "$root" -xdev -newer "$work/before-start" ! -path "$root/opt/gpt3dev" ! -path "$root/proc" ! -path "$root/dev" -print | head -n 20)
[[ -z $written ]] || fail "gpt3dev wrote into the root: $written"

say "ok: served, streamed, wrote nothing, exited 0 on SIGTERM ($((SECONDS - started)) s in all)"
