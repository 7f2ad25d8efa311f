#!/usr/bin/env python3
"""torch_io speed, ours beside the reference and the physical limits, in one run.

  python3 tools/bench/bench_torch_io.py [--gib 1] [--iterations 5]

On the same files (written by the reference's save_file), page cache warm:
  1. a --gib GiB file of 256 F32 tensors: the reference's load_file (timed in
     this python3 process, imports excluded), our load_file with mmap and with
     pread, each also with every byte read (a sum); a plain pread loop into
     fresh memory; LibTorch's torch::load;
  2. saving those tensors: the reference's save_file, our save_file (which
     also fsyncs), plain write() with and without fsync; torch::save;
  3. 100,000 small tensors: the reference's load_file and ours.
Our side runs tools/bench:torch_io_bench built with --config=opt. Set BENCH_DIR
(e.g. /dev/shm) to put the files elsewhere: on tmpfs, disk writeback no longer
adds noise to the save timings.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build():
    subprocess.run(["bazel", "build", "--config=opt", "//tools/bench:torch_io_bench"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return os.path.join(ROOT, "bazel-bin", "tools", "bench", "torch_io_bench")


def ours(binary, *args):
    out = subprocess.run([binary, *map(str, args)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["median_s"]


def ours_cold(binary, iterations, *args):
    """The first run in a fresh process (fresh memory from the OS), median of several."""
    return statistics.median(ours(binary, *args, 1) for _ in range(iterations))


def timed(fn, iterations):
    seconds = []
    for _ in range(iterations):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--iterations", type=int, default=5)
    args = ap.parse_args()
    binary = build()
    import torch
    from safetensors.torch import load_file, save_file

    n = args.iterations
    rows = []

    def row(name, seconds, nbytes=None, baseline=None):
        rows.append((name, seconds, nbytes, baseline))

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        big = os.path.join(tmp, "big.safetensors")
        per_tensor = int(args.gib * (1 << 30) / 256 / 4)
        g = torch.Generator().manual_seed(0)
        save_file({f"layer.{i:03d}.weight": torch.rand(per_tensor, generator=g)
                   for i in range(256)}, big)
        nbytes = os.path.getsize(big)
        with open(big, "rb") as f:  # warm the page cache
            while f.read(1 << 26):
                pass

        def ref_load(touch):
            def run():
                tensors = load_file(big)
                if touch:
                    sum(float(t.sum()) for t in tensors.values())
            return run

        ref_plain = timed(ref_load(False), n)
        ref_touch = timed(ref_load(True), n)
        limit = ours(binary, "plain_pread", big, n)
        limit_cold = ours_cold(binary, n, "plain_pread", big)
        row("reference load_file", ref_plain, nbytes)
        row("ours load_file mmap", ours(binary, "load", big, "mmap", 0, n), nbytes, ref_plain)
        row("reference load_file + read all", ref_touch, nbytes)
        row("ours load_file mmap + read all", ours(binary, "load", big, "mmap", 1, n), nbytes,
            ref_touch)
        row("plain pread loop (limit)", limit, nbytes)
        row("ours load_file pread (owned)", ours(binary, "load", big, "pread", 0, n), nbytes,
            limit)
        row("plain pread loop, fresh process", limit_cold, nbytes)
        row("ours load_file pread, fresh process",
            ours_cold(binary, n, "load", big, "pread", 0), nbytes, limit_cold)

        out = os.path.join(tmp, "out.safetensors")
        owned = {k: v.clone() for k, v in load_file(big).items()}
        ref_save = timed(lambda: save_file(owned, out), n)
        plain = ours(binary, "plain_write", big, out, 0, n)
        plain_sync = ours(binary, "plain_write", big, out, 1, n)
        row("reference save_file (no fsync)", ref_save, nbytes)
        row("ours save_file (fsync)", ours(binary, "save", big, out, n), nbytes, ref_save)
        row("plain write (no fsync)", plain, nbytes)
        row("plain write + fsync (limit)", plain_sync, nbytes)
        pt = os.path.join(tmp, "big.pt")
        row("torch::save (LibTorch)", ours(binary, "torch_save", big, pt, n), nbytes)
        row("torch::load (LibTorch)", ours(binary, "torch_load", pt, n), nbytes)
        del owned

        many = os.path.join(tmp, "many.safetensors")
        save_file({f"model.layers.{i}.weight": torch.zeros(4) for i in range(100_000)}, many)
        ref_many = timed(lambda: load_file(many), n)
        row("reference load_file 100k tensors", ref_many)
        row("ours load_file mmap 100k tensors", ours(binary, "load", many, "mmap", 0, n), None,
            ref_many)
        row("ours load_file pread 100k tensors", ours(binary, "load", many, "pread", 0, n), None,
            ref_many)

    print(f"{'':40} {'median':>10} {'GB/s':>8} {'vs':>8}")
    for name, seconds, size, baseline in rows:
        rate = f"{size / seconds / 1e9:8.2f}" if size else " " * 8
        ratio = f"{baseline / seconds:7.2f}x" if baseline else ""
        print(f"{name:40} {seconds * 1000:8.1f}ms {rate} {ratio}")
    print("(vs: speed relative to the row above it that does the same work: the "
          "reference's call, or the plain pread loop; >1 is faster)")


if __name__ == "__main__":
    sys.exit(main())
