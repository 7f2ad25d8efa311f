#!/usr/bin/env python3
"""load_model into an existing module, ours beside the reference's, in one run.

  python3 tools/bench/bench_load_model.py [--gib 1] [--iterations 5] [--staging-mib 64]

One file of 256 F32 tensors (--gib GiB, written by the reference's save_file,
page cache warm). Each contender first builds a module of buffers shaped like
the file's tensors, zero-filled (so the model's own memory is resident before
the load and is not counted), then:

  reference: safetensors.torch.load_model(model, file) (safetensors 0.8.0:
      load_file, a state dict of mmap-backed tensors, then
      model.load_state_dict, which copies each into the model); timed in a
      python3 process, imports excluded;
  ours: safetensors::load_model(model, file) (tools/bench:torch_io_bench,
      --config=opt): every tensor read straight into the model's buffer by
      planned positioned reads; no state dict;
  ours, converting: the model's buffers are BF16, so every tensor goes
      through a staging buffer of --staging-mib MiB and Tensor::copy_.

Reports median and minimum time, and the peak resident memory of the first
load beyond the process's with the model built (/proc/self/status VmHWM after
resetting it), against the model's size and the target of staging + 10% of
the model.
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

REFERENCE = r"""
import json, sys, time, statistics, torch
from safetensors import safe_open
from safetensors.torch import load_model
path, iterations = sys.argv[1], int(sys.argv[2])
model = torch.nn.Module()
with safe_open(path, "pt") as f:
    for name in f.keys():
        s = f.get_slice(name)
        model.register_buffer(name, torch.zeros(s.get_shape(), dtype=torch.float32))
model_bytes = sum(b.numel() * b.element_size() for b in model.buffers())
def field(name):
    for line in open("/proc/self/status"):
        if line.startswith(name):
            return int(line.split()[1]) * 1024
open("/proc/self/clear_refs", "w").write("5")
baseline = field("VmRSS:")
load_model(model, path)
peak = field("VmHWM:") - baseline
times = []
for _ in range(iterations):
    start = time.perf_counter()
    load_model(model, path)
    times.append(time.perf_counter() - start)
print(json.dumps({"model_bytes": model_bytes, "peak_extra_bytes": peak,
                  "median_s": statistics.median(times), "min_s": min(times)}))
"""


def ours(binary, path, mode, staging_mib, iterations):
    out = subprocess.run([binary, "load_model", path, mode, str(staging_mib), str(iterations)],
                         check=True, capture_output=True, text=True).stdout.splitlines()
    result = json.loads(out[0])
    result.update(json.loads(out[1]))
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--staging-mib", type=int, default=64)
    args = ap.parse_args()
    subprocess.run(["bazel", "build", "--config=opt", "//tools/bench:torch_io_bench"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    binary = os.path.join(ROOT, "bazel-out", "k8-opt", "bin", "tools", "bench", "torch_io_bench")
    import torch
    from safetensors.torch import save_file

    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        path = os.path.join(tmp, "model.safetensors")
        per_tensor = int(args.gib * (1 << 30) / 256 / 4)
        g = torch.Generator().manual_seed(0)
        save_file({f"t{i:03d}": torch.rand(per_tensor, generator=g) for i in range(256)}, path)
        with open(path, "rb") as f:  # warm the page cache
            while f.read(1 << 26):
                pass
        reference = json.loads(subprocess.run(
            [sys.executable, "-c", REFERENCE, path, str(args.iterations)],
            check=True, capture_output=True, text=True).stdout)
        same = ours(binary, path, "same", args.staging_mib, args.iterations)
        bf16 = ours(binary, path, "bf16", args.staging_mib, args.iterations)

    staging = args.staging_mib << 20
    print(f"file: 256 F32 tensors, {reference['model_bytes'] / (1 << 30):.2f} GiB; "
          f"staging budget {args.staging_mib} MiB; warm page cache")
    print(f"{'contender':34} {'median':>9} {'min':>9} {'peak extra memory':>34}")
    for name, r in [("reference load_model", reference), ("ours load_model", same),
                    ("ours load_model, into BF16", bf16)]:
        model = r["model_bytes"]
        print(f"{name:34} {r['median_s'] * 1e3:7.1f}ms {r['min_s'] * 1e3:7.1f}ms "
              f"{r['peak_extra_bytes'] / (1 << 20):9.1f} MiB = {r['peak_extra_bytes'] / model:5.2f}x "
              f"model (target <= {(staging + 0.1 * model) / (1 << 20):.0f} MiB)")
    print(f"speed-up, same dtype (medians): {reference['median_s'] / same['median_s']:.2f}x")


if __name__ == "__main__":
    main()
