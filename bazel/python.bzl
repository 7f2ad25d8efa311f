"""@local_python: the python3 that has torch and the reference safetensors
package (tools/setup.sh installs them), for tests that compare with the
reference. Tests run it as $(rootpath @local_python//:python3).

The interpreter is found on PATH when the repository is fetched; Bazel's
strict action environment would hide pyenv-style installs from tests."""

def _local_python_impl(ctx):
    python = ctx.which("python3")
    if python == None:
        fail("no python3 on PATH; tests that compare with the reference need one " +
             "(tools/setup.sh installs torch and safetensors for it)")
    result = ctx.execute([python, "-c", "import sys; print(sys.executable)"])
    if result.return_code != 0:
        fail("python3 does not run: " + result.stderr)
    executable = result.stdout.strip()
    ctx.file("python3", "#!/bin/sh\nexec '%s' \"$@\"\n" % executable, executable = True)
    ctx.file("BUILD.bazel", 'exports_files(["python3"], visibility = ["//visibility:public"])\n')

local_python = repository_rule(
    implementation = _local_python_impl,
    environ = ["PATH"],
    local = True,
)
