# Shared by the scenarios' host-check.sh (bash, sourced after `set -euo pipefail`):
# the repository root, an up-to-date wavtool, and the failure counter.
#   ROOT, WAVTOOL        the checkout and the wavtool binary (WAVTOOL=path to use another)
#   ok MSG / bad MSG     record a passed / failed check (bad counts, does not exit)
#   console NAME         a guest's console log ($OUT/console-NAME.log) without CRs
#   domid NAME           the domid noted for NAME in $OUT/domids.txt
#   finish WHAT          exit 1 when any check failed, else say all WHAT checks passed
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${OUT:?set OUT to the output directory of the run}"
if [ -z "${WAVTOOL:-}" ]; then
  WAVTOOL=$ROOT/target/release/wavtool
  # Always build: a wavtool left from an older checkout may lack compare options
  # the checks use (a no-op when it is up to date).
  (cd "$ROOT" && cargo build --release -q -p wavtool)
fi
failures=0
ok() { echo "host-check ok: $*"; }
bad() { echo "host-check FAIL: $*"; failures=$((failures + 1)); }
console() { tr -d '\r' < "$OUT/console-$1.log"; }
domid() { sed -n "s/^$1 \([0-9][0-9]*\)\$/\1/p" "$OUT/domids.txt"; }
finish() {
  if [ "$failures" -gt 0 ]; then
    echo "host-check: $failures check(s) FAILED"
    exit 1
  fi
  echo "host-check: all $1 checks passed"
}
