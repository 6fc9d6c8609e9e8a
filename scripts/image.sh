#!/usr/bin/env bash
# The tickwire container image, FROM scratch (no base image is pulled):
#
#   scripts/image.sh [build]   stage the root filesystem in $STAGE/rootfs and
#                              build the image tickwire:$TAG with buildah (vfs)
#   scripts/image.sh run       run the image's default command (the built-in
#                              sample through net_pcap) with buildah run
#                              --isolation chroot; output in $OUT
#   scripts/image.sh chroot    the same command on the same root filesystem with
#                              plain chroot(8) in a private mount namespace (for
#                              sandboxes that refuse even buildah run)
#   scripts/image.sh clean     remove the image and this script's containers
#
# Idempotent; run as root (buildah with the vfs driver, chroot). Installs
# buildah (Debian 12's, without the recommended runc/crun: chroot isolation
# needs neither) when it is missing, and DPDK through scripts/setup.sh.
#
# Environment:
#   TAG=dev                      image tag (tickwire:$TAG)
#   STAGE=target/image           staging dir: rootfs/, the build context
#   OUT=$STAGE/out               where `run`/`chroot` put fix.pcap, stats.json, log
#   TICKWIRE_BIN=path            use this binary, do not run cargo (the tests
#                                do: cargo holds the build lock while they run)
#   STORAGE=dir                  private container storage (buildah --root
#                                dir/root --runroot dir/run); default: the
#                                system's (/var/lib/containers/storage)
#   ARCHIVE=path.tar             also write the image as a docker-archive
#                                (`docker load -i` / `podman load -i` on a host)
#   EXTRA_PMDS="net_mlx5 ..."    more PMD plugins to include (by DPDK name)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$PWD

CMD="${1:-build}"
TAG="${TAG:-dev}"
IMAGE="tickwire:$TAG"
STAGE="${STAGE:-$ROOT_DIR/target/image}"
OUT="${OUT:-$STAGE/out}"
ARCH_LIB=x86_64-linux-gnu
PMD_DIR=/usr/lib/$ARCH_LIB/dpdk/pmds-23.0
log() { printf '== image: %s\n' "$*" >&2; }

# PMD plugins (the EAL dlopen()s everything in $PMD_DIR at start; only these
# are in the image). Buses and the mempool handler the EAL needs, the virtual
# devices (tests, demo, af_packet/tap fallback), and the common NIC PMDs that
# need no extra user-space stack. net_mlx5 needs rdma-core's provider plugins
# (dlopen()ed by libibverbs, so not in an ldd closure): add it with
# EXTRA_PMDS=net_mlx5 and copy /usr/lib/x86_64-linux-gnu/libibverbs/ too.
PMDS=(bus_vdev bus_pci mempool_ring mempool_stack
      net_pcap net_null net_tap net_af_packet net_ring
      net_i40e net_iavf net_ice net_ixgbe net_e1000 net_virtio net_vmxnet3 net_ena
      ${EXTRA_PMDS:-})

buildah_() {
  local g=(--storage-driver vfs)
  if [ -n "${STORAGE:-}" ]; then g+=(--root "$STORAGE/root" --runroot "$STORAGE/run"); fi
  buildah "${g[@]}" "$@"
}

need_tools() {
  if ! command -v buildah >/dev/null 2>&1; then
    log "installing buildah (Debian package, no recommends)"
    local SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends buildah >/dev/null
  fi
  if [ ! -d "$PMD_DIR" ] || ! command -v strip >/dev/null 2>&1; then
    ./scripts/setup.sh
  fi
}

# Copies a host file into the rootfs at the same path (under /usr for the
# merged-/usr directories), keeping a symlink chain as symlinks.
put() {
  local src=$1 rel
  rel=${src#/}
  case "$rel" in lib/* | lib64/* | bin/* | sbin/*) rel="usr/$rel" ;; esac
  local dst="$RFS/$rel"
  [ -e "$dst" ] || [ -L "$dst" ] && return 0
  mkdir -p "$(dirname "$dst")"
  if [ -L "$src" ]; then
    local t
    t=$(readlink "$src")
    ln -s "$t" "$dst"
    case "$t" in /*) put "$t" ;; *) put "$(dirname "$src")/$t" ;; esac
  else
    cp "$src" "$dst"
  fi
}

# Every shared library that ELF file $1 loads, as the host's loader resolves
# them (the rootfs mirrors the host's paths, so they resolve the same inside).
closure() {
  ldd "$1" | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}' | sort -u
}

stage() {
  local bin
  if [ -n "${TICKWIRE_BIN:-}" ]; then
    bin=$TICKWIRE_BIN
  else
    log "building the release binary"
    cargo build --release --quiet -p tickwire-host
    bin=$ROOT_DIR/target/release/tickwire
  fi
  [ -x "$bin" ] || { echo "image: no binary at $bin" >&2; exit 1; }

  RFS="$STAGE/rootfs"
  rm -rf "$RFS"
  mkdir -p "$RFS"/usr/bin "$RFS/usr/lib/$ARCH_LIB" "$RFS/usr/lib64" "$RFS$PMD_DIR" \
    "$RFS"/etc "$RFS"/tmp "$RFS"/var/run/dpdk "$RFS"/out "$RFS"/sample \
    "$RFS"/proc "$RFS"/sys "$RFS"/dev "$RFS"/dev/hugepages "$RFS"/run
  chmod 1777 "$RFS/tmp" "$RFS/out"
  # Debian 12 is merged-/usr: /lib and /lib64 are links into /usr.
  ln -s usr/lib "$RFS/lib"
  ln -s usr/lib64 "$RFS/lib64"
  ln -s usr/bin "$RFS/bin"

  strip -o "$RFS/usr/bin/tickwire" "$bin"
  local libs=() p f
  mapfile -t libs < <(closure "$bin")
  for p in "${PMDS[@]}"; do
    f="$PMD_DIR/librte_$p.so"
    [ -e "$f" ] || { echo "image: PMD $p not found ($f)" >&2; exit 1; }
    # As on the host: Debian keeps the PMD files in the plugin dir and links
    # their /usr/lib/<arch> names into it. The EAL dlopen()s every *.so and
    # *.so.23.0 there; both names are one file, which the loader maps once.
    ln -s "../../librte_$p.so.23" "$RFS$PMD_DIR/librte_$p.so"
    libs+=("/usr/lib/$ARCH_LIB/librte_$p.so.23")
    mapfile -t -O "${#libs[@]}" libs < <(closure "$f")
  done
  for f in $(printf '%s\n' "${libs[@]}" | sort -u); do put "$f"; done

  # root, and an unprivileged user for runs that need no device access.
  printf 'root:x:0:0:root:/root:/nonexistent\ntickwire:x:10001:10001:tickwire:/tmp:/nonexistent\n' >"$RFS/etc/passwd"
  printf 'root:x:0:\ntickwire:x:10001:\n' >"$RFS/etc/group"

  # The built-in sample: 20,000 messages over 20 symbols, a tenth of the
  # frames VLAN-tagged, no faults (so every message must be applied);
  # deterministic.
  "$bin" gen --seed 9 --symbols 20 --messages 20000 --mean-gap-ns 100000 --flush-ns 1000000 \
    --vlan-rate 0.1 --out "$RFS/sample/sample" --quiet
  chmod -R a+rX "$RFS/sample"

  # The loader must find the libraries inside the rootfs alone.
  local missing
  missing=$(chroot "$RFS" /usr/bin/tickwire --version 2>&1 >/dev/null) \
    || { echo "image: the staged rootfs does not run: $missing" >&2; exit 1; }
  log "rootfs staged: $(du -sh "$RFS" | cut -f1), $(find "$RFS" -type f | wc -l) files, ${#PMDS[@]} PMDs"
}

build() {
  need_tools
  stage
  cp docker/Containerfile "$STAGE/Containerfile"
  local old new
  old=$(buildah_ images --quiet --no-trunc "$IMAGE" 2>/dev/null || true)
  log "buildah bud $IMAGE"
  buildah_ bud --quiet --isolation chroot -f "$STAGE/Containerfile" -t "$IMAGE" \
    --label "org.opencontainers.image.revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
    "$STAGE" >/dev/null
  # A rebuild leaves the previous image untagged: remove it (idempotent runs
  # do not pile up images).
  new=$(buildah_ images --quiet --no-trunc "$IMAGE")
  if [ -n "$old" ] && [ "$old" != "$new" ]; then buildah_ rmi "$old" >/dev/null 2>&1 || true; fi
  local size
  size=$(buildah_ images --format '{{.Size}}' "$IMAGE" | head -n1)
  log "built $IMAGE ($size)"
  if [ -n "${ARCHIVE:-}" ]; then
    rm -f "$ARCHIVE"
    buildah_ push --quiet "$IMAGE" "docker-archive:$ARCHIVE:$IMAGE" >/dev/null
    log "docker-archive $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1))"
  fi
}

# The image's own ENTRYPOINT/CMD, read back from the built image.
image_argv() {
  buildah_ inspect --type image "$IMAGE" | python3 -c '
import json, sys
c = json.load(sys.stdin)["OCIv1"]["config"]
print("\0".join((c.get("Entrypoint") or []) + (c.get("Cmd") or [])), end="")'
}

run() {
  need_tools
  mkdir -p "$OUT"
  rm -f "$OUT/fix.pcap" "$OUT/stats.json"
  chmod 1777 "$OUT"
  local argv=() ctr rc=0
  mapfile -t -d '' argv < <(image_argv)
  [ "${#argv[@]}" -gt 0 ] || { echo "image: no ENTRYPOINT/CMD in $IMAGE" >&2; return 1; }
  ctr=$(buildah_ from --quiet "$IMAGE")
  log "buildah run --isolation chroot $ctr (output in $OUT): ${argv[*]} ${*:2}"
  buildah_ run --isolation chroot --volume "$OUT:/out" "$ctr" -- "${argv[@]}" "${@:2}" \
    >"$OUT/run.log" 2>&1 || rc=$?
  buildah_ rm "$ctr" >/dev/null
  cat "$OUT/run.log" >&2
  return "$rc"
}

containerfile_argv() {
  python3 - docker/Containerfile <<'PY'
import json, sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
cfg = {}
for line in text.splitlines():
    word, _, rest = line.strip().partition(" ")
    if word in ("ENTRYPOINT", "CMD"):
        cfg[word] = json.loads(rest)
print("\0".join(cfg["ENTRYPOINT"] + cfg["CMD"]), end="")
PY
}

run_chroot() {
  mkdir -p "$OUT"
  rm -f "$OUT/fix.pcap" "$OUT/stats.json"
  local RFS="$STAGE/rootfs" argv=()
  # The image's ENTRYPOINT and CMD, from docker/Containerfile.
  mapfile -t -d '' argv < <(containerfile_argv)
  argv+=("${@:2}")
  log "chroot $RFS (private mount namespace; /proc, /sys, /dev and $OUT bound in)"
  unshare --mount --propagation private -- sh -ec '
    r=$1; o=$2; shift 2
    mount -t proc proc "$r/proc"
    mount --rbind /sys "$r/sys"
    mount --rbind /dev "$r/dev"
    mount --bind "$o" "$r/out"
    exec chroot "$r" "$@"' sh "$RFS" "$OUT" "${argv[@]}" >"$OUT/run.log" 2>&1 || { cat "$OUT/run.log" >&2; return 1; }
  cat "$OUT/run.log" >&2
}

clean() {
  local c
  for c in $(buildah_ containers --quiet --filter "ancestor=$IMAGE" 2>/dev/null); do buildah_ rm "$c" >/dev/null; done
  buildah_ rmi -f "$IMAGE" >/dev/null 2>&1 || true
  if [ -n "${STORAGE:-}" ]; then
    # vfs layers are plain directories; leave nothing mounted or behind.
    buildah_ rm --all >/dev/null 2>&1 || true
    rm -rf "$STORAGE"
  fi
}

case "$CMD" in
  build) build ;;
  stage) need_tools; stage ;;
  run) run "$@" ;;
  chroot) run_chroot "$@" ;;
  clean) clean ;;
  *) echo "usage: scripts/image.sh [build|stage|run|chroot|clean] [-- extra app args]" >&2; exit 2 ;;
esac
