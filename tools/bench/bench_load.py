#!/usr/bin/env python3
"""Whole-checkpoint loads, cold and warm, beside the limits and the other loaders, in one run.

  python3 tools/bench/bench_load.py [--repeats 3] [--gib 1] [--only a,b,c]

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

Contenders, each doing exactly this:
  device limit       cold: a C loop of positioned reads into reused buffers,
                     1, 4 and 8 threads x 16 and 64 MiB blocks, through the
                     page cache and with O_DIRECT; the best
  page-cache limit   warm: the same reads (1 and 2 threads x 1, 16, 64 MiB;
                     the best) into one buffer on transparent huge pages,
                     written before the clock starts (no faults)
  ours pread         load_checkpoint(path), pread backend: owned tensors
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
the limit of its state (device cold, page cache warm), and the peak resident
memory the model loads add beyond the process with its model built
(/proc/self/status VmHWM after resetting it).
"""
import argparse
import json
import os
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
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
            path = workloads[key]
            nbytes = sum(os.path.getsize(f) for f in files_of(path))
            results = {}  # (name, state) -> [seconds]

            def measure(name, state, fn, target=path):
                times = []
                for _ in range(args.repeats):
                    if state == "cold":
                        make_cold(target, warnings)
                    else:
                        make_warm(target)
                    times.append(fn())
                results[(name, state)] = times

            best_device = None
            for direct in (0, 1):
                for threads in (1, 4, 8):
                    for block in (16, 64):
                        name = (f"device limit ({threads} thr, {block} MiB"
                                f"{', O_DIRECT' if direct else ''})")
                        measure(name, "cold", lambda: load_bench(
                            "device", threads, block, direct, path)["seconds"])
                        if best_device is None or (statistics.median(results[(name, "cold")]) <
                                                   statistics.median(results[best_device])):
                            best_device = (name, "cold")
            best_copy = None
            for threads in (1, THREADS):
                for block in (1, 16, 64):
                    name = f"page-cache limit ({threads} thr, {block} MiB)"
                    measure(name, "warm",
                            lambda: load_bench("copy", threads, block, path)["seconds"])
                    if best_copy is None or (statistics.median(results[(name, "warm")]) <
                                             statistics.median(results[best_copy])):
                        best_copy = (name, "warm")
            peaks = {}  # name -> peak extra memory of its last run

            def with_peak(name, result):
                peaks[name] = result["peak_extra_bytes"]
                return result["seconds"]

            python = lambda mode: run_json([sys.executable, "-c", PYTHON_CONTENDER, mode, path])
            ref = "ref model" if key == "a" else "ref transformers loop"
            for state in ("cold", "warm"):
                measure("ours pread", state, lambda: load_bench("load", "pread", 0, 0, path)["seconds"])
                measure("ours mmap+read", state,
                        lambda: load_bench("load", "mmap", 1, 0, path)["seconds"])
                measure("ours model", state,
                        lambda: with_peak("ours model", load_bench("model", "same", 0, path)))
                if key == "a":
                    measure("ours model into BF16", state, lambda: with_peak(
                        "ours model into BF16", load_bench("model", "bf16", 0, path)))
                if key == "a":
                    measure("ref load_file+read", state, lambda: python("ref_read")["seconds"])
                measure(ref, state, lambda: with_peak(ref, python("ref_model")))
                measure("fastsafetensors", state, lambda: python("fastsafetensors")["seconds"])
                if key == "a":
                    measure("torch::load", state, lambda: run_json(
                        [os.path.join(OPT_BIN, "torch_io_bench"), "torch_load", torch_file, "1"]
                    )["median_s"], target=torch_file)

            limit = {"cold": statistics.median(results[best_device]),
                     "warm": statistics.median(results[best_copy])}
            print(f"\n== workload {key}: {len(files_of(path))} file(s), {nbytes / 1e9:.2f} GB ==")
            print(f"{'contender':34} {'state':5} {'min s':>8} {'median s':>9} {'GB/s':>6} "
                  f"{'of limit':>8}")
            for (name, state), times in results.items():
                if "limit (" in name and (name, state) not in (best_device, best_copy):
                    continue
                median = statistics.median(times)
                print(f"{name:34} {state:5} {min(times):8.3f} {median:9.3f} "
                      f"{nbytes / median / 1e9:6.2f} {limit[state] / median:8.0%}")
            med = lambda name, state: statistics.median(results[(name, state)])
            print("peak extra memory of the last run: " + ", ".join(
                f"{name} {peak / (1 << 20):.1f} MiB" for name, peak in peaks.items()))
            print(f"ratios: ours pread cold {limit['cold'] / med('ours pread', 'cold'):.0%} of "
                  f"the device; ours pread warm {limit['warm'] / med('ours pread', 'warm'):.0%} "
                  f"and ours model warm {limit['warm'] / med('ours model', 'warm'):.0%} of the "
                  f"page cache; ours model vs {ref}: cold "
                  f"{med(ref, 'cold') / med('ours model', 'cold'):.2f}x, warm "
                  f"{med(ref, 'warm') / med('ours model', 'warm'):.2f}x")
            if key == "a":
                print(f"mmap+read vs ref load_file+read, warm: "
                      f"{med('ref load_file+read', 'warm') / med('ours mmap+read', 'warm'):.2f}x")
    for w in sorted(warnings):
        print("warning:", w)


if __name__ == "__main__":
    main()
