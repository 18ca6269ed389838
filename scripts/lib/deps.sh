# Sourced by scripts/run and scripts/test: installs the Debian packages heapmark
# needs (as root), or prints the exact command to run. Nothing is downloaded
# from anywhere but Debian's archive.

# Build and run: compilers, CMake, the allocators under test, the libraries, and
# the real programs of workloads/programs/debian.json (python3, sqlite3, perl,
# redis-server with redis-benchmark from redis-tools; time for comparisons);
# libunwind-dev walks stacks in the recorder, libdw-dev symbolises them,
# libzstd-dev reads heaptrack recordings (heapmark import heaptrack), zlib1g-dev
# gzips pprof profiles (heapmark export pprof); help2man writes the man page
# from --help-all at build time; gdb loads heapmark's helper into a running
# process (heapmark attach), as heaptrack and memray do.
HEAPMARK_RUN_PACKAGES=(
  build-essential cmake pkg-config git
  libboost-json1.81-dev libcli11-dev libbenchmark-dev libgtest-dev libgmock-dev libunwind-dev libdw-dev libzstd-dev
  zlib1g-dev
  libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev libtbbmalloc2 libclang-rt-14-dev
  python3 sqlite3 perl redis-server redis-tools time help2man gdb
)
# Tests add: clang + libFuzzer for the fuzz targets, clang-format for the
# format check, chromium for the report's browser check, heaptrack for the
# import test, GNU parallel, Slurm and munge for the cluster tests (a
# single-node Slurm started and stopped by the test), prometheus for promtool,
# python3-prometheus-client for its OpenMetrics parser, google-perftools for
# google-pprof and golang-go for `go tool pprof` (the exports are checked by
# the real clients), and the Windows build's packages.
HEAPMARK_TEST_PACKAGES=(
  clang-14 clang-format-14 libfuzzer-14-dev libclang-rt-14-dev chromium heaptrack parallel slurm-wlm munge prometheus
  python3-prometheus-client google-perftools golang-go
)
# The Windows build of the allocator cores (preset windows): mingw-w64 with
# posix threads (the cores use pthreads, winpthreads provides them) and wine64
# to run its tests; the googletest package has the GoogleTest source it builds.
HEAPMARK_WINDOWS_PACKAGES=(g++-mingw-w64-x86-64-posix wine64 googletest)
HEAPMARK_TEST_PACKAGES+=("${HEAPMARK_WINDOWS_PACKAGES[@]}")

heapmark_missing_packages() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  echo "${missing[@]}"
}

heapmark_install() {
  local missing
  missing=$(heapmark_missing_packages "$@")
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "heapmark: missing Debian packages. Run as root:" >&2
    echo "  apt-get update && apt-get install -y $missing" >&2
    exit 1
  fi
  echo "heapmark: installing $missing"
  # Update the package lists only when they are missing or a day old.
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
    apt-get update -qq
  fi
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
}

heapmark_build() {  # $1 = preset
  local preset=${1:-default}
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)"
}
