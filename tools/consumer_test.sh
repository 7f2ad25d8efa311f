#!/usr/bin/env bash
# Builds and runs tools/consumer, a separate Bazel workspace that depends on
# this repository through local_repository, as a monorepo would. Run by CI
# (Bazel cannot run Bazel inside its own test sandbox).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/tools/consumer"
out="$(bazel run //:consumer -- "$root/testdata/example_mlp.safetensors" 2>/dev/null)"
echo "$out"
if [[ "$out" != "consumer: 4 tensors, 131 elements" ]]; then
  echo "consumer_test: unexpected output"; exit 1
fi
echo "consumer_test: 1 passed, 0 failed"
