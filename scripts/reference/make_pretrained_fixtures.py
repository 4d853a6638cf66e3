"""Writes the save_pretrained-format fixtures of unet/testdata/pretrained and internal/weightio/testdata.

diffusers' ModelMixin.save_pretrained writes a U-Net directory as config.json
plus diffusion_pytorch_model.safetensors (safe_serialization=True, the
default) or diffusion_pytorch_model.bin (torch.save of the state dict); after
model.half() or .to(torch.bfloat16) the same files hold F16 or BF16 tensors.
Neither diffusers nor Python's safetensors package is installable here, so
this script writes those files itself: safetensors following the format's
specification (https://github.com/huggingface/safetensors: an 8-byte
little-endian header length, a JSON header {name: {dtype, shape,
data_offsets}, "__metadata__": {"format": "pt"}} padded with spaces to a
multiple of 8, then the raw little-endian data, tensors ordered by dtype
alignment then name, as safetensors' serializer orders them), and .bin with
torch.save itself. It shares no code with the Go reader.

For each of unet/testdata/classcond (UNet2DModel) and cond-linear
(UNet2DConditionModel), from its model.npz: fp32/, fp16/ and bf16/
(safetensors) and bin/ (torch.save, fp32), each with the fixture's
config.json. The half-precision values are numpy's (fp16) and torch's (bf16)
round-to-nearest-even of the float32 weights.

internal/weightio/testdata: mixed.safetensors (F32, F16, BF16, F64, I64 and
I32 tensors), mixed.bin (the same as torch tensors, one of them a
non-contiguous view with a storage offset), and
mixed.npz with the float32 (or int64) values a reader must return.

Run from the repository root:  /usr/bin/python3 scripts/reference/make_pretrained_fixtures.py
"""

import collections
import json
import os
import shutil
import struct

import numpy as np
import torch

ALIGN = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2}
ORDER = ["BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]


def raw(t):
    """(dtype name, shape, little-endian bytes) of a torch tensor."""
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return "BF16", list(t.shape), t.view(torch.int16).numpy().astype("<i2").tobytes()
    a = t.numpy()
    name = {np.float32: "F32", np.float16: "F16", np.float64: "F64", np.int64: "I64", np.int32: "I32"}[a.dtype.type]
    return name, list(a.shape), a.astype(a.dtype.newbyteorder("<")).tobytes()


def write_safetensors(path, tensors):
    items = sorted(((k,) + raw(v) for k, v in tensors.items()), key=lambda e: (-ORDER.index(e[1]), e[0]))
    header, offset = {}, 0
    for name, dtype, shape, data in items:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, _, _, data in items:
            f.write(data)


def unet_fixtures():
    for name in ["classcond", "cond-linear"]:
        src = os.path.join("unet/testdata", name)
        weights = np.load(os.path.join(src, "model.npz"))
        state = collections.OrderedDict((k, torch.from_numpy(weights[k].astype(np.float32))) for k in weights.files)
        for variant, conv in [("fp32", lambda t: t), ("fp16", lambda t: t.half()), ("bf16", lambda t: t.to(torch.bfloat16))]:
            out = os.path.join("unet/testdata/pretrained", name, variant)
            os.makedirs(out, exist_ok=True)
            shutil.copy(os.path.join(src, "config.json"), out)
            write_safetensors(os.path.join(out, "diffusion_pytorch_model.safetensors"),
                              collections.OrderedDict((k, conv(v)) for k, v in state.items()))
        out = os.path.join("unet/testdata/pretrained", name, "bin")
        os.makedirs(out, exist_ok=True)
        shutil.copy(os.path.join(src, "config.json"), out)
        torch.save(state, os.path.join(out, "diffusion_pytorch_model.bin"))


def weightio_fixtures():
    g = torch.Generator().manual_seed(3)
    base = torch.randn(5, 7, generator=g) * 3
    ts = collections.OrderedDict([
        ("f32", base[:2].clone()),
        ("f16", (base[2:4] * 100).half()),
        ("bf16", base[1:3].to(torch.bfloat16)),
        ("f64", base[3:].double() / 7),
        ("i64", torch.arange(-3, 9, dtype=torch.int64).reshape(3, 4)),
        ("i32", torch.tensor([[-2, 5, 7]], dtype=torch.int32)),
        ("scalar", torch.tensor(1.5)),
    ])
    os.makedirs("internal/weightio/testdata", exist_ok=True)
    write_safetensors("internal/weightio/testdata/mixed.safetensors", ts)
    want = {}
    for k, v in ts.items():
        want[k] = v.to(torch.int64).numpy() if not v.is_floating_point() else v.float().numpy()
    # The .bin: a non-contiguous view with a storage offset (the transpose
    # of a slice), bfloat16, double, long and int tensors.
    big = torch.randn(6, 5, generator=g)
    view = big[1:4].t()
    bin_ts = collections.OrderedDict([("view", view), ("bf16", ts["bf16"]), ("f64", ts["f64"]),
                                          ("i64", ts["i64"]), ("i32", ts["i32"]), ("f32", ts["f32"])])
    assert not view.is_contiguous() and view.storage_offset() > 0
    torch.save(bin_ts, "internal/weightio/testdata/mixed.bin")
    # Half precision in a .bin, which the reader refuses (gopickle's float16
    # conversion is inexact): subnormals, -0 and infinities among them.
    half = torch.tensor([1.0, -0.0, 6e-8, 65504.0, float("inf")]).half()
    torch.save(collections.OrderedDict([("half", half)]), "internal/weightio/testdata/half.bin")
    want["bin_view"] = view.contiguous().numpy()
    np.savez("internal/weightio/testdata/mixed.npz", **want)


if __name__ == "__main__":
    unet_fixtures()
    weightio_fixtures()
    print("wrote unet/testdata/pretrained and internal/weightio/testdata")
