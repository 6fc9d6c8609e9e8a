# Sourced by the perf harnesses: hugepages if this process can have them
# (root): raises vm.nr_hugepages to HUGEPAGES (default 1536 x 2 MiB), mounts
# hugetlbfs, puts the page count back on exit. Sets HUGE (1/0), HUGE_MB and
# eal_mem MB -> the EAL memory arguments. LABEL names the harness in messages.
# --- hugepages ----------------------------------------------------------------
WANT_PAGES="${HUGEPAGES:-1536}"
NR=/proc/sys/vm/nr_hugepages
OLD_PAGES=""
restore_pages() {
  if [ -n "$OLD_PAGES" ]; then echo "$OLD_PAGES" >"$NR" 2>/dev/null || true; fi
}
trap restore_pages EXIT
HUGE=0
if [ -w "$NR" ]; then
  cur="$(cat "$NR")"
  if [ "$cur" -lt "$WANT_PAGES" ]; then
    OLD_PAGES="$cur"
    echo "$WANT_PAGES" >"$NR" 2>/dev/null || true
  fi
  if ! mount | grep -q ' type hugetlbfs '; then
    mkdir -p /dev/hugepages
    mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
  fi
fi
FREE_PAGES="$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)"
PAGE_KB="$(awk '/^Hugepagesize:/ {print $2}' /proc/meminfo)"
if mount | grep -q ' type hugetlbfs ' && [ "${FREE_PAGES:-0}" -gt 256 ]; then
  HUGE=1
  HUGE_MB=$((FREE_PAGES * PAGE_KB / 1024))
  echo "== ${LABEL:-perf}: hugepages: $FREE_PAGES free x ${PAGE_KB} kB (${HUGE_MB} MiB), EAL --in-memory"
else
  HUGE_MB=0
  echo "== ${LABEL:-perf}: no usable hugepages (need root, hugetlbfs and free pages); EAL --no-huge --no-shconf"
fi

# eal_mem MB -> EAL memory arguments
eal_mem() {
  if [ "$HUGE" -eq 1 ]; then echo "--in-memory -m $1"; else echo "--no-huge --no-shconf -m $1"; fi
}

