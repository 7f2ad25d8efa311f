#!/usr/bin/env python3
"""Header validation speed and memory, ours beside the reference's, in one run.

  python3 tools/bench/bench_parse_header.py [--tensors 100000] [--iterations 20]

Writes a file of N one-element tensors with the reference's save_file, then
times, on the same file: the reference's `safe_open(path, "pt")` plus
`.keys()` inside this python3 process (imports excluded), and our
parse_header_bench (open, read, ParseHeader, list names; built with
--config=opt). Reports medians, the ratio, and our peak resident memory for one
open as a multiple of the header size.
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build():
    subprocess.run(["bazel", "build", "--config=opt", "//tools/bench:parse_header_bench"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return os.path.join(ROOT, "bazel-bin", "tools", "bench", "parse_header_bench")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tensors", type=int, default=100_000)
    ap.add_argument("--iterations", type=int, default=20)
    args = ap.parse_args()
    binary = build()

    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "many.safetensors")
        save_file({f"model.layers.{i}.mlp.weight": torch.zeros(1)
                   for i in range(args.tensors)}, path)
        with open(path, "rb") as f:
            header_size = struct.unpack("<Q", f.read(8))[0]

        ref_ms = []
        for _ in range(args.iterations):
            start = time.perf_counter()
            with safe_open(path, "pt") as f:
                keys = f.keys()
            ref_ms.append((time.perf_counter() - start) * 1000)
            assert len(keys) == args.tensors
        ours = json.loads(subprocess.run([binary, path, str(args.iterations)], check=True,
                                         capture_output=True, text=True).stdout)
        assert ours["tensors"] == args.tensors

    ref = statistics.median(ref_ms)
    print(f"header: {header_size} bytes, {args.tensors} tensors, {args.iterations} iterations")
    print(f"reference safe_open+keys  median {ref:8.2f} ms   min {min(ref_ms):8.2f} ms")
    print(f"ours open+ParseHeader     median {ours['median_ms']:8.2f} ms   min {ours['min_ms']:8.2f} ms")
    print(f"speedup (median)          {ref / ours['median_ms']:.1f}x")
    print(f"our peak memory, one open {ours['peak_rss_delta_bytes']} bytes = "
          f"{ours['peak_rss_delta_bytes'] / header_size:.2f}x the header size")


if __name__ == "__main__":
    sys.exit(main())
