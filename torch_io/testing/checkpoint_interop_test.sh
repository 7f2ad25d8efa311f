#!/bin/bash
# Checkpoints written by huggingface_hub and by us, compared byte for byte and
# loaded across. Args: checkpoint_interop python3 check.py cases.json
set -euo pipefail
binary="$1" python="$2" check="$3" cases="$4"
work="${TEST_TMPDIR}/checkpoint_interop"
rm -rf "$work"
mkdir -p "$work"
"$python" "$check" "$binary" "$cases" "$work"
