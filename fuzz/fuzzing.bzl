"""safetensors_cc_fuzz_test: one target per fuzzer, after rules_fuzzing's design.

In the default build the target is a regression test: it links replay_main,
which feeds every seed, stored finding and input of the kept corpus
(corpus/<name>/, grown by tools/fuzz.sh merge) to LLVMFuzzerTestOneInput once and
fails if it found no input (so an empty glob cannot pass). Built with
--config=fuzz (clang, --define=safetensors_fuzzing_engine=libfuzzer) it links
libFuzzer instead; tools/fuzz.sh runs that binary. Either way the corpus is
passed as files, never directories: libFuzzer given a directory starts fuzzing.
"""

load("@rules_cc//cc:defs.bzl", "cc_test")
load("//bazel:copts.bzl", "SAFETENSORS_COPTS")

def safetensors_cc_fuzz_test(name, srcs, deps, corpus, dictionary = None, size = "small", **kwargs):
    regressions = native.glob(["regressions/%s/**" % name], exclude = ["**/README.md"])
    # The kept corpus tools/fuzz.sh merge grows: replayed like the seeds.
    kept = native.glob(["corpus/%s/**" % name], exclude = ["**/README.md"])
    data = corpus + regressions + kept + ([dictionary] if dictionary else [])
    cc_test(
        name = name,
        srcs = srcs,
        size = size,
        copts = SAFETENSORS_COPTS,
        args = ["$(rootpaths %s)" % c for c in corpus] +
               ["$(rootpath %s)" % r for r in regressions + kept],
        data = data,
        linkopts = select({
            "//fuzz:libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = deps + select({
            "//fuzz:libfuzzer": [],
            "//conditions:default": ["//fuzz:replay_main"],
        }),
        **kwargs
    )
