#!/usr/bin/env bash
# Fuzz targets of //fuzz with libFuzzer + ASan + UBSan.
#
#   tools/fuzz.sh TARGET... [--seconds N]        fuzz each for N s (default 60)
#   tools/fuzz.sh merge TARGET... [--seconds N]  fuzz, then fold what adds
#                                                coverage into fuzz/corpus/<target>/
#   tools/fuzz.sh coverage [TARGET...]           line coverage of parser/ and io/
#                                                from the kept corpora
# ("all" = every target). Fuzzing starts from the kept, minimized corpus
# fuzz/corpus/<target>/ (which `bazel test` replays too), the seeds
# (testdata/ and fuzz/seeds/<target>/) and the stored findings
# (fuzz/regressions/<target>/); new inputs go to a scratch corpus outside the
# tree ($FUZZ_CORPUS_DIR, default ~/.cache/safetensors-cpp-fuzz/<target>),
# which `merge` minimizes into fuzz/corpus/<target>/ (commit it). On a crash,
# timeout, leak or out-of-memory it prints the input's path and the command
# that reproduces it, and exits 1. `coverage` builds the replay binaries with
# clang's source-based coverage, runs each over its kept corpus, seeds and
# findings, and prints llvm-cov's per-file report for parser/ and io/ (HTML
# in $FUZZ_CORPUS_DIR/coverage/).
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=(parse_header_fuzzer header_json_fuzzer load_fuzzer roundtrip_fuzzer index_fuzzer checkpoint_fuzzer
     checksum_list_fuzzer zip_archive_fuzzer pickle_reader_fuzzer pickle_checkpoint_fuzzer)
seconds=60
targets=()
mode=fuzz
case "${1:-}" in
  merge|coverage) mode="$1"; shift ;;
esac
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seconds=*) seconds="${1#*=}"; shift ;;
    all) targets+=("${ALL[@]}"); shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ $mode == coverage ]] && ((${#targets[@]} == 0)) && targets=("${ALL[@]}")
((${#targets[@]})) || { echo "usage: tools/fuzz.sh [merge|coverage] TARGET... [--seconds N]; targets: ${ALL[*]}"; exit 2; }
root="${FUZZ_CORPUS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/safetensors-cpp-fuzz}"

# The seeds of a target: testdata, its own seeds, its stored findings.
seeds_of() {
  local target="$1"
  case "$target" in
    index_fuzzer) echo testdata/checkpoints ;;  # its folders hold the indexes
    checkpoint_fuzzer|checksum_list_fuzzer|pickle_reader_fuzzer) ;;  # their own formats, under fuzz/seeds/
    zip_archive_fuzzer|pickle_checkpoint_fuzzer) echo testdata/pickle ;;
    *) printf '%s\n' testdata/conformance/files testdata/golden testdata/invalid ;;
  esac
  echo "fuzz/regressions/$target"
  [[ -d "fuzz/seeds/$target" ]] && echo "fuzz/seeds/$target"
  return 0
}

if [[ $mode == coverage ]]; then
  # Source-based coverage (clang's -fprofile-instr-generate) of the replay
  # binaries, which run each input once, as bazel test does.
  bazel build --config=coverage_report "${targets[@]/#///fuzz:}"
  bin="$(bazel info --config=coverage_report bazel-bin)"
  out="$root/coverage"
  rm -rf "$out" && mkdir -p "$out"
  objects=()
  for target in "${targets[@]}"; do
    mapfile -t inputs < <(find fuzz/corpus/"$target" $(seeds_of "$target") -type f \
                            ! -name README.md 2>/dev/null | sort)
    echo "coverage: $target over ${#inputs[@]} inputs"
    LLVM_PROFILE_FILE="$out/$target.profraw" "$bin/fuzz/$target" "${inputs[@]}" >/dev/null
    objects+=(-object "$bin/fuzz/$target")
  done
  llvm-profdata-14 merge -sparse "$out"/*.profraw -o "$out/all.profdata"
  # The first -object is positional for llvm-cov.
  first="${objects[1]}"
  rest=("${objects[@]:2}")
  # Only the product's parsers and files: not tests, fuzz harnesses, headers
  # of other packages.
  filter=(--ignore-filename-regex='(^|/)(fuzz|tools|torch_io|testdata|external|usr)/|_test\.cc$')
  llvm-cov-14 report "$first" "${rest[@]}" -instr-profile="$out/all.profdata" "${filter[@]}"
  llvm-cov-14 show "$first" "${rest[@]}" -instr-profile="$out/all.profdata" "${filter[@]}" \
    -format=html -output-dir="$out/html" >/dev/null
  echo "coverage: HTML report in $out/html/index.html"
  exit 0
fi

# The dictionary of a target's format.
dict_of() {
  case "$1" in
    zip_archive_fuzzer|pickle_reader_fuzzer|pickle_checkpoint_fuzzer) echo fuzz/pickle.dict ;;
    *) echo fuzz/safetensors.dict ;;
  esac
}

# Longest input worth mutating, per target: whole files for the byte-level
# targets, short choice streams for the structure-aware ones.
max_len() {
  case "$1" in
    parse_header_fuzzer|load_fuzzer|index_fuzzer|checkpoint_fuzzer|zip_archive_fuzzer|\
    pickle_checkpoint_fuzzer|pickle_reader_fuzzer) echo 65536 ;;
    *) echo 4096 ;;
  esac
}

bazel build --config=fuzz "${targets[@]/#///fuzz:}"
# The fuzz configuration's own output folder (bazel-bin may point elsewhere).
bin="$(bazel info --config=fuzz bazel-bin)"
failed=0
for target in "${targets[@]}"; do
  corpus="$root/$target"
  artifacts="$root/findings/$target/"
  kept="fuzz/corpus/$target"
  mkdir -p "$corpus" "$artifacts" "$kept"
  mapfile -t seeds < <(seeds_of "$target")
  seeds=("$kept" "${seeds[@]}")
  log="$root/$target.log"
  echo "fuzz: $target for ${seconds}s (corpus $corpus)"
  # Dangerous inputs go to $artifacts; the first corpus folder gains new inputs.
  if ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1" \
     UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
     "$bin/fuzz/$target" -max_total_time="$seconds" -max_len="$(max_len "$target")" \
       -timeout=10 -rss_limit_mb=4096 -malloc_limit_mb=4096 -dict="$(dict_of "$target")" \
       -artifact_prefix="$artifacts" -print_final_stats=1 \
       "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    # The last status line carries the final coverage (cov: edges, ft: features).
    { grep -E '^#[0-9]+[[:space:]]' "$log" | tail -1 \
        | sed -E "s/^(#[0-9]+).*(cov: [0-9]+ ft: [0-9]+).*/fuzz: $target: final \\1 \\2/"
      grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
        "$log" | sed "s/^/fuzz: $target: /"; } || true
    if [[ $mode == merge ]]; then
      # A minimized corpus from the kept one and all that fuzzing found:
      # libFuzzer keeps the smallest inputs that together reach every
      # feature. It replaces the kept folder only when complete.
      merged="$root/$target.merged"
      rm -rf "$merged" && mkdir -p "$merged"
      "$bin/fuzz/$target" -merge=1 -max_len="$(max_len "$target")" -timeout=10 \
        -rss_limit_mb=4096 "$merged" "$kept" "$corpus" >"$root/$target.merge.log" 2>&1 \
        || { tail -20 "$root/$target.merge.log"; echo "fuzz: $target: merge failed"; exit 1; }
      rm -rf "$kept" && mv "$merged" "$kept"
      echo "fuzz: $target: fuzz/corpus/$target holds $(ls "$kept" | wc -l) inputs," \
           "$(du -sk "$kept" | cut -f1) KiB"
    fi
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
