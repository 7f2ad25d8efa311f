#!/bin/bash
# Files written by our writer, checked by the reference implementation.
# Args: interop_writer python3 check.py golden-manifest gen_golden.py
set -euo pipefail
writer="$1" python="$2" check="$3" manifest="$4" gen_golden="$5"
out="${TEST_TMPDIR}/interop"
mkdir -p "$out"
"$writer" "$out"
"$python" "$check" "$out" "$(dirname "$manifest")" "$(dirname "$gen_golden")"
