# Host side: the 256 KiB file the domU printed as base64 decoded to the same bytes.
set -e
cd "$OUT"
sha256sum -c domu-blob.sha256
