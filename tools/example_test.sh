#!/bin/bash
# Args: python3 example_test.py example checkpoint gen_golden.py
set -euo pipefail
exec "$1" "$2" "$3" "$4" "$5"
