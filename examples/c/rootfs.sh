#!/usr/bin/env bash
# A Debian 13 ("trixie") build environment for the C consumer: Debian 12 has no onnxruntime.
#
#   examples/c/rootfs.sh path          make sure it exists; print its root ("/" on a trixie host)
#   examples/c/rootfs.sh run CMD...    run CMD in it, with /proc mounted and /sys bound
#   examples/c/rootfs.sh run --bind DIR CMD...   also bind DIR at the same path inside
#   examples/c/rootfs.sh check         exit 0 if `path` can work here, else print why (one line), exit 3
#
# On a Debian 13 host the host is used (its packages must be installed: the script says which).
# Elsewhere a minbase trixie root filesystem is built with debootstrap in $AEEXPORT_ROOTFS
# (default $AEEXPORT_CACHE/trixie-amd64, $AEEXPORT_CACHE defaulting to ~/.cache/aeexport) and the
# packages are installed with apt inside it (about 820 MB). This script never installs anything on
# the host: debootstrap (and qemu-user-static, binfmt-support for another arch) must be there
# (`apt-get install debootstrap`; .ci/run does it); sbin tools are found in /usr/sbin and /sbin too.
# A stamp file marks it complete; a folder without the stamp (an interrupted build) is rebuilt,
# but only a folder this script made (owner file .aeexport-rootfs): any other existing folder
# at $AEEXPORT_ROOTFS is refused, never deleted.
# Needs root (debootstrap, chroot, mount).
#
# AEEXPORT_ROOTFS_ARCH=arm64 builds an arm64 root instead (qemu-user-static and binfmt-support
# must be installed on the host to run it emulated); AEEXPORT_ROOTFS_EXTRA adds packages (a root
# built without them gets them installed on the next `path`).
set -euo pipefail
# debootstrap, chroot, mount, update-binfmts live in sbin, which a user's PATH may not hold
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

HOST_ARCH=$(dpkg --print-architecture)
ARCH=${AEEXPORT_ROOTFS_ARCH:-$HOST_ARCH}
PACKAGES="libonnxruntime-dev gcc libc6-dev pkg-config make valgrind${AEEXPORT_ROOTFS_EXTRA:+ $AEEXPORT_ROOTFS_EXTRA}"
CACHE=${AEEXPORT_CACHE:-$HOME/.cache/aeexport}
ROOT=${AEEXPORT_ROOTFS:-$CACHE/trixie-$ARCH}
STAMP=.aeexport-rootfs-complete
OWNER=.aeexport-rootfs

die() { echo "rootfs: $*" >&2; exit 1; }

host_is_trixie() {
  [ "$ARCH" = "$HOST_ARCH" ] && [ -r /etc/os-release ] && grep -q '^VERSION_CODENAME=trixie' /etc/os-release
}

mirror() {
  # The first non-security Debian URI of the host's apt sources (deb822 or one-line format).
  local uri
  uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)
  [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

unmount_all() {
  # Unmount everything below $1, deepest first (never rm -rf a folder with /proc bound in it).
  local target
  findmnt -rn -o TARGET | awk -v r="$1" 'index($0, r "/") == 1' | sort -r | while read -r target; do
    umount -l "$target" || true
  done
}

mount_api() {
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/sys" || mount --rbind /sys "$ROOT/sys"
  mountpoint -q "$ROOT/dev" || mount --rbind /dev "$ROOT/dev"
}

install_apt() {
  # shellcheck disable=SC2086
  chroot "$ROOT" apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive chroot "$ROOT" apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
  echo "$PACKAGES" >"$ROOT/$STAMP"
}

host_packages() {
  # The host packages `path` needs that are not installed (none on a Debian 13 host of the same arch).
  local need="debootstrap" missing="" p
  [ "$ARCH" = "$HOST_ARCH" ] || need="$need qemu-user-static binfmt-support"
  for p in $need; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  echo "${missing# }"
}

host_tools() {
  local missing
  missing=$(host_packages)
  [ -z "$missing" ] || die "missing host package(s): $missing; install them first (as root: apt-get install $missing)"
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is installed but not found in PATH, /usr/sbin or /sbin"
  if [ "$ARCH" != "$HOST_ARCH" ]; then
    mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    update-binfmts --enable >/dev/null 2>&1 || true
  fi
}

mirror_reachable() {
  # Can we open a TCP connection to the mirror (5 s)? bash's /dev/tcp, no extra tool.
  local url host port
  url=$(mirror)
  host=${url#*://}; host=${host%%/*}; port=80
  case "$url" in https://*) port=443 ;; esac
  case "$host" in *:*) port=${host##*:}; host=${host%%:*} ;; esac
  timeout 5 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
}

trixie_missing() {
  # The packages a Debian 13 host lacks for the C consumer.
  local missing="" p
  for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  echo "${missing# }"
}

check() {
  # Why `path` cannot work here (one line, exit 3), or nothing (exit 0). Never changes anything.
  local why=""
  if host_is_trixie; then
    local missing
    missing=$(trixie_missing)
    [ -z "$missing" ] || why="Debian 13 host without $missing (as root: apt-get install $missing)"
  elif [ "$(id -u)" -ne 0 ]; then
    why="needs root (chroot and mount in a Debian 13 root at $ROOT); run the tests as root"
  elif [ ! -f "$ROOT/$STAMP" ] || [ "$(cat "$ROOT/$STAMP")" != "$PACKAGES" ]; then
    local missing
    missing=$(host_packages)
    if [ -n "$missing" ]; then
      why="needs $missing on the host to build $ROOT (as root: apt-get install $missing)"
    elif ! mirror_reachable; then
      why="cannot reach the Debian mirror $(mirror) to build $ROOT (needs network access to it)"
    fi
  fi
  [ -z "$why" ] || { echo "$why"; exit 3; }
}

ours_or_absent() {
  # Refuse a folder this script did not make: it is the user's, and a rebuild would delete it.
  [ ! -e "$1" ] || [ -f "$1/$OWNER" ] || [ -f "$1/$STAMP" ] ||
    die "$1 exists and was not made by $0 (no $OWNER in it); nothing was changed: point AEEXPORT_ROOTFS at a new folder, or remove that one yourself"
}

build() {
  local tmp="$ROOT.partial"
  ours_or_absent "$ROOT"
  ours_or_absent "$tmp"
  host_tools
  if [ -d "$ROOT" ]; then
    echo "rootfs: $ROOT has no $STAMP (an interrupted build): rebuilding" >&2
    unmount_all "$ROOT"
    rm -rf --one-file-system "$ROOT"
  fi
  unmount_all "$tmp"
  rm -rf --one-file-system "$tmp"
  mkdir -p "$tmp"
  touch "$tmp/$OWNER"
  echo "rootfs: debootstrap trixie into $ROOT ($(mirror))" >&2
  debootstrap --arch="$ARCH" --variant=minbase trixie "$tmp/root" "$(mirror)" >"$tmp/debootstrap.log" 2>&1 \
    || { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed (log: $tmp/debootstrap.log)"; }
  touch "$tmp/root/$OWNER"
  mv "$tmp/root" "$ROOT"
  rm -rf --one-file-system "$tmp"
  (
    trap 'unmount_all "$ROOT"' EXIT
    mount_api
    install_apt
  )
}

ensure() {
  if host_is_trixie; then
    local missing
    missing=$(trixie_missing)
    [ -z "$missing" ] || die "this Debian 13 host lacks $missing; install them first (as root: apt-get install $missing)"
    return
  fi
  [ "$(id -u)" -eq 0 ] || die "building the trixie root filesystem needs root (debootstrap, chroot)"
  [ -f "$ROOT/$STAMP" ] || build
  if [ "$(cat "$ROOT/$STAMP")" != "$PACKAGES" ]; then
    echo "rootfs: installing $PACKAGES in $ROOT" >&2
    [ "$ARCH" = "$HOST_ARCH" ] || host_tools
    ( trap 'unmount_all "$ROOT"' EXIT; mount_api; install_apt )
  fi
}

run() {
  local bind=""
  if [ "${1:-}" = "--bind" ]; then bind=$(realpath "$2"); shift 2; fi
  [ $# -gt 0 ] || die "run: no command"
  if host_is_trixie; then exec "$@"; fi
  [ -f "$ROOT/$STAMP" ] || die "$ROOT is not built: run '$0 path' first"
  [ "$ARCH" = "$HOST_ARCH" ] || mountpoint -q /proc/sys/fs/binfmt_misc || host_tools
  trap 'unmount_all "$ROOT"' EXIT
  mount_api
  if [ -n "$bind" ]; then
    mkdir -p "$ROOT$bind"
    mount --bind "$bind" "$ROOT$bind"
  fi
  local rc=0
  chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 "$@" || rc=$?
  return "$rc"
}

case "${1:-}" in
  check) check ;;
  path) ensure; if host_is_trixie; then echo /; else echo "$ROOT"; fi ;;
  run)
    shift
    if [ -z "${AEEXPORT_ROOTFS_PRIVATE:-}" ] && ! host_is_trixie && command -v unshare >/dev/null 2>&1; then
      # A private mount namespace per run: its /proc, /sys, /dev and --bind mounts vanish with it, and the
      # exit of a concurrent run (which unmounts what it mounted) cannot pull them from under this one.
      AEEXPORT_ROOTFS_PRIVATE=1 exec unshare --mount --propagation private bash "$0" run "$@"
    fi
    run "$@" ;;
  *) die "usage: $0 check | path | run [--bind DIR] CMD..." ;;
esac
