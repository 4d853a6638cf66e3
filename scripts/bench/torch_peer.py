"""PyTorch peer of experiments/benchmark: the same U-Net (the independent
references of diffusers' UNet2DModel in scripts/reference/unet2d.py and, for
a config whose _class_name is UNet2DConditionModel, of its cross-attention
U-Net in unet2d_cond.py, attending to random text embeddings of --tokens
tokens as a frozen text encoder would give them), the same
step (train: eps-MSE loss, backward, Adam; sample: one forward pass without
gradients), the same output format.

    /usr/bin/python3 scripts/bench/torch_peer.py --config configs/mnist.json --batch 16 --steps 20 --mode train --threads 1

It runs the U-Net as a user of diffusers gets it on the installed PyTorch:
attention through F.scaled_dot_product_attention on torch >= 2.0 (diffusers'
AttnProcessor2_0), the explicit softmax on older versions (--attention to
choose), and glibc's allocator tuned from Python with mallopt (mmap and trim
thresholds raised, so activations are not returned to the kernel and
faulted in again every pass; --no-mallopt to leave it alone). It prints
which it uses.
"""

import argparse
import ctypes
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
import unet2d  # noqa: E402
from unet2d import UNet2D  # noqa: E402
from unet2d_cond import UNet2DCondition  # noqa: E402

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3


def tune_malloc():
    """Raise glibc's trim and mmap thresholds, as PyTorch's CPU performance
    guides advise (or jemalloc/tcmalloc preloaded): returns what it did."""
    if os.environ.get("LD_PRELOAD"):
        return "preloaded " + os.path.basename(os.environ["LD_PRELOAD"])
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return "default (no glibc)"
    # 32 MiB is the largest mmap threshold glibc accepts on 64-bit machines.
    ok = libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
    return "glibc mallopt(mmap and trim thresholds raised)" if ok else "default (mallopt refused)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--mode", choices=["train", "sample"], default="train")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    sdpa = hasattr(F, "scaled_dot_product_attention")
    ap.add_argument("--attention", choices=["auto", "sdpa", "classic"], default="auto")
    ap.add_argument("--no-mallopt", action="store_true")
    ap.add_argument("--tokens", type=int, default=16, help="text tokens of a UNet2DConditionModel")
    a = ap.parse_args()
    unet2d.ATTENTION = ("sdpa" if sdpa else "classic") if a.attention == "auto" else a.attention
    allocator = "default"
    if not a.no_mallopt:
        allocator = tune_malloc()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    raw = json.load(open(a.config))
    cond = raw.get("_class_name") == "UNet2DConditionModel"
    cfg = {k: v for k, v in raw.items() if not k.startswith("_")}
    model = UNet2DCondition(**cfg) if cond else UNet2D(**cfg)
    size = cfg.get("sample_size") or 32
    n = a.batch
    x = torch.randn(n, cfg["in_channels"], size, size)
    target = torch.randn(n, cfg["out_channels"], size, size)
    t = torch.randint(0, 1000, (n,))
    labels = torch.randint(0, cfg["num_class_embeds"], (n,)) if cfg.get("num_class_embeds") else None
    if cond:
        text = torch.randn(n, a.tokens, cfg["cross_attention_dim"])
        net = lambda: model(x, t, text, labels)  # noqa: E731
    else:
        net = lambda: model(x, t, labels)  # noqa: E731
    if a.mode == "train":
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            F.mse_loss(net(), target).backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.inference_mode():
                net()
    print(f"config {a.config}, batch {n}, mode {a.mode}, torch {torch.__version__}, threads {torch.get_num_threads()}, attention {unet2d.ATTENTION}, allocator {allocator}")
    for _ in range(a.warmup):
        step()
    times = []
    for i in range(a.steps):
        start = time.perf_counter()
        step()
        d = time.perf_counter() - start
        times.append(d)
        print(f"step {i} {d:.6f} s")
    times.sort()
    m = len(times)
    med = times[m // 2] if m % 2 else (times[m // 2 - 1] + times[m // 2]) / 2
    print(f"RESULT {a.mode}_step_median_s {med:.6f}")


if __name__ == "__main__":
    main()
