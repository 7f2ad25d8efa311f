#!/usr/bin/env python3
"""Writes the golden and invalid test files under testdata/. Deterministic.

  python3 tools/gen_golden.py          # rewrite testdata/golden, testdata/invalid
  python3 tools/gen_golden.py --check  # exit 1 if regenerating would change
                                       # any file's header or data

Golden files are written by the reference implementation (safetensors 0.8.0
with torch 2.13.0, pinned by tools/setup.sh); testdata/golden/manifest.tsv
records what the reference wrote: every tensor's dtype, file shape, offsets,
torch dtype and torch shape (as the reference's load_file returns them) and the
sha256 of its bytes, plus metadata. Invalid files are built byte by byte here;
testdata/invalid/<ErrorCode>/ is the error our parser must report and
testdata/invalid/manifest.tsv adds the reference's own verdict on each file.

Regenerate only on purpose and review the diff.
"""
import argparse
import hashlib
import json
import os
import struct
import sys
import tempfile

import torch
import safetensors
from safetensors import safe_open
from safetensors.torch import load_file, save_file, save_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.path.join(ROOT, "testdata")

TORCH_DTYPES = [
    "bool", "uint8", "int8", "int16", "uint16", "int32", "uint32", "int64",
    "uint64", "float16", "bfloat16", "float32", "float64", "complex64",
    "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
    "float8_e8m0fnu", "float4_e2m1fn_x2",
]


def make_tensor(dtype_name, shape, seed):
    """Deterministic contents for any dtype, including those with no arithmetic."""
    g = torch.Generator().manual_seed(seed)
    dtype = getattr(torch, dtype_name)
    numel = 1
    for d in shape:
        numel *= d
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=g).bool()
    if dtype in (torch.float4_e2m1fn_x2, torch.float8_e8m0fnu):
        # No conversions into these: pick raw bytes.
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=g).view(dtype)
    if dtype.is_complex:
        return torch.randn(shape, dtype=dtype, generator=g)
    if dtype.is_floating_point:
        return (torch.randn(shape, generator=g) * 4).to(dtype)
    info = torch.iinfo(dtype)
    low, high = max(info.min, -(2**62)), min(info.max, 2**62)
    return torch.randint(low, high, shape, dtype=torch.int64, generator=g).to(dtype)


class TinyLM(torch.nn.Module):
    """A small real model whose output head shares the embedding's weight."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(16, 8)
        self.norm = torch.nn.LayerNorm(8)
        self.proj = torch.nn.Linear(8, 8)
        self.head = torch.nn.Linear(8, 16, bias=False)
        self.head.weight = self.embed.weight  # tied


class ExampleMLP(torch.nn.Module):
    """The shipped example checkpoint: a small classifier."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 16)
        self.fc2 = torch.nn.Linear(16, 3)


def golden_cases():
    cases = {}
    for i, name in enumerate(TORCH_DTYPES):
        cases[f"dtype_{name}"] = ({"values": make_tensor(name, (2, 3), 100 + i)}, None)
    cases["all_dtypes"] = (
        {f"t_{name}": make_tensor(name, (3, 2), 200 + i) for i, name in enumerate(TORCH_DTYPES)},
        {"format": "pt"},
    )
    cases["scalars"] = (
        {f"s_{n}": make_tensor(n, (), 300 + i)
         for i, n in enumerate(["float32", "int64", "bool", "bfloat16", "float64"])},
        None,
    )
    cases["empty_tensors"] = (
        {
            "zero": torch.zeros(0),
            "rows_zero": torch.zeros((3, 0), dtype=torch.int32),
            "mid_zero": torch.zeros((2, 0, 5), dtype=torch.float16),
            "between": make_tensor("float32", (4,), 400),
        },
        None,
    )
    cases["largeish"] = (
        {
            "weight": make_tensor("float32", (256, 1024), 500),
            "bias": make_tensor("bfloat16", (512, 512), 501),
            "ids": make_tensor("int64", (10000,), 502),
        },
        None,
    )
    cases["unicode_names"] = (
        {
            "权重": make_tensor("float32", (2,), 600),
            "émoji😀": make_tensor("float32", (2,), 601),
            "tab\tand\nnewline": make_tensor("int8", (3,), 602),
            'quote"back\\slash': make_tensor("int16", (1,), 603),
            "": make_tensor("uint8", (1,), 604),
        },
        None,
    )
    cases["metadata_one_key"] = ({"w": make_tensor("float32", (2, 2), 700)}, {"format": "pt"})
    cases["metadata_unicode"] = (
        {"w": make_tensor("float16", (3,), 701)},
        {"описание": "ünïcødé value with \"quotes\"\nand a newline"},
    )
    cases["metadata_empty"] = ({"w": make_tensor("uint8", (1,), 702)}, {})
    cases["many_small"] = (
        {f"layers.{i}.weight": make_tensor("float16", (4,), 800 + i) for i in range(300)},
        None,
    )
    cases["mixed_alignment"] = (
        {
            "a_bool": make_tensor("bool", (3,), 900),
            "b_u8": make_tensor("uint8", (5,), 901),
            "c_f16": make_tensor("float16", (3,), 902),
            "d_f32": make_tensor("float32", (3,), 903),
            "e_f64": make_tensor("float64", (3,), 904),
        },
        None,
    )
    return cases


def c_escape(text):
    """Escapes as absl::CUnescape reads: backslash, tab, newline, CR, other controls."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def read_header(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data, 8 + n


def manifest_rows(file_name, path):
    header, data, start = read_header(path)
    loaded = load_file(path)
    rows = []
    metadata = header.pop("__metadata__", None)
    rows.append([file_name, "tensors", str(len(header))])
    if metadata is None:
        rows.append([file_name, "no_metadata"])
    else:
        rows.append([file_name, "metadata_entries", str(len(metadata))])
        for key, value in sorted(metadata.items()):
            rows.append([file_name, "metadata", c_escape(key), c_escape(value)])
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        begin, end = info["data_offsets"]
        tensor = loaded[name]
        rows.append([
            file_name, "tensor", c_escape(name), info["dtype"],
            ",".join(map(str, info["shape"])), str(begin), str(end),
            hashlib.sha256(data[start + begin:start + end]).hexdigest(),
            str(tensor.dtype).replace("torch.", ""),
            ",".join(map(str, tensor.shape)),
        ])
    return rows


MANIFEST_HEADER = (
    "# Written by tools/gen_golden.py from files the reference wrote "
    f"(safetensors {safetensors.__version__}, torch {torch.__version__}).\n"
    "# file\ttensors\tCOUNT\n"
    "# file\tno_metadata | metadata_entries\tCOUNT\n"
    "# file\tmetadata\tKEY\tVALUE\n"
    "# file\ttensor\tNAME\tDTYPE\tSHAPE\tBEGIN\tEND\tSHA256\tTORCH_DTYPE\tTORCH_SHAPE\n"
    "# (names, keys and values C-escaped; SHAPE comma-separated, empty for a scalar)\n"
)


def write_golden(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    rows = []
    for case, (tensors, metadata) in golden_cases().items():
        path = os.path.join(out_dir, case + ".safetensors")
        save_file(tensors, path, metadata=metadata)
        rows += manifest_rows(case + ".safetensors", path)
    torch.manual_seed(0)
    path = os.path.join(out_dir, "model_tied_weights.safetensors")
    save_model(TinyLM(), path, metadata={"model": "TinyLM"})
    rows += manifest_rows("model_tied_weights.safetensors", path)
    with open(os.path.join(out_dir, "manifest.tsv"), "w", encoding="utf-8") as f:
        f.write(MANIFEST_HEADER)
        for row in rows:
            f.write("\t".join(row) + "\n")


def write_example(path):
    torch.manual_seed(1234)
    save_model(ExampleMLP(), path, metadata={"format": "pt", "model": "ExampleMLP",
                                             "description": "4-16-3 classifier, seed 1234"})


# --- Invalid files ----------------------------------------------------------

def frame(header, data=b""):
    raw = header.encode("utf-8") if isinstance(header, str) else header
    return struct.pack("<Q", len(raw)) + raw + data


def entry(name, dtype, shape, begin, end, extra=""):
    return (f'"{name}":{{"dtype":"{dtype}","shape":{json.dumps(shape)},'
            f'"data_offsets":[{begin},{end}]{extra}}}')


def obj(*entries):
    return "{" + ",".join(entries) + "}"


def invalid_cases():
    ok_entry = entry("w", "F32", [2], 0, 8)
    return {
        "HeaderTooSmall/three_bytes": b"\x02\x00\x00",
        "HeaderTooLarge/limit_plus_one": struct.pack("<Q", 100_000_001) + b"{}",
        "HeaderTooLarge/high_bit_set": struct.pack("<Q", 1 << 63) + b"{}" + bytes(16),
        "InvalidHeaderLength/one_past_eof": struct.pack("<Q", 3) + b"{}",
        "InvalidUtf8/truncated_sequence_in_name": frame(b'{"\xe6\x9d":{}}'),
        "InvalidUtf8/overlong_nul": frame(b'{"a\xc0\x80":{}}'),
        "InvalidUtf8/encoded_surrogate_in_metadata": frame(b'{"__metadata__":{"k":"\xed\xb0\x80"}}'),
        "InvalidJson/unterminated_metadata": frame('{"__metadata__":{"k":"v"'),
        "InvalidJson/nesting_128_levels": frame(obj(entry("w", "F32", [2], 0, 8,
                                                          ',"x":' + "[" * 126 + "]" * 126)), bytes(8)),
        "InvalidJson/number_out_of_range_in_unknown_field": frame(obj(entry("w", "F32", [2], 0, 8,
                                                                            ',"x":1e309')), bytes(8)),
        "InvalidJson/lone_trailing_surrogate": frame('{"\\udc00":' + obj() + "}"),
        "InvalidJson/leading_zero_offset": frame('{"w":{"dtype":"F32","shape":[2],"data_offsets":[00,8]}}', bytes(8)),
        "InvalidJson/trailing_comma_in_shape": frame('{"w":{"dtype":"F32","shape":[2,],"data_offsets":[0,8]}}', bytes(8)),
        "InvalidSchema/shape_float": frame('{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', bytes(8)),
        "InvalidSchema/offsets_negative": frame('{"w":{"dtype":"F32","shape":[2],"data_offsets":[-0,8]}}', bytes(8)),
        "InvalidSchema/torch_dtype_name": frame(obj(entry("w", "float32", [2], 0, 8)), bytes(8)),
        "InvalidSchema/entry_is_positional_array": frame('{"w":["F32",[2],[0,8]]}', bytes(8)),
        "InvalidSchema/dtype_is_enum_object": frame('{"w":{"dtype":{"F32":null},"shape":[2],"data_offsets":[0,8]}}', bytes(8)),
        "InvalidSchema/metadata_value_number": frame('{"__metadata__":{"epoch":3}}'),
        "InvalidSchema/missing_data_offsets": frame('{"w":{"dtype":"F32","shape":[2]}}', bytes(8)),
        "DuplicateKey/escaped_tensor_name": frame(obj(ok_entry, entry("\\u0077", "F32", [2], 0, 8)), bytes(8)),
        "DuplicateKey/nested_in_unknown_field": frame(obj(entry("w", "F32", [2], 0, 8, ',"x":{"a":[{"k":1,"k":1}]}')), bytes(8)),
        "DuplicateKey/metadata_key_twice": frame('{"__metadata__":{"k":"1","k":"2"},' + ok_entry + "}", bytes(8)),
        "DuplicateKey/known_field_twice": frame('{"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}', bytes(8)),
        "InvalidOffset/gap_after_zero_sized": frame(obj(entry("z", "F32", [0], 0, 0), entry("w", "F32", [2], 4, 12)), bytes(12)),
        "InvalidOffset/overlap_by_one": frame(obj(entry("a", "U8", [4], 0, 4), entry("b", "U8", [4], 3, 7)), bytes(7)),
        "ValidationOverflow/dims_product_2pow64": frame(obj(entry("w", "U8", [2**32, 2**32], 0, 0))),
        "ValidationOverflow/zero_first_then_overflow": frame(obj(entry("w", "F64", [0, 2**62, 4], 0, 0))),
        "MisalignedSlice/f6_three_elements": frame(obj(entry("w", "F6_E3M2", [3], 0, 2)), bytes(2)),
        "TensorInvalidInfo/shape_says_more": frame(obj(entry("w", "F32", [3], 0, 8)), bytes(8)),
        "MetadataIncompleteBuffer/one_trailing_byte": frame(obj(ok_entry), bytes(9)),
        "MetadataIncompleteBuffer/truncated_by_one": frame(obj(ok_entry), bytes(7)),
    }


# The reference's Python binding reports its error classes as these messages.
REFERENCE_MESSAGES = [
    ("header too small", "HeaderTooSmall"),
    ("header too large", "HeaderTooLarge"),
    ("invalid header length", "InvalidHeaderLength"),
    ("invalid UTF-8 in header", "InvalidHeader"),
    ("invalid JSON in header", "InvalidHeaderDeserialization"),
    ("invalid offset for tensor", "InvalidOffset"),
    ("overflow computing buffer size", "ValidationOverflow"),
    ("The slice is slicing for subbytes dtypes", "MisalignedSlice"),
    ("invalid shape, data type, or offset for tensor", "TensorInvalidInfo"),
    ("incomplete metadata, file not fully covered", "MetadataIncompleteBuffer"),
]


def reference_verdict(path):
    """The reference's error class for the file at `path`, or OK."""
    try:
        with safe_open(path, "pt") as f:
            f.keys()
        return "OK"
    except Exception as e:  # SafetensorError
        message = str(e).removeprefix("Error while deserializing header: ")
        for prefix, cls in REFERENCE_MESSAGES:
            if message.startswith(prefix):
                return cls
        raise RuntimeError(f"unrecognized reference error for {path}: {message}")


def write_invalid(out_dir):
    rows = []
    for case, data in invalid_cases().items():
        path = os.path.join(out_dir, case + ".safetensors")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        rows.append([case + ".safetensors", reference_verdict(path)])
    with open(os.path.join(out_dir, "manifest.tsv"), "w", encoding="utf-8") as f:
        f.write("# Written by tools/gen_golden.py. The folder is the ErrorCode our parser\n"
                "# reports; the second column is the reference's verdict on the same file\n"
                f"# (safetensors {safetensors.__version__}): its error class, or OK where we\n"
                "# are deliberately stricter.\n# path\treference_verdict\n")
        for row in rows:
            f.write("\t".join(row) + "\n")


def write_all(testdata):
    write_golden(os.path.join(testdata, "golden"))
    write_invalid(os.path.join(testdata, "invalid"))
    write_example(os.path.join(testdata, "example_mlp.safetensors"))


def file_content(data):
    """What a file says: its header as JSON (so metadata order, which the
    reference takes from a hash map, does not matter) and its data buffer.
    Files that are not safetensors compare as bytes."""
    try:
        (n,) = struct.unpack("<Q", data[:8])
        return json.loads(data[8:8 + n]), data[8 + n:]
    except Exception:
        return data


def tree_content(root):
    out = {}
    for base in ["golden", "invalid"]:
        for dirpath, _, files in os.walk(os.path.join(root, base)):
            for name in files:
                p = os.path.join(dirpath, name)
                with open(p, "rb") as f:
                    out[os.path.relpath(p, root)] = file_content(f.read())
    with open(os.path.join(root, "example_mlp.safetensors"), "rb") as f:
        out["example_mlp.safetensors"] = file_content(f.read())
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temporary folder and compare")
    args = parser.parse_args()
    if torch.__version__.split("+")[0] != "2.13.0" or safetensors.__version__ != "0.8.0":
        sys.exit(f"need torch 2.13.0 and safetensors 0.8.0 (tools/setup.sh), have "
                 f"{torch.__version__} and {safetensors.__version__}")
    if not args.check:
        write_all(TESTDATA)
        return
    with tempfile.TemporaryDirectory() as tmp:
        write_all(tmp)
        fresh, committed = tree_content(tmp), tree_content(TESTDATA)
    changed = sorted(k for k in fresh.keys() | committed.keys() if fresh.get(k) != committed.get(k))
    for k in changed:
        print("differs:", k)
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    main()
