# Sourced by the scripts that run dist/ inside a Debian root (test-bare-root.sh, test-systemd-boot.sh): the root is
# made with debootstrap once and cached outside the repository, so later runs only copy it.
#   GPT3DEV_ROOTFS_CACHE  cache folder (default /var/cache/gpt3dev-rootfs)
#   GPT3DEV_ROOTFS_SUITE  Debian release (default bookworm, the Dockerfile's base)

rootfs_cache=${GPT3DEV_ROOTFS_CACHE:-/var/cache/gpt3dev-rootfs}
rootfs_suite=${GPT3DEV_ROOTFS_SUITE:-bookworm}

# The mirror apt already uses here, so the root comes from wherever this machine gets Debian's packages.
debian_mirror() {
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v -e security -e updates | head -n 1 || true)
  [[ -n $uri ]] || uri=$(awk '$1 == "deb" && $3 !~ /security|updates/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# cached_rootfs NAME DEBOOTSTRAP_OPTION…: prints the path of the cached root NAME, running debootstrap first if it
# is not there yet. Progress goes to stderr.
cached_rootfs() {
  local name=$1
  shift
  local base="$rootfs_cache/$rootfs_suite-$name"
  local log="$rootfs_cache/$rootfs_suite-$name.debootstrap.log"
  mkdir -p "$rootfs_cache"
  (
    # Two runs at once must not both debootstrap into the same folder.
    flock 9
    [[ -e $base/.complete ]] && exit 0
    echo "[rootfs] debootstrap $* $rootfs_suite into $base (once, 30-40 s)" >&2
    rm -rf "$base.partial"
    if ! debootstrap "$@" "$rootfs_suite" "$base.partial" "$(debian_mirror)" >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      echo "[rootfs] debootstrap failed (log: $log)" >&2
      exit 1
    fi
    rm -rf "$base"
    mv "$base.partial" "$base"
    touch "$base/.complete"
  ) 9>"$rootfs_cache/.lock" || return 1
  echo "$base"
}
