#!/usr/bin/env python3
"""Writes testdata/pickle/: torch.save checkpoints, valid and hostile, with
   manifest.tsv   case, expected verdict (OK or an ErrorCode name), note
   expected.tsv   for each valid case, every tensor as torch.load(weights_only=True)
                  gives it: name, dtype, shape, stride, storage offset, and the
                  SHA-256 of its elements as a contiguous little-endian array.

Valid files are torch.save's own output (their .data/serialization_id differs
from run to run; nothing else does). Hostile ones are torch.save output edited
here, pickles written opcode by opcode, payloads injected with fickling, and
zips laid out by `write_zip` below exactly as torch's writer lays them out
(records 64-byte aligned through an "FB" extra field, data descriptors).
Each hostile payload that would run under torch.load(weights_only=False) is
checked here to really run (in a throwaway directory) before it is filed.
Run from the repository root:

    python3 tools/gen_pickle_checkpoints.py
"""
import binascii
import hashlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import OrderedDict

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "pickle")
# What the payloads create when they run. The C++ tests check it stays absent.
PAYLOAD_MARK = "/tmp/safetensors-cpp-pickle-payload-ran"

cases = []     # (case, expected, note)
expected = []  # rows of expected.tsv

SAFETENSORS_DTYPE = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL", torch.complex64: "C64", torch.uint16: "U16",
    torch.uint32: "U32", torch.uint64: "U64", torch.float8_e4m3fn: "F8_E4M3",
    torch.float8_e5m2: "F8_E5M2", torch.float8_e4m3fnuz: "F8_E4M3FNUZ",
    torch.float8_e5m2fnuz: "F8_E5M2FNUZ", torch.float8_e8m0fnu: "F8_E8M0",
}


def tensor_digest(t):
    flat = t.detach().contiguous().reshape(-1)
    raw = flat.view(torch.uint8) if flat.numel() else torch.empty(0, dtype=torch.uint8)
    return hashlib.sha256(raw.numpy().tobytes()).hexdigest()


def flatten(obj, prefix=""):
    for key, value in obj.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, torch.Tensor):
            yield name, value
        elif isinstance(value, dict):
            yield from flatten(value, name)


def record_expected(case, path, root=None):
    loaded = torch.load(path, weights_only=True)
    if root is not None:
        loaded = loaded[root]
    for name, t in flatten(loaded):
        expected.append([case, name, SAFETENSORS_DTYPE[t.dtype], ",".join(map(str, t.shape)),
                         ",".join(map(str, t.stride())), str(t.storage_offset()), tensor_digest(t)])


def valid(case, note, obj, root=None, **save_args):
    path = os.path.join(OUT, case)
    torch.save(obj, path, **save_args)
    record_expected(case, path, root)
    cases.append((case, "OK", note))


def hostile(case, code, note, data):
    with open(os.path.join(OUT, case), "wb") as f:
        f.write(data)
    cases.append((case, code, note))


def payload_runs(data):
    """True when torch.load(weights_only=False) of `data` runs the payload."""
    if os.path.exists(PAYLOAD_MARK):
        os.remove(PAYLOAD_MARK)
    with tempfile.NamedTemporaryFile(suffix=".pt") as f:
        f.write(data)
        f.flush()
        # A child process: the payload must not touch this one.
        subprocess.run([sys.executable, "-c",
                        f"import torch\ntry: torch.load({f.name!r}, weights_only=False)\n"
                        "except Exception: pass"], check=False, capture_output=True)
    ran = os.path.exists(PAYLOAD_MARK)
    if ran:
        os.remove(PAYLOAD_MARK)
    return ran


# --- zips laid out as torch's writer (miniz) lays them out -------------------

def write_zip(records, *, descriptor=True, align=64, mutate=None, zip64=False):
    """records: [(name, bytes)]. mutate(entry_dict) may change what is written
    for one entry: local_name, local_method, flags. zip64: every size and
    offset in ZIP64 fields, as miniz writes archives past 4 GiB."""
    out = bytearray()
    central = []
    for name, data in records:
        e = {"name": name.encode(), "local_name": name.encode(), "method": 0, "local_method": 0,
             "flags": 0x808 if descriptor else 0x800, "data": data}
        if mutate:
            mutate(e)
        crc = binascii.crc32(e["data"]) & 0xffffffff
        offset = len(out)
        base = offset + 30 + len(e["local_name"])
        pad = (-(base + 4)) % align if align else 0
        local64 = struct.pack("<HHQQ", 1, 16, len(e["data"]), len(e["data"])) if zip64 else b""
        base += len(local64)
        pad = (-(base + 4)) % align if align else 0
        extra = local64 + ((b"FB" + struct.pack("<H", pad) + b"Z" * pad) if align else b"")
        sizes = (0, 0, 0) if descriptor else (crc, len(e["data"]), len(e["data"]))
        out += struct.pack("<IHHHHHIIIHH", 0x04034b50, 0, e["flags"], e["local_method"], 0, 0,
                           *sizes, len(e["local_name"]), len(extra))
        out += e["local_name"] + extra + e["data"]
        if descriptor:
            out += struct.pack("<IIQQ" if zip64 else "<IIII", 0x08074b50, crc, len(e["data"]), len(e["data"]))
        central.append((e, crc, offset))
    cd_offset = len(out)
    for e, crc, offset in central:
        size = 0xffffffff if zip64 else len(e["data"])
        extra = struct.pack("<HHQQQ", 1, 24, len(e["data"]), len(e["data"]), offset) if zip64 else b""
        out += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 0, 0, e["flags"], e["method"], 0, 0,
                           crc, size, size, len(e["name"]), len(extra), 0, 0, 0, 0,
                           0xffffffff if zip64 else offset)
        out += e["name"] + extra
    cd_size = len(out) - cd_offset
    if zip64:
        end64 = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, len(central), len(central),
                           cd_size, cd_offset)
        out += struct.pack("<IIQI", 0x07064b50, 0, end64, 1)
        cd_size, cd_offset = 0xffffffff, 0xffffffff
    out += struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, len(central), len(central), cd_size, cd_offset, 0)
    return bytes(out)


def zip_records(data):
    """The records of a torch.save zip, in file order."""
    z = zipfile.ZipFile(io.BytesIO(data))
    return [(i.filename, z.read(i.filename)) for i in sorted(z.infolist(), key=lambda i: i.header_offset)]


def save_bytes(obj, **kwargs):
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def replace_record(records, suffix, data):
    return [(n, data if n.endswith(suffix) else d) for n, d in records]


def small_state():
    return OrderedDict(weight=torch.arange(6, dtype=torch.float32).reshape(2, 3),
                       bias=torch.ones(2, dtype=torch.float16))


def reference_convert(path, out):
    """The reference pipeline: convert.py's convert_file without its checks."""
    from safetensors.torch import _remove_duplicate_names, save_file
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    if "state_dict" in loaded:
        loaded = loaded["state_dict"]
    to_removes = _remove_duplicate_names(loaded)
    metadata = {"format": "pt"}
    for kept_name, to_remove_group in to_removes.items():
        for to_remove in to_remove_group:
            if to_remove not in metadata:
                metadata[to_remove] = kept_name
            del loaded[to_remove]
    loaded = {k: v.contiguous() for k, v in loaded.items()}
    save_file(loaded, out, metadata=metadata)


def write_sharded():
    """sharded/: a two-shard pytorch_model.bin checkpoint as transformers'
    save_pretrained(safe_serialization=False) writes one (shards
    pytorch_model-0000i-of-0000n.bin, each a torch.save of its part of the
    state dict; the index json.dumps(indent=2, sort_keys=True) + newline), and
    sharded_converted/: what convert.py's convert_multi makes of it."""
    shard_dir = os.path.join(OUT, "sharded")
    os.makedirs(shard_dir)
    state = OrderedDict()
    for layer in range(3):
        state[f"layers.{layer}.weight"] = torch.randn(8, 8)
        state[f"layers.{layer}.bias"] = torch.randn(8, dtype=torch.bfloat16)
    state["head.weight"] = torch.randn(4, 8)
    parts = [OrderedDict(list(state.items())[:4]), OrderedDict(list(state.items())[4:])]
    weight_map = {}
    total = 0
    for i, part in enumerate(parts):
        name = f"pytorch_model-{i + 1:05d}-of-{len(parts):05d}.bin"
        torch.save(part, os.path.join(shard_dir, name))
        for key, value in part.items():
            weight_map[key] = name
            total += value.numel() * value.element_size()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with open(os.path.join(shard_dir, "pytorch_model.bin.index.json"), "w") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    cases.append(("sharded/pytorch_model-00001-of-00002.bin", "OK", "first shard of a sharded checkpoint"))
    cases.append(("sharded/pytorch_model-00002-of-00002.bin", "OK", "second shard of a sharded checkpoint"))
    for i in (1, 2):
        record_expected(f"sharded/pytorch_model-0000{i}-of-00002.bin",
                        os.path.join(shard_dir, f"pytorch_model-0000{i}-of-00002.bin"))

    # convert.py's convert_multi, from the local files.
    out_dir = os.path.join(OUT, "sharded_converted")
    os.makedirs(out_dir)

    def rename(pt_filename):
        filename, ext = os.path.splitext(pt_filename)
        return f"{filename}.safetensors".replace("pytorch_model", "model")
    with open(os.path.join(shard_dir, "pytorch_model.bin.index.json")) as f:
        data = json.load(f)
    for filename in set(data["weight_map"].values()):
        reference_convert(os.path.join(shard_dir, filename), os.path.join(out_dir, rename(filename)))
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
        newdata = {k: v for k, v in data.items()}
        newdata["weight_map"] = {k: rename(v) for k, v in data["weight_map"].items()}
        json.dump(newdata, f, indent=4)


def write_reference_conversions():
    """converted/<case>.safetensors for each valid case the reference pipeline
    converts, and converted/manifest.tsv with its verdict for every one."""
    out_dir = os.path.join(OUT, "converted")
    os.makedirs(out_dir)
    rows = []
    for case, verdict, _ in cases:
        if verdict != "OK":
            continue
        out = os.path.join(out_dir, case.rsplit(".", 1)[0] + ".safetensors")
        try:
            reference_convert(os.path.join(OUT, case), out)
            rows.append((case, "OK", os.path.basename(out)))
        except Exception as e:  # the reference refuses it: recorded, not fatal
            if os.path.exists(out):
                os.remove(out)
            rows.append((case, "refused", f"{type(e).__name__}: {str(e).splitlines()[0][:150]}"))
    with open(os.path.join(out_dir, "manifest.tsv"), "w") as f:
        f.write("# case\treference pipeline verdict\toutput or why (torch.load(weights_only=True) -> "
                "_remove_duplicate_names -> save_file, written by tools/gen_pickle_checkpoints.py)\n")
        for row in rows:
            f.write("\t".join(row) + "\n")


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    torch.manual_seed(0)

    # --- valid ---------------------------------------------------------------
    valid("all_dtypes.pt", "every dtype torch.save writes that safetensors has",
          {SAFETENSORS_DTYPE[d].lower(): (torch.arange(-3, 5).to(torch.float32) * 0.75).to(d)
           if d not in (torch.uint16, torch.uint32, torch.uint64)
           else torch.arange(8, dtype=torch.int64).to(d)
           for d in SAFETENSORS_DTYPE})
    linear = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    valid("module_state_dict.pt", "nn.Module.state_dict(): an OrderedDict with _metadata (BUILD)",
          linear.state_dict())
    valid("parameters.pt", "nn.Parameter values (_rebuild_parameter), with and without grad",
          {"p": torch.nn.Parameter(torch.randn(3, 2)),
           "frozen": torch.nn.Parameter(torch.randn(2), requires_grad=False)})
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    valid("views.pt", "tied, sliced, transposed, zero-size and 0-dim tensors over shared storages",
          OrderedDict(base=base, tied=base, row=base[1], column=base[:, 2], transposed=base.t(),
                      strided=base[::2, 1::3], empty=torch.empty(0, 5), scalar=torch.tensor(7.5),
                      empty_view=base[4:]))
    valid("trainer.ckpt", "a trainer checkpoint: tensors under state_dict beside epochs, "
          "optimizer state and strings",
          {"epoch": 3, "global_step": 1200, "lr": 0.25, "name": "run-7", "flag": True,
           "state_dict": OrderedDict([("layer.weight", torch.randn(3, 3)), ("layer.bias", torch.zeros(3))]),
           "optimizer_states": [{"state": {0: {"step": torch.tensor(4.0)}}, "param_groups": [{"lr": 0.25}]}],
           "nothing": None}, root="state_dict")
    valid("nested.pt", "nested dicts flatten with dots",
          {"encoder": {"layer": {"0": {"weight": torch.randn(2, 2)}, "1": {"weight": torch.randn(2, 2)}}},
           "head": torch.randn(2)})
    valid("legacy.pt", "the legacy format (_use_new_zipfile_serialization=False) with views and "
          "a Parameter",
          OrderedDict(base=base, row=base[2], t=base.t(), p=torch.nn.Parameter(torch.ones(3)),
                      half=torch.arange(5, dtype=torch.float16)),
          _use_new_zipfile_serialization=False)

    # byteorder "big": torch only writes it on a big-endian machine, so the
    # storages are swapped and the record rewritten here.
    records = zip_records(save_bytes(OrderedDict(w=torch.arange(6, dtype=torch.float32).reshape(3, 2) - 2.5,
                                                 i=torch.arange(-2, 3, dtype=torch.int64),
                                                 h=torch.arange(4, dtype=torch.float16))))
    swapped = []
    widths = {"0": 4, "1": 8, "2": 2}
    for name, data in records:
        key = name.rsplit("/", 1)[-1]
        if "/data/" in name:
            w = widths[key]
            data = b"".join(data[i:i + w][::-1] for i in range(0, len(data), w))
        elif name.endswith("/byteorder"):
            data = b"big"
        swapped.append((name, data))
    path = os.path.join(OUT, "big_endian.pt")
    with open(path, "wb") as f:
        f.write(write_zip(swapped))
    record_expected("big_endian.pt", path)
    cases.append(("big_endian.pt", "OK", "byteorder big: storages hold big-endian elements"))

    path = os.path.join(OUT, "zip64.pt")
    with open(path, "wb") as f:
        f.write(write_zip(zip_records(save_bytes(small_state())), zip64=True))
    record_expected("zip64.pt", path)
    cases.append(("zip64.pt", "OK", "every size and offset in ZIP64 fields, as torch writes past 4 GiB"))
    path = os.path.join(OUT, "python_zipfile.pt")
    with zipfile.ZipFile(path, "w") as z:
        for name, data in zip_records(save_bytes(small_state())):
            z.writestr(name, data)
    record_expected("python_zipfile.pt", path)
    cases.append(("python_zipfile.pt", "OK", "records rewritten by Python's zipfile: sizes in the "
                  "local headers, no descriptors, no alignment"))

    # Shared storages the reference pipeline converts: tied weights, a slice
    # of them (dropped into the group), and a transposed tensor of its own
    # (written contiguous).
    weight = torch.randn(4, 3)
    valid("tied.pt", "tied weights, a slice of them and a transposed tensor, as convert.py meets them",
          OrderedDict([("embed.weight", weight), ("head.weight", weight), ("top", weight[:2]),
                       ("bias", torch.arange(3, dtype=torch.float16)), ("wt", torch.randn(3, 5).t())]))

    valid("legacy_tied.pt", "the legacy format with tied weights and a slice, which convert.py converts",
          OrderedDict([("embed.weight", weight), ("head.weight", weight), ("top", weight[:2]),
                       ("p", torch.nn.Parameter(torch.ones(3, dtype=torch.float64)))]),
          _use_new_zipfile_serialization=False)

    # --- hostile: payloads ---------------------------------------------------
    small = save_bytes(small_state())
    records = zip_records(small)
    pickle = dict(records)["archive/data.pkl"]
    from fickling.fickle import Pickled
    fickled = Pickled.load(pickle)
    fickled.insert_python_exec(f"import os; os.system('touch {PAYLOAD_MARK}')")
    data = write_zip(replace_record(records, "data.pkl", fickled.dumps()))
    assert payload_runs(data), "the fickling payload must run under torch.load(weights_only=False)"
    hostile("fickling_exec.pt", "RefusedGlobal", "fickling's insert_python_exec: builtins.exec of "
            "os.system before the state dict", data)

    def global_call(module, name, arg):
        return (b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\nq\x00X" +
                struct.pack("<I", len(arg)) + arg.encode() + b"\x85R.")

    data = write_zip(replace_record(records, "data.pkl", global_call("os", "system", f"touch {PAYLOAD_MARK}")))
    assert payload_runs(data)
    hostile("os_system.pt", "RefusedGlobal", "data.pkl calls os.system (written by hand)", data)
    data = write_zip(replace_record(records, "data.pkl", global_call(
        "builtins", "eval", f"__import__('os').system('touch {PAYLOAD_MARK}')")))
    assert payload_runs(data)
    hostile("builtins_eval.pt", "RefusedGlobal", "data.pkl calls builtins.eval", data)
    hostile("torch_load_global.pt", "RefusedGlobal", "data.pkl names torch.load",
            write_zip(replace_record(records, "data.pkl", global_call("torch", "load", "x.pt"))))
    hostile("load_from_bytes.pt", "RefusedGlobal", "torch.storage._load_from_bytes (a nested torch.load)",
            write_zip(replace_record(records, "data.pkl", global_call("torch.storage", "_load_from_bytes", "x"))))
    # A whole-model save refers to a module class through a 'module' id.
    hostile("module_persistent_id.pt", "RefusedGlobal", "a ('module', ...) persistent id",
            write_zip(replace_record(records, "data.pkl",
                                     b"\x80\x02}q\x00X\x01\x00\x00\x00mq\x01(X\x06\x00\x00\x00module"
                                     b"q\x02X\x01\x00\x00\x00xq\x03tq\x04Qs.")))
    legacy_payload = save_bytes(small_state(), _use_new_zipfile_serialization=False)
    hostile("quantized.pt", "RefusedGlobal", "a quantized tensor (_rebuild_qtensor)",
            save_bytes({"q": torch.quantize_per_tensor(torch.randn(4), 0.1, 0, torch.qint8)}))
    hostile("sparse.pt", "RefusedGlobal", "a sparse COO tensor (_rebuild_sparse_tensor)",
            save_bytes({"s": torch.randn(3, 3).to_sparse()}))
    hostile("complex128.pt", "UnsupportedDtype", "complex128 has no safetensors dtype",
            save_bytes({"c": torch.zeros(2, dtype=torch.complex128)}))

    # --- hostile: formats ----------------------------------------------------
    scripted = torch.jit.script(torch.nn.Linear(2, 2))
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    hostile("torchscript.pt", "UnsupportedFormat", "a TorchScript archive (torch.jit.save)", buffer.getvalue())
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w") as tar:
        for member in ("sys_info", "pickle", "tensors", "storages"):
            info = tarfile.TarInfo(member)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"\x80\x02N."))
    hostile("tar_format.pt", "UnsupportedFormat", "the pre-1.0 tar format", tar_buffer.getvalue())
    hostile("legacy_then_zip.pt", "UnsupportedFormat", "a polyglot: a legacy file with a zip after "
            "its last storage", legacy_payload + small)
    hostile("zip_prepended.pt", "UnsupportedFormat", "a zip with bytes before its first local header",
            b"\x00" * 64 + small)
    hostile("plain_pickle.pt", "UnsupportedFormat", "a pickle of a dict without torch's magic number",
            b"\x80\x02}q\x00.")
    hostile("legacy_truncated.pt", "InvalidStorage", "a legacy file cut inside its last storage",
            legacy_payload[:-3])

    # --- hostile: zip structure ----------------------------------------------
    hostile("zip_appended.pt", "InvalidArchive", "bytes after the end record", small + b"\x00")

    def mutate_named(suffix, **changes):
        def mutate(e):
            if e["name"].endswith(suffix.encode()):
                e.update(changes)
        return mutate
    hostile("local_name_differs.pt", "InvalidArchive", "local header names archive/data/1, central "
            "directory archive/data/0",
            write_zip(records, mutate=mutate_named("data/0", local_name=b"archive/data/1")))
    hostile("local_method_differs.pt", "InvalidArchive", "local header says deflated, central stored",
            write_zip(records, mutate=mutate_named("data.pkl", local_method=8)))
    hostile("encrypted.pt", "InvalidArchive", "encryption flag on data.pkl",
            write_zip(records, mutate=mutate_named("data.pkl", flags=0x809)))
    hostile("duplicate_entry.pt", "InvalidArchive", "two entries named archive/data.pkl",
            write_zip(records + [("archive/data.pkl", pickle)]))
    hostile("outside_prefix.pt", "InvalidArchive", "a second data.pkl in another folder",
            write_zip(records + [("other/data.pkl", pickle)]))
    hostile("unknown_record.pt", "InvalidArchive", "a record torch.save does not write",
            write_zip(records + [("archive/payload.py", b"print(1)\n")]))
    deflated = io.BytesIO()
    with zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in records:
            z.writestr(name, data)
    hostile("deflated.pt", "InvalidArchive", "records deflated (torch's reader inflates them; "
            "this one does not)", deflated.getvalue())

    # --- hostile: pickle grammar and limits ----------------------------------
    def with_pickle(p):
        return write_zip(replace_record(records, "data.pkl", p))
    hostile("proto_not_first.pt", "InvalidPickle", "an opcode before PROTO", with_pickle(b"N" + pickle))
    hostile("bytes_after_stop.pt", "InvalidPickle", "bytes after the pickle's STOP",
            with_pickle(pickle + b"cos\nsystem\n"))
    hostile("memo_index_huge.pt", "InvalidPickle", "LONG_BINPUT 0xffffffff",
            with_pickle(b"\x80\x02}r\xff\xff\xff\xff."))
    hostile("string_length_huge.pt", "InvalidPickle", "BINUNICODE claiming 4 GiB",
            with_pickle(b"\x80\x02X\xf0\xff\xff\xff" + b"a" * 16 + b"."))
    hostile("mark_nesting.pt", "InvalidPickle", "100000 nested MARKs",
            with_pickle(b"\x80\x02" + b"(" * 100000 + b"."))
    hostile("setitem_on_list.pt", "InvalidPickle", "SETITEM on a list (CVE-2026-24747's first step)",
            with_pickle(b"\x80\x02]q\x00K\x00K\x01s."))
    hostile("stack_global.pt", "InvalidPickle", "protocol 4's STACK_GLOBAL",
            with_pickle(b"\x80\x02X\x02\x00\x00\x00osX\x06\x00\x00\x00system\x93."))
    hostile("list_holds_itself.pt", "InvalidPickle", "a dict entry whose value contains itself",
            with_pickle(b"\x80\x02}q\x00X\x01\x00\x00\x00ah\x00s."))

    # A Parameter whose data is a Parameter, nested: torch never writes it, and
    # followed as written it would be a recursion as deep as the file is long.
    class Nested:
        def __init__(self, inner):
            self.inner = inner

        def __reduce__(self):
            return (torch._utils._rebuild_parameter, (self.inner, False, OrderedDict()))
    nested = torch.ones(2)
    for _ in range(3):
        nested = Nested(nested)
    hostile("nested_parameters.pt", "InvalidPickle", "a Parameter of a Parameter of a Parameter",
            save_bytes({"p": nested}))

    # --- hostile: storages and tensors ---------------------------------------
    # The pickle says storage "0" holds 6 floats; these edits change the record.
    hostile("storage_larger_than_record.pt", "InvalidStorage", "the persistent id claims more elements "
            "than the record holds (CVE-2026-24747's overflow)",
            write_zip(replace_record(records, "/data/0", dict(records)["archive/data/0"][:-4])))
    hostile("missing_storage.pt", "InvalidStorage", "a persistent id whose record is absent",
            write_zip([(n, d) for n, d in records if not n.endswith("/data/1")]))
    hostile("extra_storage.pt", "InvalidStorage", "a storage record no persistent id names",
            write_zip(records + [("archive/data/9", b"\x00" * 8)]))
    overreach = pickle.replace(b"K\x02K\x03\x86", b"K\x03K\x03\x86", 1)
    assert overreach != pickle
    hostile("extent_past_storage.pt", "InvalidStorage", "a 3x3 tensor over a 6-element storage",
            with_pickle(overreach))

    write_reference_conversions()
    write_sharded()
    with open(os.path.join(OUT, "manifest.tsv"), "w") as f:
        f.write("# case\texpected\tnote (written by tools/gen_pickle_checkpoints.py)\n")
        for row in cases:
            f.write("\t".join(row) + "\n")
    with open(os.path.join(OUT, "expected.tsv"), "w") as f:
        f.write("# case\tname\tdtype\tshape\tstride\tstorage_offset\tsha256 of the elements "
                "(torch.load(weights_only=True), written by tools/gen_pickle_checkpoints.py)\n")
        for row in expected:
            f.write("\t".join(row) + "\n")

    # The pickles alone, as seeds for fuzz/pickle_reader_fuzzer.
    seeds = os.path.join(os.path.dirname(OUT), "..", "fuzz", "seeds", "pickle_reader_fuzzer")
    shutil.rmtree(seeds, ignore_errors=True)
    os.makedirs(seeds)
    for case, _, _ in cases:
        with open(os.path.join(OUT, case), "rb") as f:
            data = f.read()
        if not data.startswith(b"PK\x03\x04"):
            continue
        case = case.replace("/", "_")
        try:
            for name, record in zip_records(data):
                if name.endswith("data.pkl"):
                    with open(os.path.join(seeds, case.replace(".", "_") + ".pkl"), "wb") as f:
                        f.write(record)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError):
            pass
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
