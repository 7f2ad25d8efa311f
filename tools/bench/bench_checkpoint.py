#!/usr/bin/env python3
"""Opening and validating a whole sharded checkpoint, ours beside Python's, in one run.

  python3 tools/bench/bench_checkpoint.py [--dir DIR] [--iterations 10]

Writes a DeepSeek-V3-shaped checkpoint skeleton (163 shards, about 92,000
tensors: 61 layers of attention and norms, 58 of them with 256 experts of
FP8 gate/up/down weights and their F32 scales; model.safetensors.index.json as
huggingface_hub writes it). Each shard is a real header followed by a sparse
data buffer (truncate), so 680 GB of checkpoint fits in a few MB of disk.
Then times, warm (the headers are in the page cache), with imports excluded:

  python (transformers-style): json.load the index, then for each shard
      safe_open(shard, "pt") (safetensors 0.8.0) and list its keys;
  ours: checkpoint_bench (built with --config=opt): Checkpoint::Open of the
      directory (the index and every shard header validated, every rule
      across shards checked), then every tensor name listed.

Reports min and median of each, the ratio of medians, and our peak resident
memory for one open as a multiple of the total header bytes (index included).
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARDS = 163


def tensors_of_deepseek_v3():
    """(name, dtype, shape) in the order a state dict would list them."""
    hidden, inter, moe_inter, experts, vocab = 7168, 18432, 2048, 256, 129280
    out = [("model.embed_tokens.weight", "BF16", [vocab, hidden])]
    for layer in range(61):
        p = f"model.layers.{layer}."
        out += [(p + "input_layernorm.weight", "BF16", [hidden]),
                (p + "post_attention_layernorm.weight", "BF16", [hidden])]
        for name, shape in [("q_a_proj", [1536, hidden]), ("q_b_proj", [24576, 1536]),
                            ("kv_a_proj_with_mqa", [576, hidden]), ("kv_b_proj", [32768, 512]),
                            ("o_proj", [hidden, 16384])]:
            out += [(p + f"self_attn.{name}.weight", "F8_E4M3", shape),
                    (p + f"self_attn.{name}.weight_scale_inv", "F32",
                     [(shape[0] + 127) // 128, (shape[1] + 127) // 128])]
        out += [(p + "self_attn.q_a_layernorm.weight", "BF16", [1536]),
                (p + "self_attn.kv_a_layernorm.weight", "BF16", [512])]
        if layer < 3:
            mlps = [("mlp.", inter)]
        else:
            out += [(p + "mlp.gate.weight", "BF16", [experts, hidden]),
                    (p + "mlp.gate.e_score_correction_bias", "F32", [experts])]
            mlps = [(f"mlp.experts.{e}.", moe_inter) for e in range(experts)]
            mlps.append(("mlp.shared_experts.", moe_inter))
        for prefix, width in mlps:
            for name, shape in [("gate_proj", [width, hidden]), ("up_proj", [width, hidden]),
                                ("down_proj", [hidden, width])]:
                out += [(p + prefix + name + ".weight", "F8_E4M3", shape),
                        (p + prefix + name + ".weight_scale_inv", "F32",
                         [(shape[0] + 127) // 128, (shape[1] + 127) // 128])]
    out += [("model.norm.weight", "BF16", [hidden]), ("lm_head.weight", "BF16", [vocab, hidden])]
    return out


BITS = {"BF16": 16, "F32": 32, "F8_E4M3": 8}


def write_skeleton(directory):
    tensors = tensors_of_deepseek_v3()
    per_shard = (len(tensors) + SHARDS - 1) // SHARDS
    weight_map, total, header_bytes = {}, 0, 0
    for s in range(SHARDS):
        name = f"model-{s + 1:05d}-of-{SHARDS:05d}.safetensors"
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        for tname, dtype, shape in tensors[s * per_shard:(s + 1) * per_shard]:
            n = 1
            for d in shape:
                n *= d
            size = n * BITS[dtype] // 8
            header[tname] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
            offset += size
            weight_map[tname] = name
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        path = os.path.join(directory, name)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text)
        os.truncate(path, 8 + len(text) + offset)
        total += offset
        header_bytes += 8 + len(text)
    index = json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2)
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        f.write(index)
    return len(tensors), total, header_bytes + len(index.encode())


def python_open(directory):
    from safetensors import safe_open
    with open(os.path.join(directory, "model.safetensors.index.json")) as f:
        index = json.load(f)
    names = []
    for shard in sorted(set(index["weight_map"].values())):
        with safe_open(os.path.join(directory, shard), "pt") as f:
            names.extend(f.keys())
    return len(names)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", help="where to write the skeleton (default: a temporary directory)")
    ap.add_argument("--iterations", type=int, default=10)
    args = ap.parse_args()
    subprocess.run(["bazel", "build", "--config=opt", "//tools/bench:checkpoint_bench"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    binary = os.path.join(ROOT, "bazel-bin", "tools", "bench", "checkpoint_bench")
    import safetensors  # noqa: F401  imports excluded from the timings

    with tempfile.TemporaryDirectory() as tmp:
        directory = args.dir or tmp
        os.makedirs(directory, exist_ok=True)
        count, total, header_bytes = write_skeleton(directory)
        print(f"checkpoint: {SHARDS} shards, {count} tensors, {total / 1e9:.0f} GB of (sparse) "
              f"data, {header_bytes / 1e6:.1f} MB of headers and index")
        python_open(directory)  # warm the page cache for both
        py_ms = []
        for _ in range(args.iterations):
            start = time.perf_counter()
            assert python_open(directory) == count
            py_ms.append((time.perf_counter() - start) * 1000)
        ours = json.loads(subprocess.run([binary, directory, str(args.iterations)], check=True,
                                         capture_output=True, text=True).stdout)
        assert ours["tensors"] == count and ours["shards"] == SHARDS
    py_median = statistics.median(py_ms)
    print(f"python (json.load + safe_open + keys per shard): min {min(py_ms):.1f} ms, "
          f"median {py_median:.1f} ms")
    print(f"ours (Checkpoint::Open + list names):             min {ours['min_ms']:.1f} ms, "
          f"median {ours['median_ms']:.1f} ms")
    print(f"speed-up (medians): {py_median / ours['median_ms']:.1f}x")
    print(f"our peak memory for one open: {ours['peak_rss_delta_bytes'] / 1e6:.1f} MB = "
          f"{ours['peak_rss_delta_bytes'] / header_bytes:.2f}x the header and index bytes")


if __name__ == "__main__":
    main()
