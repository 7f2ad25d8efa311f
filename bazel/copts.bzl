"""Compiler flags for this project's own code (not for system or LibTorch headers,
which come in as -isystem and so cannot trip these warnings)."""

SAFETENSORS_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wconversion",
    "-Wsign-conversion",
    "-Wshadow",
    "-Wnon-virtual-dtor",
    "-Wold-style-cast",
    "-Wcast-align",
    "-Wimplicit-fallthrough",
]
