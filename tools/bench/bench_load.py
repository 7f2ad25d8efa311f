#!/usr/bin/env python3
"""Whole-checkpoint loads, cold and warm, beside the limits and the other loaders, in one run.

  python3 tools/bench/bench_load.py [--repeats 5] [--gib 1] [--only a,b,c]

Workloads (written into BENCH_DIR, default a temporary directory on disk):
  a. one file, --gib GiB of 256 F32 tensors (the reference's save_file);
  b. a transformer-shaped checkpoint of about 2 GiB in 4 shards (embedding,
     24 layers of attention and MLP weights in BF16, norms in F32, an
     untied LM head; huggingface_hub.save_torch_state_dict);
  c. an MoE-shaped checkpoint of about 20,000 small tensors in 8 shards (24
     layers x 128 experts x 3 BF16 weights with an F32 scale each;
     huggingface_hub.save_torch_state_dict).

Every measurement runs in a process of its own and times only the load
(imports, building the model and dropping the cache excluded). A cold run
first drops every file of the workload from the page cache with
posix_fadvise(POSIX_FADV_DONTNEED) and checks with mincore that it worked (a
warning says when pages stayed); a warm run follows a read of every file.
Then every run follows a process that wrote and freed memory as large as the
files (load_bench prime): this VM hands memory that stays free back to its
host, and fresh memory then costs host page faults (a warm 1 GiB owned load
took 0.09 s after another load, 0.86 s after other work), so without it the
previous process, not the contender, decided the time of loads into new
memory.
Measurements go in rounds, every contender and limit loop once per round in
a new (seeded) order, so that neither a slow spell of this shared machine nor
what the previous process left behind falls on one of them.

Contenders, each doing exactly this:
  device limit       cold: a C loop bringing in every byte, nothing else:
                     positioned reads into reused buffers (2 or 4 threads x
                     1 MiB blocks from one queue, a sequential front the
                     kernel's readahead runs ahead of; 4 or 8 threads x 16
                     MiB), the same with O_DIRECT (4 or 8 x 16 MiB), or a
                     read of a byte of every page of a mapping (the same
                     shapes); the best. Run twice over: in a fresh process
                     (the limit of loads into new tensors) and in one that
                     has first written memory as large as the files (the
                     limit of loads into a built model: on this VM that
                     state alone made cold reads faster, O_DIRECT up to 2x)
  page-cache limit   warm: positioned reads (1, 2 and 4 threads x 1 and 16
                     MiB; the best) into one buffer on transparent huge
                     pages, written before the clock starts (no faults: the
                     issue's limit) or not (the reads fault it in, as any
                     load into new tensors must)
  ours pread         load_checkpoint(path), pread backend: owned tensors
                     (direct_io kAuto: O_DIRECT reads for what is not cached)
  ours pread, buffered  the same with direct_io kNever: every read through
                     the page cache (cold only: warm, kAuto reads buffered)
  ours mmap+read     load_checkpoint(path), mmap backend, then every tensor
                     summed so every byte is read
  ours model         load_torch_model into a module of zeroed buffers; (a)
                     also into BF16 buffers, every tensor converted through
                     the 64 MiB staging buffer
  ref load_file+read (a) safetensors.torch.load_file, every tensor summed
  ref model          (a) safetensors.torch.load_model; (b, c) the
                     transformers loop: safe_open each shard, get_tensor
                     each name, then module.load_state_dict
  fastsafetensors    fastsafe_open(all files, device="cpu", nogds=True),
                     get_tensor of every name (0.5.0)
  torch::load        (a) LibTorch's torch::load of the same tensors that
                     torch::save wrote (tools/bench:torch_io_bench)

Reports min and median seconds, GB/s of the median, the median as a share of
the limit of its state and process (device cold, page cache warm), and the peak resident
memory the model loads add beyond the process with its model built
(/proc/self/status VmHWM after resetting it).
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPT_BIN = os.path.join(ROOT, "bazel-out", "k8-opt", "bin", "tools", "bench")
THREADS = 2  # this machine's cores

PYTHON_CONTENDER = r"""
import glob, json, os, sys, time
import torch
mode, path = sys.argv[1], sys.argv[2]
files = sorted(glob.glob(os.path.join(path, "*.safetensors"))) if os.path.isdir(path) else [path]
DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}

def shaped_module():
    from safetensors import safe_open
    root = torch.nn.Module()
    for name in files:
        with safe_open(name, "pt") as f:
            for key in f.keys():
                s = f.get_slice(key)
                *parents, last = key.split(".")
                m = root
                for p in parents:
                    if not hasattr(m, p):
                        m.add_module(p, torch.nn.Module())
                    m = getattr(m, p)
                m.register_buffer(last, torch.zeros(s.get_shape(), dtype=DTYPES[s.get_dtype()]))
    return root

def field(name):
    for line in open("/proc/self/status"):
        if line.startswith(name):
            return int(line.split()[1]) * 1024

# Imports and the module come before the peak is reset and the clock starts.
if mode == "fastsafetensors":
    from fastsafetensors import fastsafe_open
else:
    from safetensors import safe_open
    from safetensors.torch import load_file, load_model
if mode == "ref_model":
    model = shaped_module()
open("/proc/self/clear_refs", "w").write("5")
baseline = field("VmRSS:")
if mode == "ref_read":
    start = time.perf_counter()
    tensors = load_file(path)
    total = sum(float(t.sum()) for t in tensors.values())
elif mode == "ref_model":
    start = time.perf_counter()
    if len(files) == 1 and not os.path.isdir(path):
        load_model(model, path)
    else:  # what transformers does with a sharded checkpoint
        state = {}
        for name in files:
            with safe_open(name, "pt") as f:
                for key in f.keys():
                    state[key] = f.get_tensor(key)
        model.load_state_dict(state, strict=False)
elif mode == "fastsafetensors":
    start = time.perf_counter()
    with fastsafe_open(files, "pt", device="cpu", nogds=True) as f:
        tensors = {key: f.get_tensor(key) for key in f.keys()}
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_extra_bytes": field("VmHWM:") - baseline}))
"""


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def load_bench(*args):
    return run_json([os.path.join(OPT_BIN, "load_bench"), *map(str, args)])


def files_of(path):
    if not os.path.isdir(path):
        return [path]
    return sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(".safetensors"))


def make_cold(path, warnings):
    resident = load_bench("drop", path)["resident_after_drop"]
    if resident > 0.01:
        warnings.add(f"{os.path.basename(path)}: {resident:.0%} of pages stayed cached after "
                     "POSIX_FADV_DONTNEED: cold runs were partly warm")


def make_warm(path):
    for name in files_of(path):
        with open(name, "rb") as f:
            while f.read(1 << 26):
                pass


def write_workloads(directory, gib, only):
    import torch
    from huggingface_hub import save_torch_state_dict
    from safetensors.torch import save_file
    g = torch.Generator().manual_seed(0)
    out = {}
    if "a" in only:
        a = os.path.join(directory, "a.safetensors")
        per_tensor = int(gib * (1 << 30) / 256 / 4)
        save_file({f"layers.{i:03d}.weight": torch.rand(per_tensor, generator=g)
                   for i in range(256)}, a)
        out["a"] = a
    if "b" in only:
        hidden, inter, vocab, layers = 2048, 5632, 32000, 24
        sd = {"model.embed_tokens.weight": torch.rand(vocab, hidden, generator=g).bfloat16()}
        for i in range(layers):
            p = f"model.layers.{i}."
            for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
                sd[p + f"self_attn.{name}.weight"] = torch.rand(hidden, hidden, generator=g).bfloat16()
            sd[p + "mlp.gate_proj.weight"] = torch.rand(inter, hidden, generator=g).bfloat16()
            sd[p + "mlp.up_proj.weight"] = torch.rand(inter, hidden, generator=g).bfloat16()
            sd[p + "mlp.down_proj.weight"] = torch.rand(hidden, inter, generator=g).bfloat16()
            sd[p + "input_layernorm.weight"] = torch.rand(hidden, generator=g)
            sd[p + "post_attention_layernorm.weight"] = torch.rand(hidden, generator=g)
        sd["model.norm.weight"] = torch.rand(hidden, generator=g)
        sd["lm_head.weight"] = torch.rand(vocab, hidden, generator=g).bfloat16()
        total = sum(t.numel() * t.element_size() for t in sd.values())
        b = os.path.join(directory, "b")
        os.makedirs(b)
        save_torch_state_dict(sd, b, max_shard_size=total // 4 + (64 << 20))
        out["b"] = b
    if "c" in only:
        sd = {}
        for layer in range(24):
            for e in range(128):
                p = f"model.layers.{layer}.mlp.experts.{e}."
                for name in ("gate_proj", "up_proj", "down_proj"):
                    sd[p + name + ".weight"] = torch.rand(64, 128, generator=g).bfloat16()
                    sd[p + name + ".scale"] = torch.rand(64, generator=g)
        total = sum(t.numel() * t.element_size() for t in sd.values())
        c = os.path.join(directory, "c")
        os.makedirs(c)
        save_torch_state_dict(sd, c, max_shard_size=total // 8 + (1 << 20))
        out["c"] = c
    return out


def report(key, path, torch_file, repeats, warnings):
    """Measures every contender and limit on one workload and prints its table."""
    nbytes = sum(os.path.getsize(f) for f in files_of(path))
    runs = []  # (name, state, condition, fn, target); condition picks the limit
    # 1 MiB blocks from one queue make one sequential front, which the
    # kernel's readahead runs ahead of; 16 MiB blocks on more threads keep
    # more reads in flight. Either can win on this VM.
    loops = [(how, threads, block) for how in ("pread", "mmap") for threads, block in
             ((2, 1), (4, 1), (4, 16), (8, 16))] + [("direct", 4, 16), ("direct", 8, 16)]
    for how, threads, block in loops:
        for faulted in (0, 1):
            runs.append((f"device ({how}, {threads} thr, {block} MiB)", "cold",
                         "faulted" if faulted else "fresh",
                         lambda t=threads, h=how, b=block, f=faulted:
                         load_bench("device", t, b, h, f, path)["seconds"], path))
    for threads in (1, THREADS, 4):
        for block in (1, 16):
            for fresh in (0, 1):
                runs.append((f"page cache ({threads} thr, {block} MiB)", "warm",
                             "fresh" if fresh else "faulted",
                             lambda t=threads, b=block, f=fresh:
                             load_bench("copy", t, b, f, path)["seconds"], path))
    peaks = {}  # name -> peak extra memory of its last run

    def with_peak(name, result):
        peaks[name] = result["peak_extra_bytes"]
        return result["seconds"]

    python = lambda mode: run_json([sys.executable, "-c", PYTHON_CONTENDER, mode, path])
    ref = "ref model" if key == "a" else "ref transformers loop"
    for state in ("cold", "warm"):
        owned, model = "fresh", "faulted"  # new tensors vs a model's, built before
        runs.append(("ours pread", state, owned,
                     lambda: load_bench("load", "pread", 0, 0, path)["seconds"], path))
        if state == "cold":
            runs.append(("ours pread, buffered", state, owned,
                         lambda: load_bench("load", "pread-buffered", 0, 0, path)["seconds"],
                         path))
        runs.append(("ours mmap+read", state, owned,
                     lambda: load_bench("load", "mmap", 1, 0, path)["seconds"], path))
        runs.append(("ours model", state, model, lambda: with_peak(
            "ours model", load_bench("model", "same", 0, path)), path))
        if key == "a":
            runs.append(("ours model into BF16", state, model, lambda: with_peak(
                "ours model into BF16", load_bench("model", "bf16", 0, path)), path))
            runs.append(("ref load_file+read", state, owned,
                         lambda: python("ref_read")["seconds"], path))
        runs.append((ref, state, model, lambda: with_peak(ref, python("ref_model")), path))
        runs.append(("fastsafetensors", state, owned,
                     lambda: python("fastsafetensors")["seconds"], path))
        if key == "a":
            runs.append(("torch::load", state, owned, lambda: run_json(
                [os.path.join(OPT_BIN, "torch_io_bench"), "torch_load", torch_file, "1"]
            )["median_s"], torch_file))

    # Rounds: every contender once per round, in a new order each round, so
    # that neither a slow spell of this shared machine nor what the previous
    # process left behind (this VM hands freed memory back to its host, and
    # fresh memory then costs host page faults) falls on one of them.
    times = {}
    order = random.Random(0)
    for _ in range(repeats):
        for name, state, condition, fn, target in order.sample(runs, len(runs)):
            if state == "cold":
                make_cold(target, warnings)
            else:
                make_warm(target)
            load_bench("prime", target)
            times.setdefault((name, state, condition), []).append(fn())

    # In the order the runs were listed: limits first, then cold, then warm.
    med = {(name, state, condition): statistics.median(times[(name, state, condition)])
           for name, state, condition, _, _ in runs}
    limits = {}  # (state, memory) -> (name, median seconds) of the best limit loop
    for (name, state, condition), m in med.items():
        if name.startswith(("device (", "page cache (")):
            if (state, condition) not in limits or m < limits[(state, condition)][1]:
                limits[(state, condition)] = (name, m)
    limit_of = lambda state, condition: limits[(state, condition)][1]
    # The limits: cold, the best loop in either memory state (a load
    # that beats the loops of its own state has not reached the device);
    # warm, copying into memory written beforehand.
    target_of = lambda state: (min(limit_of("cold", "fresh"), limit_of("cold", "faulted"))
                               if state == "cold" else limit_of("warm", "faulted"))
    print(f"\n== workload {key}: {len(files_of(path))} file(s), {nbytes / 1e9:.2f} GB, "
          f"{repeats} rounds ==")
    print(f"{'contender':38} {'state':5} {'memory':7} {'min s':>8} {'median s':>9} "
          f"{'GB/s':>6} {'of limit':>8} {'of target limit':>15}")
    for (name, state, condition), m in med.items():
        is_limit = name.startswith(("device (", "page cache ("))
        if is_limit and limits[(state, condition)][0] != name:
            continue
        label = ("limit: " if is_limit else "") + name
        target = target_of(state)
        print(f"{label:38} {state:5} {condition:7} {min(times[(name, state, condition)]):8.3f} "
              f"{m:9.3f} {nbytes / m / 1e9:6.2f} {limit_of(state, condition) / m:8.0%} "
              f"{target / m:15.0%}")
    print("memory: fresh = the load fills new memory in a new process (owned tensors); "
          "faulted = it fills a model built before the clock, or its process wrote memory as "
          "large as the files first. The limit of a row is the best loop of its state and "
          "memory; the target limit is the issue's: the best device loop cold, copying into "
          "faulted memory warm")
    print("peak extra memory of the last run: " + ", ".join(
        f"{name} {peak / (1 << 20):.1f} MiB" for name, peak in peaks.items()))
    m = lambda name, state: med[next(k for k in med if k[0] == name and k[1] == state)]
    share = lambda name, state: target_of(state) / m(name, state)
    print(f"target ratios: cold, of the device: ours pread {share('ours pread', 'cold'):.0%}, "
          f"ours mmap+read {share('ours mmap+read', 'cold'):.0%}, ours model "
          f"{share('ours model', 'cold'):.0%}; warm, of copying into faulted memory: ours pread "
          f"{share('ours pread', 'warm'):.0%}, ours model {share('ours model', 'warm'):.0%}; "
          f"ours model vs {ref}: cold {m(ref, 'cold') / m('ours model', 'cold'):.2f}x, warm "
          f"{m(ref, 'warm') / m('ours model', 'warm'):.2f}x")
    if key == "a":
        print(f"mmap+read vs ref load_file+read, warm: "
              f"{m('ref load_file+read', 'warm') / m('ours mmap+read', 'warm'):.2f}x")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--only", default="a,b,c")
    args = ap.parse_args()
    subprocess.run(["bazel", "build", "--config=opt", "//tools/bench:load_bench",
                    "//tools/bench:torch_io_bench"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    only = set(args.only.split(","))
    warnings = set()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR", "/var/tmp")) as tmp:
        workloads = write_workloads(tmp, args.gib, only)
        torch_file = os.path.join(tmp, "a.pt")
        if "a" in workloads:
            subprocess.run([os.path.join(OPT_BIN, "torch_io_bench"), "torch_save", workloads["a"],
                            torch_file, "1"], check=True, capture_output=True)

        for key in sorted(workloads):
            report(key, workloads[key], torch_file, args.repeats, warnings)
    for w in sorted(warnings):
        print("warning:", w)


if __name__ == "__main__":
    main()
