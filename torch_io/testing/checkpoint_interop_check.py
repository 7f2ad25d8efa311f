"""Checkpoints by huggingface_hub (2.4.0) and by us, for the same state dicts.

For every case of testdata/checkpoints_hub_cases.json:
  1. huggingface_hub.save_torch_state_dict writes HUB/<case>;
  2. our save_torch_state_dict (checkpoint_interop write) writes OURS/<case>;
  3. the two directories must hold the same file names with the same bytes
     (one allowance: a single file with more than one metadata entry, whose
     order the reference takes from a hash map, must hold the same tensors and
     the same metadata);
  4. huggingface_hub.load_torch_model loads OURS/<case> into a module with
     every tensor equal;
  5. we load HUB/<case> (checkpoint_interop read).

usage: checkpoint_interop_check.py INTEROP_BINARY CASES_JSON WORK_DIR
"""
import json
import os
import struct
import subprocess
import sys

import torch
from huggingface_hub import load_torch_model, save_torch_state_dict


def build(case):
    state = {}
    for t in case["tensors"]:
        if "tie" in t:
            state[t["name"]] = state[t["tie"]]
            continue
        dtype = getattr(torch, t["dtype"])
        numel = 1
        for d in t["shape"]:
            numel *= d
        nbytes = numel * torch.empty(0, dtype=dtype).element_size()
        b = torch.arange(nbytes, dtype=torch.int64).mul(37).add(t["seed"]).remainder(251)
        if dtype == torch.bool:
            b = b.remainder(2)
        state[t["name"]] = b.to(torch.uint8).view(dtype).reshape(t["shape"])
    return state


def module_for(state):
    root = torch.nn.Module()
    copies = {}
    for name, tensor in state.items():
        parts = name.split(".")
        module = root
        for p in parts[:-1]:
            if not hasattr(module, p):
                module.add_module(p, torch.nn.Module())
            module = getattr(module, p)
        key = tensor.untyped_storage().data_ptr()
        if key not in copies:
            copies[key] = torch.zeros_like(tensor)
        module.register_buffer(parts[-1], copies[key])
    return root


def header_of(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)), n


def same_content(a, b):
    """Same tensors and metadata, allowing the metadata's order to differ."""
    (ha, na), (hb, nb) = header_of(a), header_of(b)
    if ha != hb or na != nb:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        fa.seek(8 + na)
        fb.seek(8 + nb)
        return fa.read() == fb.read()


def main():
    binary, cases_json, work = sys.argv[1:4]
    cases = json.load(open(cases_json, encoding="utf-8"))["cases"]
    for seed, case in enumerate(cases):
        for i, t in enumerate(case["tensors"]):
            t.setdefault("seed", seed * 31 + i)
    spec = os.path.join(work, "spec.tsv")
    with open(spec, "w", encoding="utf-8") as f:
        for case in cases:
            f.write("case\t%s\t%d\t%s\n" % (case["name"], case["max_shard_size"],
                                            case.get("filename_pattern", "model{suffix}.safetensors")))
            for k, v in case.get("metadata", {}).items():
                f.write("meta\t%s\t%s\n" % (k, v))
            for name in case.get("discard", []):
                f.write("discard\t%s\n" % name)
            for t in case["tensors"]:
                if "tie" in t:
                    f.write("tie\t%s\t%s\n" % (t["name"], t["tie"]))
                else:
                    f.write("tensor\t%s\t%s\t%s\t%d\n" % (t["name"], t["dtype"],
                                                        ",".join(map(str, t["shape"])), t["seed"]))
    hub, ours = os.path.join(work, "hub"), os.path.join(work, "ours")
    for case in cases:
        os.makedirs(os.path.join(hub, case["name"]))
        save_torch_state_dict(build(case), os.path.join(hub, case["name"]),
                              max_shard_size=case["max_shard_size"],
                              metadata=dict(case.get("metadata", {})) or None,
                              filename_pattern=case.get("filename_pattern"),
                              shared_tensors_to_discard=case.get("discard"))
    subprocess.run([binary, "write", spec, ours], check=True)

    failures = 0
    for case in cases:
        name = case["name"]
        a, b = os.path.join(hub, name), os.path.join(ours, name)
        files_a, files_b = sorted(os.listdir(a)), sorted(os.listdir(b))
        if files_a != files_b:
            print(f"FAIL {name}: files differ: hub {files_a} ours {files_b}")
            failures += 1
            continue
        identical = 0
        for f in files_a:
            pa, pb = os.path.join(a, f), os.path.join(b, f)
            if open(pa, "rb").read() == open(pb, "rb").read():
                identical += 1
                continue
            meta = header_of(pa)[0].get("__metadata__") or {}
            if f.endswith(".safetensors") and len(meta) > 1 and same_content(pa, pb):
                print(f"note {name}/{f}: same tensors and metadata; metadata order differs "
                      f"(the reference orders {len(meta)} entries by a hash map)")
                continue
            print(f"FAIL {name}/{f}: bytes differ")
            failures += 1
        print(f"{name}: {len(files_a)} files, {identical} byte-identical")
        if not case["tensors"]:
            continue
        expected = build(case)
        module = module_for(expected)
        result = load_torch_model(module, b, strict=False,
                                  filename_pattern=case.get("filename_pattern"))
        # Tied names share memory: the file holds one of each group, which
        # fills the others, so only names of tied groups may be missing.
        tied = {t["name"] for t in case["tensors"] if "tie" in t}
        tied |= {t["tie"] for t in case["tensors"] if "tie" in t}
        state = module.state_dict()
        bad = [k for k, v in state.items()
               if not torch.equal(v.reshape(-1).view(torch.uint8), expected[k].reshape(-1).view(torch.uint8))]
        if bad or result.unexpected_keys or (set(result.missing_keys) - tied):
            print(f"FAIL {name}: huggingface_hub.load_torch_model of ours: bad {bad}, {result}")
            failures += 1
    read = subprocess.run([binary, "read", spec, hub], capture_output=True, text=True)
    print(read.stdout, end="")
    if read.returncode != 0:
        print(f"FAIL: our loader on huggingface_hub's checkpoints: {read.stderr}")
        failures += 1
    print("FAILED" if failures else "PASSED", f"({len(cases)} cases)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
