#!/bin/bash
# `make test-starter`: the README's "Write your own app", command for
# command, in a temporary directory outside this workspace: copy the starter
# (apps/hello), point it at this checkout, build it for the guest target,
# run its host test against the simulator, and run it under QEMU+Xen with
# its scenario (sndback's WAV of the played stream = the embedded sound,
# byte for byte). Keep the README's commands and these in step.
set -euo pipefail
XENSND=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$XENSND/out}
work=$(mktemp -d "${TMPDIR:-/tmp}/xensnd-starter.XXXXXX")
# The scenario's results stay in $OUT/xen/starter when the copy is removed.
keep() { rm -rf "$OUT/xen/starter"; mkdir -p "$OUT/xen"; [ -d "$work/my-app/out" ] && cp -r "$work/my-app/out" "$OUT/xen/starter"; rm -rf "$work"; }
trap keep EXIT
stage() { echo "== test-starter: $1 ($(( $(date +%s) - t0 )) s)"; }
t0=$(date +%s)

stage "copy apps/hello to $work/my-app"
# ---- README: Write your own app ----
cd "$work"
cp -r $XENSND/apps/hello my-app && cd my-app
sed -i "s|path = \"../..\"|path = \"$XENSND\"|" Cargo.toml
cp $XENSND/rust-toolchain.toml .
mkdir -p .cargo
printf '[target.x86_64-unknown-none]\nrustflags = ["-C", "relocation-model=static"]\n' > .cargo/config.toml
stage "cargo build --release --target x86_64-unknown-none"
cargo build --release --target x86_64-unknown-none
stage "cargo test (host, against the simulator)"
cargo test
stage "make xen-scenario (QEMU+Xen, sndback)"
XENSND_ELF=$PWD/target/x86_64-unknown-none/release/hello \
  make -C $XENSND xen-scenario SCENARIO=$PWD/scenario OUT=$PWD/out
# ---- end of the README's commands ----
stage "passed"
