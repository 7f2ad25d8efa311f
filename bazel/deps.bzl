"""External repositories of safetensors-cpp, for this workspace and for consumers.

A monorepo that depends on safetensors-cpp calls safetensors_cpp_dependencies()
from its WORKSPACE after declaring `@safetensors_cpp`. Repositories it already
defines (say, Abseil built from source) are left alone.
"""

load("//bazel:libtorch.bzl", "libtorch_repository")
load("//bazel:python.bzl", "local_python")
load("//bazel:system_libs.bzl", "system_library_repository")

# The Abseil targets this project uses, and the pkg-config module of each.
ABSL_LIBRARIES = {
    "absl/base:core_headers": "absl_core_headers",
    "absl/container:flat_hash_map": "absl_flat_hash_map",
    "absl/container:flat_hash_set": "absl_flat_hash_set",
    "absl/functional:function_ref": "absl_function_ref",
    "absl/hash:hash": "absl_hash",
    "absl/status:status": "absl_status",
    "absl/status:statusor": "absl_statusor",
    "absl/strings:cord": "absl_cord",
    "absl/strings:str_format": "absl_str_format",
    "absl/strings:strings": "absl_strings",
    "absl/types:span": "absl_span",
}

def _repo_visibility(package):
    # A label written inside @libtorch's BUILD file resolves in @libtorch unless
    # it names its repository, so spell out ours ("@" alone is the main one).
    label = Label("//%s:__pkg__" % package)
    return "@%s//%s:__pkg__" % (label.workspace_name, label.package)

# Only these packages may depend on LibTorch; parser/ never does, and the
# build refuses it at analysis time.
LIBTORCH_CONSUMERS = ["torch_io", "torch_io/testing", "fuzz", "tools", "tools/bench"]

def safetensors_cpp_dependencies():
    existing = native.existing_rules()
    if "com_google_absl" not in existing:
        system_library_repository(
            name = "com_google_absl",
            libraries = ABSL_LIBRARIES,
            debian_package = "libabsl-dev",
        )
    if "com_googlesource_code_re2" not in existing:
        system_library_repository(
            name = "com_googlesource_code_re2",
            libraries = {":re2": "re2"},
            debian_package = "libre2-dev",
        )
    if "com_google_googletest" not in existing:
        system_library_repository(
            name = "com_google_googletest",
            libraries = {
                ":gtest": "gtest",
                ":gtest_main": "gtest_main",
                ":gmock": "gmock",
                ":gmock_main": "gmock_main",
            },
            debian_package = "libgtest-dev libgmock-dev",
        )
    if "openssl" not in existing:
        # libcrypto: io/file_hash (safetensors verify) and golden tensors in tests.
        system_library_repository(
            name = "openssl",
            libraries = {":crypto": "libcrypto"},
            debian_package = "libssl-dev",
        )
    if "local_python" not in existing:
        # Tests only: runs the reference implementation for comparison.
        local_python(name = "local_python")
    if "libtorch" not in existing:
        libtorch_repository(
            name = "libtorch",
            consumers = [_repo_visibility(p) for p in LIBTORCH_CONSUMERS],
        )
