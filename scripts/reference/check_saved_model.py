"""Checks that a model directory written by the toolkit's train command loads
into PyTorch as diffusers' from_pretrained would load it, and computes what
the toolkit computes.

diffusers cannot be installed on the machine the toolkit is developed on, so
this stands in for `UNet2DModel.from_pretrained(DIR)` with the independent
reference of unet2d.py: it reads DIR/config.json (every key must be one
diffusers' UNet2DModel takes; "_"-keys are metadata) and
DIR/diffusion_pytorch_model.safetensors with its own reader of the
safetensors format (header, dtypes, offsets; no code shared with the Go
side), loads the state dict with strict=True (every name and shape must
match, none may be left over), runs the model in float64 on the inputs the
toolkit's predict command ran on, and compares the outputs.

    go run ./experiments/train -config mnist_tiny -data mnist -steps 20 -out runs/savecheck
    go run ./experiments/predict -model runs/savecheck/model -input unet/testdata/classcond/input.npz ...
    /usr/bin/python3 scripts/reference/check_saved_model.py DIR INPUT.npz GO_OUTPUT.npz

(scripts/reference/check_saved_model.sh runs the three; its output is
committed beside it as check_saved_model.out.)
"""

import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from unet2d import UNet2D  # noqa: E402

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        lo, hi = info["data_offsets"]
        a = np.frombuffer(data[lo:hi], dtype=np.dtype(DTYPES[info["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(a.reshape(info["shape"]).astype(np.float64))
    return out, meta


def main():
    model_dir, input_path, go_path = sys.argv[1:4]
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    state, meta = read_safetensors(os.path.join(model_dir, "diffusion_pytorch_model.safetensors"))
    model = UNet2D(**cfg).double()
    missing = model.load_state_dict(state, strict=True)
    inp = np.load(input_path)
    labels = torch.from_numpy(inp["class_labels"]) if "class_labels" in inp.files else None
    with torch.no_grad():
        out = model(torch.from_numpy(inp["sample"]).double(), torch.from_numpy(inp["timestep"]).double(), labels)
    go = np.load(go_path)["output"]
    diff = float(np.abs(out.numpy() - go).max())
    print(f"config.json: {len(cfg)} keys, every one a UNet2DModel key the reference takes")
    print(f"weights: {len(state)} tensors, metadata {meta}, load_state_dict(strict=True): {missing}")
    print(f"output {tuple(out.shape)}: max |PyTorch float64 - toolkit float32| = {diff:.3g}")
    if diff > 1e-4:
        sys.exit("outputs differ")


if __name__ == "__main__":
    main()
