"""The example program's forward pass equals the reference's: Python loads
the same checkpoint with safetensors.torch.load_model and computes the same
forward pass. Args: EXAMPLE_BINARY CHECKPOINT GEN_GOLDEN_PY."""
import os
import subprocess
import sys

import torch
from safetensors.torch import load_model


def main():
    binary, checkpoint, gen_golden = sys.argv[1:4]
    out = subprocess.run([binary, checkpoint], check=True, capture_output=True, text=True).stdout
    logits = [float(x) for x in out.split("logits:")[1].split("\n")[0].split()]
    sys.path.insert(0, os.path.dirname(gen_golden))
    from gen_golden import ExampleMLP
    model = ExampleMLP()
    missing, unexpected = load_model(model, checkpoint)
    assert not missing and not unexpected, (missing, unexpected)
    x = torch.tensor([[0.5, -1.0, 2.0, 0.25]])
    want = model.fc2(torch.relu(model.fc1(x)))[0].tolist()
    ok = len(logits) == 3 and all(abs(a - b) < 1e-5 for a, b in zip(logits, want))
    print(f"ours {logits}\nreference {want}")
    print(f"example: {int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
