"""Counts the multiply-accumulates of a forward pass of one sample of the
reference U-Net (scripts/reference/unet2d.py) with forward hooks on every
convolution and linear layer, and the attention products from their shapes:
an independent check of the analytic counts of unet.Model.Cost.

    /usr/bin/python3 scripts/reference/count_macs.py configs/mnist.json 32
"""

import json
import sys

import torch

sys.path.insert(0, "scripts/reference")
from unet2d import Attention, UNet2D  # noqa: E402


def main():
    cfg = {k: v for k, v in json.load(open(sys.argv[1])).items() if not k.startswith("_")}
    size = int(sys.argv[2])
    m = UNet2D(**cfg)
    macs = {"conv": 0, "linear": 0, "attention": 0}

    def hook(mod, inp, out):
        if isinstance(mod, torch.nn.Conv2d):
            macs["conv"] += out.numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, torch.nn.Linear):
            macs["linear"] += out.numel() * mod.in_features
        elif isinstance(mod, Attention):
            _, c, h, w = inp[0].shape
            macs["attention"] += 2 * mod.heads * (h * w) ** 2 * mod.dim_head

    for mod in m.modules():
        mod.register_forward_hook(hook)
    labels = torch.zeros(1, dtype=torch.long) if cfg.get("num_class_embeds") else None
    with torch.no_grad():
        m(torch.zeros(1, cfg["in_channels"], size, size), torch.tensor([10]), labels)
    print(json.dumps(macs))


if __name__ == "__main__":
    main()
