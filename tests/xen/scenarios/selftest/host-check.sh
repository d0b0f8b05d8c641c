# Host side of the self-test: the 4 MiB blob came back through the results disk intact.
set -e
cd "$OUT"
sha256sum -c blob.sha256
