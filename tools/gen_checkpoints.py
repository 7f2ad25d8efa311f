#!/usr/bin/env python3
"""Writes testdata/checkpoints/: small sharded checkpoints, valid and hostile,
with manifest.tsv giving each case's expected verdict (OK or an ErrorCode name).

Shards are written by the reference implementation (safetensors 0.8); indexes
are written here as text, so hostile ones can be exactly as hostile as wanted.
Deterministic: rerunning gives the same bytes. Run from the repository root:

    python3 tools/gen_checkpoints.py
"""
import json
import os
import shutil

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "testdata", "checkpoints")
INDEX = "model.safetensors.index.json"
S1 = "model-00001-of-00002.safetensors"
S2 = "model-00002-of-00002.safetensors"

cases = []  # (name, expected, note)


def tensor(n, seed):
    return ((torch.arange(n, dtype=torch.int64) * 37 + seed) % 251).to(torch.float32)


def write_case(name, expected, note, shards, index_text, extra=None):
    d = os.path.join(OUT, name)
    os.makedirs(d)
    for shard_name, tensors in shards.items():
        save_file(tensors, os.path.join(d, shard_name), metadata={"format": "pt"})
    if index_text is not None:
        with open(os.path.join(d, INDEX), "wb") as f:
            f.write(index_text if isinstance(index_text, bytes) else index_text.encode("utf-8"))
    for file_name, data in (extra or {}).items():
        with open(os.path.join(d, file_name), "wb") as f:
            f.write(data)
    cases.append((name, expected, note))


def index_json(weight_map, metadata=None):
    return json.dumps({"metadata": metadata or {"total_size": 40}, "weight_map": weight_map},
                      indent=2)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    two = {S1: {"a": tensor(4, 1), "b": tensor(2, 2)}, S2: {"c": tensor(4, 3)}}
    good_map = {"a": S1, "b": S1, "c": S2}

    write_case("valid_two_shards", "OK", "a well-formed two-shard checkpoint", two,
               index_json(good_map))
    write_case("valid_metadata_strings", "OK",
               "metadata with total_size and a dropped shared name, as huggingface_hub writes",
               two, index_json(good_map, {"total_size": 40, "lm_head.weight": "a"}))
    write_case("valid_unknown_keys", "OK", "an extra top-level key, validated and ignored", two,
               '{"format": {"nested": [1, 2, {"x": null}]}, "weight_map": ' +
               json.dumps(good_map) + "}")

    # Shard names: the path-traversal surface.
    for name, shard, note in [
        ("name_dotdot", "../" + S1, "a '..' component"),
        ("name_nested_dotdot", "sub/../../" + S1, "a directory and '..'"),
        ("name_absolute", "/etc/passwd", "an absolute path"),
        ("name_backslash", "..\\" + S1, "a Windows-style traversal"),
        ("name_drive", "C:" + S1, "a Windows drive prefix"),
        ("name_nul", "a\u0000.safetensors", "an escaped NUL"),
        ("name_newline", "a\n.safetensors", "a control character"),
        ("name_wrong_extension", "model-00001-of-00002.bin", "a pickle shard name"),
        ("name_extension_only", ".safetensors", "an empty stem"),
        ("name_empty", "", "an empty name"),
        ("name_dir", "sub/" + S1, "a subdirectory"),
    ]:
        write_case(name, "InvalidShardName", "shard name with " + note, two,
                   index_json({"a": shard, "b": S1, "c": S2}))

    # Grammar.
    write_case("dup_tensor", "DuplicateKey", "a tensor listed twice in weight_map", two,
               '{"weight_map": {"a": "%s", "b": "%s", "c": "%s", "a": "%s"}}' % (S1, S1, S2, S2))
    write_case("dup_metadata_key", "DuplicateKey", "a metadata key twice", two,
               '{"metadata": {"total_size": 40, "total_size": 41}, "weight_map": %s}'
               % json.dumps(good_map))
    write_case("dup_weight_map", "DuplicateKey", "two weight_map objects", two,
               '{"weight_map": %s, "weight_map": {}}' % json.dumps(good_map))
    write_case("dup_escaped_key", "DuplicateKey", "keys equal after unescaping", two,
               '{"weight_map": {"a": "%s", "\\u0061": "%s", "b": "%s", "c": "%s"}}'
               % (S1, S1, S1, S2))
    write_case("weight_map_array", "InvalidSchema", "weight_map is an array", two,
               '{"weight_map": [["a", "%s"]]}' % S1)
    write_case("weight_map_number", "InvalidSchema", "a shard name is a number", two,
               '{"weight_map": {"a": 1}}')
    write_case("weight_map_null", "InvalidSchema", "weight_map is null", two,
               '{"weight_map": null}')
    write_case("metadata_object", "InvalidSchema", "a metadata value is an object", two,
               '{"metadata": {"x": {}}, "weight_map": %s}' % json.dumps(good_map))
    write_case("metadata_array", "InvalidSchema", "metadata is an array", two,
               '{"metadata": [], "weight_map": %s}' % json.dumps(good_map))
    write_case("no_weight_map", "InvalidSchema", "no weight_map at all", two,
               '{"metadata": {"total_size": 40}}')
    write_case("not_object", "InvalidSchema", "the index is an array", two, '[]')
    write_case("truncated", "InvalidJson", "the index ends inside a string", two,
               '{"weight_map": {"a": "model-000')
    write_case("trailing_garbage", "InvalidJson", "text after the object", two,
               index_json(good_map) + " x")
    write_case("invalid_utf8", "InvalidUtf8", "a name with a stray continuation byte", two,
               b'{"weight_map": {"\x80": "' + S1.encode() + b'"}}')
    write_case("too_deep", "InvalidJson", "an unknown key nested 200 levels", two,
               '{"x": ' + "[" * 200 + "]" * 200 + ', "weight_map": %s}' % json.dumps(good_map))

    # Across shards.
    write_case("missing_shard", "MissingShard", "weight_map names a shard that is not there",
               {S1: two[S1]}, index_json(good_map))
    write_case("tensor_in_wrong_shard", "TensorNotInShard", "weight_map puts c in the first shard",
               two, index_json({"a": S1, "b": S1, "c": S1}))
    write_case("tensor_in_two_shards", "TensorInTwoShards", "both shards hold a",
               {S1: two[S1], S2: {"a": tensor(4, 9), "c": tensor(4, 3)}}, index_json(good_map))
    write_case("unlisted_tensor", "UnlistedTensor", "the first shard holds b, which is not listed",
               two, index_json({"a": S1, "c": S2}))
    write_case("invalid_shard", "HeaderTooSmall", "a shard of three bytes",
               {S1: two[S1]}, index_json(good_map), extra={S2: b"abc"})
    write_case("shard_is_directory", "NotRegularFile", "a shard name that is a directory",
               {S1: two[S1]}, index_json(good_map))
    os.makedirs(os.path.join(OUT, "shard_is_directory", S2))
    with open(os.path.join(OUT, "shard_is_directory", S2, ".keep"), "w") as f:
        f.write("a directory where a shard should be\n")
    many = {f"t{i}": f"model-{i + 1:05d}-of-10000.safetensors" for i in range(10000)}
    write_case("ten_thousand_shards", "MissingShard",
               "an index naming 10,000 shards, none of them present", {}, index_json(many))
    write_case("no_index_two_files", "BadArgument",
               "a directory with two .safetensors files and no index: ambiguous", two, None)

    with open(os.path.join(OUT, "manifest.tsv"), "w") as f:
        f.write("# case\texpected\tnote (written by tools/gen_checkpoints.py)\n")
        for name, expected, note in cases:
            f.write(f"{name}\t{expected}\t{note}\n")


if __name__ == "__main__":
    main()
