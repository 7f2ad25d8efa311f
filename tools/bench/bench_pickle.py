#!/usr/bin/env python3
"""torch.save checkpoints: loads and conversions, ours beside torch.load and the reference pipeline.

  bazel build --config=opt //tools:safetensors //tools/bench:load_bench
  python3 tools/bench/bench_pickle.py [--repeats 3] [--gib 1] [--only a,b]

Workloads (written into BENCH_DIR, default a temporary directory on disk), the
tensors of bench_load.py's workloads in both formats:
  a. 256 F32 tensors, 1 GiB: pytorch_model.bin (torch.save, zip format) and
     model.safetensors (save_file);
  b. the 2.7 GB transformer in 4 shards: pytorch_model-0000i-of-00004.bin with
     pytorch_model.bin.index.json, as transformers'
     save_pretrained(safe_serialization=False) writes them, and the same
     tensors as huggingface_hub.save_torch_state_dict writes them.

Every measurement is one process; Python contenders time from after their
imports to the end of their work, ours from the call to its return (loads)
or from start to exit (conversions). A cold run first drops every input from
the page cache with posix_fadvise(POSIX_FADV_DONTNEED) (load_bench drop);
a warm run follows a read of every input. Rounds visit every contender once,
in a new seeded order each round; the table gives medians.

Loads, each doing exactly this:
  ours .bin mmap+read     load_pickle_checkpoint (mmap backend: zero-copy views
                          of the mapping), then a sum over every tensor
  ours .bin pread         load_pickle_checkpoint (pread backend: every storage
                          read into memory of its own)
  ours .safetensors ...   load_checkpoint of the same tensors, the same way
                          (pread with its default direct_io)
  torch.load              torch.load(f, weights_only=True) of each file
                          (a dict of tensors in memory)
  torch.load mmap+read    torch.load(f, weights_only=True, mmap=True), then a
                          sum over every tensor
Conversions (the output's directory emptied before each run):
  ours convert            safetensors convert IN OUT (streams storages with
                          copy_file_range; fsyncs and renames each output)
  reference pipeline      torch.load(weights_only=True) -> _remove_duplicate_names
                          -> save_file, per file (convert.py's convert_file
                          without its reload check); its outputs are left in
                          the page cache, not made durable
  reference + fsync       the same, then os.fsync of each output: what ours
                          and the limit do (their outputs are durable)
  limit: cp + fsync       cp IN OUT && sync OUT for every input file: the same
                          bytes copied (coreutils 9 uses copy_file_range) and
                          made durable
  limit: durable copy     load_bench durable-copy: every input file copied by
                          copy_file_range in 16 MiB pieces at the same
                          offsets, each piece handed to the disk
                          (sync_file_range) as it is copied, then fsync: cp +
                          sync with the disk writing during the copy, as ours
                          does; the fastest durable copy of the same bytes
Peak memory of a conversion: the process's maximum resident set (wait4).
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_load  # noqa: E402  (the workloads and the page-cache helpers)

ROOT = bench_load.ROOT
SAFETENSORS = os.path.join(ROOT, "bazel-out", "k8-opt", "bin", "tools", "safetensors")

PYTHON = r"""
import glob, json, os, sys, time
import torch
mode, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
if os.path.isdir(path):
    files = sorted(glob.glob(os.path.join(path, "pytorch_model*.bin")))
else:
    files = [path]
start = time.perf_counter()
if mode == "load":
    tensors = {}
    for f in files:
        tensors.update(torch.load(f, weights_only=True))
elif mode == "load_mmap":
    tensors = {}
    for f in files:
        tensors.update(torch.load(f, weights_only=True, mmap=True))
    total = sum(float(t.float().sum()) for t in tensors.values())
elif mode in ("convert", "convert_fsync"):
    from safetensors.torch import _remove_duplicate_names, save_file
    for f in files:
        loaded = torch.load(f, map_location="cpu", weights_only=True)
        if "state_dict" in loaded:
            loaded = loaded["state_dict"]
        to_removes = _remove_duplicate_names(loaded)
        metadata = {"format": "pt"}
        for kept, group in to_removes.items():
            for name in group:
                metadata.setdefault(name, kept)
                del loaded[name]
        loaded = {k: v.contiguous() for k, v in loaded.items()}
        name = os.path.basename(f).rsplit(".", 1)[0].replace("pytorch_model", "model")
        save_file(loaded, os.path.join(out, name + ".safetensors"), metadata=metadata)
        if mode == "convert_fsync":
            fd = os.open(os.path.join(out, name + ".safetensors"), os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def timed_process(cmd):
    """Seconds from start to exit, and the command's peak resident bytes as
    GNU time reports it: a child of this process would count this process's
    pages (torch's among them) in its peak, as Linux keeps the peak across
    fork and exec; a child of `time` starts from `time`'s few pages."""
    with tempfile.NamedTemporaryFile("r") as peak:
        start = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-o", peak.name, "-f", "%M", *cmd], check=True,
                       stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        return seconds, int(peak.read().split()[-1]) * 1024


def python(mode, path, out="-"):
    return bench_load.run_json([sys.executable, "-c", PYTHON, mode, path, out])["seconds"]


def inputs_of(path):
    if not os.path.isdir(path):
        return [path]
    return sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(".bin"))


def write_pickles(directory, gib, only):
    """bench_load's workloads, and the same tensors as torch.save files."""
    import json
    import torch
    from safetensors.torch import load_file
    safetensors = bench_load.write_workloads(directory, gib, only)
    out = {}
    if "a" in only:
        a = os.path.join(directory, "a_bin")
        os.makedirs(a)
        torch.save(load_file(safetensors["a"]), os.path.join(a, "pytorch_model.bin"))
        out["a"] = (os.path.join(a, "pytorch_model.bin"), safetensors["a"])
    if "b" in only:
        b = os.path.join(directory, "b_bin")
        os.makedirs(b)
        shards = sorted(n for n in os.listdir(safetensors["b"]) if n.endswith(".safetensors"))
        weight_map, total = {}, 0
        for i, shard in enumerate(shards):
            tensors = load_file(os.path.join(safetensors["b"], shard))
            name = f"pytorch_model-{i + 1:05d}-of-{len(shards):05d}.bin"
            torch.save(tensors, os.path.join(b, name))
            for key, value in tensors.items():
                weight_map[key] = name
                total += value.numel() * value.element_size()
        with open(os.path.join(b, "pytorch_model.bin.index.json"), "w") as f:
            f.write(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map},
                               indent=2, sort_keys=True) + "\n")
        out["b"] = (b, safetensors["b"])
    return out


def cold(paths, warnings):
    for path in paths:
        bench_load.make_cold(path, warnings)


def warm(paths):
    for path in paths:
        names = [os.path.join(path, n) for n in os.listdir(path)] if os.path.isdir(path) else [path]
        for name in names:
            with open(name, "rb") as f:
                while f.read(1 << 26):
                    pass


def report(key, pickle_path, safetensors_path, directory, repeats, warnings):
    nbytes = sum(os.path.getsize(f) for f in inputs_of(pickle_path))
    out_dir = os.path.join(directory, f"{key}_out")
    peaks = {}

    def fresh_out():
        shutil.rmtree(out_dir, ignore_errors=True)
        os.makedirs(out_dir)

    def ours_convert():
        fresh_out()
        target = out_dir if os.path.isdir(pickle_path) else os.path.join(out_dir, "model.safetensors")
        seconds, peak = timed_process([SAFETENSORS, "convert", pickle_path, target])
        peaks["ours convert"] = peak
        return seconds

    def cp_fsync():
        fresh_out()
        seconds = 0.0
        for f in inputs_of(pickle_path):
            target = os.path.join(out_dir, os.path.basename(f))
            seconds += timed_process(["sh", "-c", f'cp "{f}" "{target}" && sync "{target}"'])[0]
        return seconds

    def durable_copy():
        fresh_out()
        return timed_process([os.path.join(bench_load.OPT_BIN, "load_bench"), "durable-copy", out_dir,
                              pickle_path])[0]

    def reference(mode="convert"):
        fresh_out()
        return python(mode, pickle_path, out_dir)

    lb = bench_load.load_bench
    runs = []  # (name, state, fn, inputs)
    for state in ("cold", "warm"):
        runs += [
            ("ours .bin mmap+read", state, lambda: lb("pickle", "mmap", 1, pickle_path)["seconds"],
             [pickle_path]),
            ("ours .bin pread", state, lambda: lb("pickle", "pread", 0, pickle_path)["seconds"],
             [pickle_path]),
            ("ours .safetensors mmap+read", state,
             lambda: lb("load", "mmap", 1, 0, safetensors_path)["seconds"], [safetensors_path]),
            ("ours .safetensors pread", state,
             lambda: lb("load", "pread", 0, 0, safetensors_path)["seconds"], [safetensors_path]),
            ("torch.load", state, lambda: python("load", pickle_path), [pickle_path]),
            ("torch.load mmap+read", state, lambda: python("load_mmap", pickle_path), [pickle_path]),
            ("ours convert", state, ours_convert, [pickle_path]),
            ("reference pipeline", state, reference, [pickle_path]),
            ("reference + fsync", state, lambda: reference("convert_fsync"), [pickle_path]),
            ("limit: cp + fsync", state, cp_fsync, [pickle_path]),
            ("limit: durable copy", state, durable_copy, [pickle_path]),
        ]
    times = {}
    order = random.Random(0)
    for _ in range(repeats):
        for name, state, fn, inputs in order.sample(runs, len(runs)):
            if state == "cold":
                cold(inputs, warnings)
            else:
                warm(inputs)
            bench_load.load_bench("prime", inputs[0])
            times.setdefault((name, state), []).append(fn())
    shutil.rmtree(out_dir, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n== workload {key}: {len(inputs_of(pickle_path))} torch.save file(s), "
          f"{nbytes / 1e9:.2f} GB, {repeats} rounds ==")
    print(f"{'contender':30} {'state':5} {'min s':>8} {'median s':>9} {'GB/s':>6}")
    for name, state, _, _ in runs:
        m = med[(name, state)]
        print(f"{name:30} {state:5} {min(times[(name, state)]):8.3f} {m:9.3f} {nbytes / m / 1e9:6.2f}")
    for state in ("cold", "warm"):
        m = lambda name: med[(name, state)]
        print(f"{state}: .bin vs .safetensors loads here: mmap+read "
              f"{m('ours .safetensors mmap+read') / m('ours .bin mmap+read'):.0%}, pread "
              f"{m('ours .safetensors pread') / m('ours .bin pread'):.0%} (100% = as fast); "
              f"ours .bin mmap+read vs torch.load mmap+read {m('torch.load mmap+read') / m('ours .bin mmap+read'):.2f}x, "
              f"ours .bin pread vs torch.load {m('torch.load') / m('ours .bin pread'):.2f}x; "
              f"convert: {m('limit: cp + fsync') / m('ours convert'):.0%} of cp + fsync, "
              f"{m('limit: durable copy') / m('ours convert'):.0%} of the durable copy, "
              f"{m('reference pipeline') / m('ours convert'):.2f}x the reference pipeline, "
              f"{m('reference + fsync') / m('ours convert'):.2f}x it with fsync")
    print(f"peak resident memory of ours convert (last run, whole process): "
          f"{peaks.get('ours convert', 0) / (1 << 20):.1f} MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--only", default="a,b")
    args = ap.parse_args()
    for binary in (SAFETENSORS, os.path.join(bench_load.OPT_BIN, "load_bench"), "/usr/bin/time"):
        if not os.path.exists(binary):
            sys.exit(f"missing {binary}: bazel build --config=opt //tools:safetensors "
                     "//tools/bench:load_bench")
    only = args.only.split(",")
    base = os.environ.get("BENCH_DIR")
    directory = tempfile.mkdtemp(dir=base, prefix="bench_pickle_")
    warnings = set()
    try:
        workloads = write_pickles(directory, args.gib, only)
        for key in only:
            pickle_path, safetensors_path = workloads[key]
            report(key, pickle_path, safetensors_path, directory, args.repeats, warnings)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    for w in sorted(warnings):
        print("warning:", w)


if __name__ == "__main__":
    main()
