#!/bin/bash
# The built binaries as a user runs them. Args: safetensors safetensors_scan example.
set -uo pipefail
tool="$1" scan="$2" example="$3"
fail() { echo "FAIL: $*"; exit 1; }

out="$("$tool" check "$example")" || fail "safetensors check exited $?: $out"
[[ "$out" == *": OK, 4 tensors"* ]] || fail "safetensors check printed: $out"

# dump and diff go to safetensors_values, found beside the binary.
out="$("$tool" dump "$example" fc2.bias)" || fail "safetensors dump exited $?: $out"
[[ "$out" == *"values: [0.18663338, -0.088523865, 0.14583185]"* ]] || fail "dump printed: $out"
out="$("$tool" diff "$example" "$example")" || fail "safetensors diff exited $?: $out"
[[ "$out" == "identical: 4 tensors" ]] || fail "diff printed: $out"

# The scanner checks and inspects, refuses the LibTorch commands clearly...
"$scan" inspect "$example" | grep -q "total: 4 tensors" || fail "safetensors_scan inspect"
"$scan" dump "$example" fc2.bias 2>/dev/null; code=$?
[[ $code == 2 ]] || fail "safetensors_scan dump exited $code, expected 2"
# ...and neither it nor the safetensors command loads LibTorch at run time.
for binary in "$tool" "$scan"; do
  if ldd "$binary" | grep -E 'libtorch|libc10'; then fail "$binary loads LibTorch"; fi
done
echo "PASS"
