#!/usr/bin/env bash
# Fuzz targets of //fuzz with libFuzzer + ASan + UBSan for a time box each.
#
#   tools/fuzz.sh TARGET... [--seconds N]     (default 60 s; "all" = every target)
#
# New interesting inputs are kept in a corpus outside the source tree
# ($FUZZ_CORPUS_DIR, default ~/.cache/safetensors-cpp-fuzz/<target>); seeds are
# testdata/ and fuzz/seeds/<target>/; stored findings fuzz/regressions/<target>/.
# On a crash, timeout, leak or out-of-memory it prints the input's path and the
# command that reproduces it, and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(parse_header_fuzzer header_json_fuzzer load_fuzzer roundtrip_fuzzer index_fuzzer checkpoint_fuzzer)
seconds=60
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    all) targets+=("${ALL[@]}"); shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || { echo "usage: tools/fuzz.sh TARGET... [--seconds N]; targets: ${ALL[*]}"; exit 2; }

# Longest input worth mutating, per target: whole files for the byte-level
# targets, short choice streams for the structure-aware ones.
max_len() {
  case "$1" in
    parse_header_fuzzer|load_fuzzer|index_fuzzer|checkpoint_fuzzer) echo 65536 ;;
    *) echo 4096 ;;
  esac
}

bazel build --config=fuzz "${targets[@]/#///fuzz:}"
# The fuzz configuration's own output folder (bazel-bin may point elsewhere).
bin="$(bazel info --config=fuzz bazel-bin)"
root="${FUZZ_CORPUS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/safetensors-cpp-fuzz}"
failed=0
for target in "${targets[@]}"; do
  corpus="$root/$target"
  artifacts="$root/findings/$target/"
  mkdir -p "$corpus" "$artifacts"
  case "$target" in
    index_fuzzer) seeds=(testdata/checkpoints) ;;  # its folders hold the indexes
    checkpoint_fuzzer) seeds=() ;;                  # its own format, under fuzz/seeds/
    *) seeds=(testdata/conformance/files testdata/golden testdata/invalid) ;;
  esac
  seeds+=("fuzz/regressions/$target")
  [[ -d "fuzz/seeds/$target" ]] && seeds+=("fuzz/seeds/$target")
  log="$root/$target.log"
  echo "fuzz: $target for ${seconds}s (corpus $corpus)"
  # Dangerous inputs go to $artifacts; the first corpus folder gains new inputs.
  if ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1" \
     UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
     "$bin/fuzz/$target" -max_total_time="$seconds" -max_len="$(max_len "$target")" \
       -timeout=10 -rss_limit_mb=4096 -malloc_limit_mb=4096 -dict=fuzz/safetensors.dict \
       -artifact_prefix="$artifacts" -print_final_stats=1 \
       "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    # The last status line carries the final coverage (cov: edges, ft: features).
    { grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1 \
        | sed -E "s/^(#[0-9]+).*(cov: [0-9]+ ft: [0-9]+).*/fuzz: $target: final \\1 \\2/"
      grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
        "$log" | sed "s/^/fuzz: $target: /"; } || true
  else
    failed=1
    tail -40 "$log"
    finding="$(ls -t "$artifacts" 2>/dev/null | head -1)"
    echo "fuzz: $target FAILED; log $log"
    if [[ -n "$finding" ]]; then
      echo "fuzz: input: $artifacts$finding"
      echo "fuzz: reproduce: bazel build --config=fuzz //fuzz:$target && $bin/fuzz/$target $artifacts$finding"
      echo "fuzz: once fixed, keep it: cp $artifacts$finding fuzz/regressions/$target/"
    fi
  fi
done
exit $failed
