#!/usr/bin/env bash
# `safetensors inspect` on a 10 GB file reads only its header.
#
#   tools/bench/bench_inspect_sparse.sh
#
# Writes a real header (our canonical writer, via the reference-compatible
# save path: python3 + safetensors) and extends the file to 10 GB with
# truncate, so the data is a hole. Then times inspect (median of 5) and counts
# the bytes it reads with strace (read/pread64 return values). Needs strace
# (apt-get install strace).
set -euo pipefail
cd "$(dirname "$0")/../.."
bazel build --config=opt //tools:safetensors >/dev/null 2>&1
tool="$PWD/bazel-bin/tools/safetensors"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
file="$dir/sparse10g.safetensors"
python3 - "$file" <<'PY'
import json, struct, sys
n = 10_000_000_000 // 4
header = json.dumps({"__metadata__": {"format": "pt"},
                     "weight": {"dtype": "F32", "shape": [n], "data_offsets": [0, n * 4]}},
                    separators=(",", ":")).encode()
header += b" " * ((8 - len(header) % 8) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(header)) + header)
PY
header_bytes=$(stat -c %s "$file")
truncate -s $((header_bytes + 10000000000)) "$file"
echo "file: $(stat -c %s "$file") bytes, $(du -k "$file" | cut -f1) KiB on disk, header $header_bytes bytes"
times=()
for i in 1 2 3 4 5; do
  start=$(date +%s%N); "$tool" inspect "$file" >/dev/null; end=$(date +%s%N)
  times+=($(( (end - start) / 1000 )))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
echo "inspect: median ${median} us over 5 runs"
# -y names the file behind each descriptor, so only this file's reads count.
strace -f -y -e trace=read,pread64,mmap -o "$dir/trace" "$tool" inspect "$file" >/dev/null
grep -F "$file" "$dir/trace" | sed -E 's/^[0-9]+ +//' | cut -c1-120
total=$(grep -F "$file" "$dir/trace" | grep -E '^[0-9]+ +(read|pread64)\(' \
  | sed -E 's/.*= ([0-9]+)$/\1/' | awk '{s+=$1} END {print s+0}')
echo "inspect: read $total bytes of the $(stat -c %s "$file")-byte file"
start=$(date +%s%N); "$tool" --help >/dev/null; end=$(date +%s%N)
echo "for scale: the tool's start-up alone (--help, loading LibTorch) takes $(( (end - start) / 1000 )) us"
"$tool" inspect "$file" | tail -3
