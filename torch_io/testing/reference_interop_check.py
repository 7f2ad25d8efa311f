"""Checks files our writer produced with the reference implementation.

  reference_interop_check.py OUT_DIR GOLDEN_DIR TOOLS_DIR

For every golden file (written by the reference), our re-saved copy must load
in the reference with the same names, dtypes, shapes, values and metadata, and
be byte-identical where the reference's output is deterministic (at most one
metadata key). Our save_model of TinyLM must load into the Python TinyLM with
strict=True, tied weights intact, values as the writer set them.
"""
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file, load_model


def same_tensor(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    # Bitwise, so NaNs and every dtype compare (float8/float4 have no ==).
    def raw(t):
        return t.contiguous().reshape(-1).view(torch.uint8)
    return torch.equal(raw(a), raw(b)) if a.numel() else True


def main():
    out_dir, golden_dir, tools_dir = sys.argv[1:4]
    sys.path.insert(0, tools_dir)
    from gen_golden import TinyLM  # the model the golden files came from

    passed = failed = 0

    def check(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL:", what)

    names = sorted(n for n in os.listdir(golden_dir) if n.endswith(".safetensors"))
    for name in names:
        ours_path, ref_path = os.path.join(out_dir, name), os.path.join(golden_dir, name)
        ours, ref = load_file(ours_path), load_file(ref_path)
        # As sets: the reference orders zero-sized tensors that share an
        # offset by hash-map iteration, so even its own order varies.
        check(set(ours) == set(ref), f"{name}: tensor names")
        for key in ref:
            check(key in ours and same_tensor(ours[key], ref[key]), f"{name}: tensor {key!r}")
        with safe_open(ours_path, "pt") as a, safe_open(ref_path, "pt") as b:
            meta = b.metadata()
            check(a.metadata() == meta, f"{name}: metadata")
        if meta is None or len(meta) <= 1:
            with open(ours_path, "rb") as a, open(ref_path, "rb") as b:
                check(a.read() == b.read(), f"{name}: bytes")

    model = TinyLM()
    missing, unexpected = load_model(model, os.path.join(out_dir, "tiny_lm.safetensors"))
    check(not missing and not unexpected, f"tiny_lm: missing={missing} unexpected={unexpected}")
    check(model.head.weight is model.embed.weight, "tiny_lm: head still tied to embed")
    f32 = dict(dtype=torch.float32)
    check(torch.equal(model.embed.weight, torch.arange(128, **f32).reshape(16, 8) / 64), "embed")
    check(torch.equal(model.norm.weight, torch.arange(8, **f32) + 1), "norm.weight")
    check(torch.equal(model.norm.bias, -torch.arange(8, **f32)), "norm.bias")
    check(torch.equal(model.proj.weight, (torch.arange(64, **f32).reshape(8, 8) - 32) / 16), "proj")
    check(torch.equal(model.proj.bias, torch.arange(8, **f32) * 2), "proj.bias")
    with safe_open(os.path.join(out_dir, "tiny_lm.safetensors"), "pt") as f:
        check(f.metadata() == {"head.weight": "embed.weight"}, "tiny_lm: metadata")

    print(f"reference interop: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
