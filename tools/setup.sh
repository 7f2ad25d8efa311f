#!/usr/bin/env bash
# Installs everything safetensors-cpp needs to build and test on Debian 12.
# Idempotent and non-interactive: a fast no-op when everything is present.
# Says what it installed.
set -euo pipefail

APT_PACKAGES=(
  bazel-bootstrap bazel-rules-java
  libabsl-dev libre2-dev libgtest-dev libgmock-dev
  clang libclang-rt-14-dev llvm-14 pkgconf libssl-dev
  time  # GNU time: the benchmarks' peak-memory readings
)
# Pinned on purpose: torch 2.13.0 is the CPU build on this machine's disk; an
# unpinned torch pulls gigabytes of CUDA. safetensors 0.8.0 is the reference
# implementation and huggingface-hub 2.4.0 writes and loads sharded
# checkpoints: both used only by tests and benchmarks, as oracles.
# fastsafetensors 0.5.0 is a benchmark contender only (it needs no torch of its
# own: its torch requirement is an optional extra).
PIP_PACKAGES=(torch==2.13.0 safetensors==0.8.0 huggingface-hub==2.4.0 fastsafetensors==0.5.0
  fickling==0.1.12)

SUDO=""
if [[ "$(id -u)" != 0 ]]; then SUDO="sudo"; fi

missing_apt=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing_apt+=("$pkg")
  fi
done
if ((${#missing_apt[@]})); then
  echo "setup: installing with apt-get: ${missing_apt[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing_apt[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
missing_pip=()
for spec in "${PIP_PACKAGES[@]}"; do
  name="${spec%%==*}"
  want="${spec##*==}"
  # pip show fails for a package that is not installed: that means "missing".
  have="$("$PYTHON" -m pip show "$name" 2>/dev/null | awk '/^Version:/{print $2}' || true)"
  # A local build suffix (torch's "2.13.0+cpu") is the pinned version.
  if [[ "${have%%+*}" != "$want" ]]; then missing_pip+=("$spec"); fi
done
if ((${#missing_pip[@]})); then
  echo "setup: installing with pip: ${missing_pip[*]}"
  "$PYTHON" -m pip install --quiet --disable-pip-version-check "${missing_pip[@]}"
fi

if ((${#missing_apt[@]} + ${#missing_pip[@]} == 0)); then
  echo "setup: everything already installed"
else
  echo "setup: done"
fi
