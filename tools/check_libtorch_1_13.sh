#!/usr/bin/env bash
# Checks that every source that includes LibTorch (torch_io/ with its tests
# and test helpers, the CLI's value commands and its test) compiles against
# Debian 12's LibTorch 1.13 (the fallback LibTorch, which has fewer dtypes),
# without installing it: its headers and those of its -dev dependencies are
# unpacked into a scratch folder and each source is compiled with the
# project's warning flags.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
packages=(libtorch-dev libgflags-dev libgoogle-glog-dev libprotobuf-dev python3-dev)
(cd "$work" && apt-get download "${packages[@]}" >/dev/null 2>&1) ||
  { echo "check_libtorch_1_13: apt-get download ${packages[*]} failed"; exit 1; }
for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/root"; done
version="$(grep -hE 'define TORCH_VERSION_(MAJOR|MINOR)' \
  "$work/root/usr/include/torch/csrc/api/include/torch/version.h" | awk '{print $3}' | paste -sd.)"
copts=$(python3 -c 'import re,sys; print(" ".join(re.findall(r"\"(-W[^\"]+)\"", open("bazel/copts.bzl").read())))')
failed=0
for src in torch_io/*.cc torch_io/testing/*.cc tools/value_commands.cc tools/cli_test.cc; do
  if g++ -std=c++17 -fsyntax-only $copts \
      -isystem "$work/root/usr/include" \
      -isystem "$work/root/usr/include/torch/csrc/api/include" -I. "$src"; then
    echo "libtorch-$version: OK   $src"
  else
    echo "libtorch-$version: FAIL $src"; failed=1
  fi
done
exit $failed
