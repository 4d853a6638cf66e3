"""Counts the multiply-accumulates of a forward pass of one sample of the
reference U-Nets (scripts/reference/unet2d.py, and unet2d_cond.py for a
config whose _class_name is UNet2DConditionModel) with forward hooks on every
convolution and linear layer, and the attention products from their shapes:
an independent check of the analytic counts of unet.Model.Cost and CostAt.

    /usr/bin/python3 scripts/reference/count_macs.py configs/mnist.json 32
    /usr/bin/python3 scripts/reference/count_macs.py unet/testdata/cond-class/config.json 8 7

The third argument is the number of text tokens of a UNet2DConditionModel.
"""

import json
import sys

import torch

sys.path.insert(0, "scripts/reference")
from unet2d import Attention, UNet2D  # noqa: E402
from unet2d_cond import CrossAttention, UNet2DCondition  # noqa: E402


def main():
    raw = json.load(open(sys.argv[1]))
    cond = raw.get("_class_name") == "UNet2DConditionModel"
    cfg = {k: v for k, v in raw.items() if not k.startswith("_")}
    size = int(sys.argv[2])
    m = UNet2DCondition(**cfg) if cond else UNet2D(**cfg)
    macs = {"conv": 0, "linear": 0, "attention": 0}

    def hook(mod, inp, out):
        if isinstance(mod, torch.nn.Conv2d):
            macs["conv"] += out.numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, torch.nn.Linear):
            macs["linear"] += out.numel() * mod.in_features
        elif isinstance(mod, Attention):
            _, c, h, w = inp[0].shape
            macs["attention"] += 2 * mod.heads * (h * w) ** 2 * mod.dim_head
        elif isinstance(mod, CrossAttention):
            queries = inp[0].shape[1]
            keys = inp[1].shape[1] if len(inp) > 1 and inp[1] is not None else queries
            macs["attention"] += 2 * mod.heads * queries * keys * mod.dim_head

    for mod in m.modules():
        mod.register_forward_hook(hook)
    labels = torch.zeros(1, dtype=torch.long) if cfg.get("num_class_embeds") else None
    if cfg.get("class_embed_type") == "projection":
        labels = torch.zeros(1, cfg["projection_class_embeddings_input_dim"])
    x = torch.zeros(1, cfg["in_channels"], size, size)
    with torch.no_grad():
        if cond:
            tokens = int(sys.argv[3])
            m(x, torch.tensor([10]), torch.zeros(1, tokens, cfg["cross_attention_dim"]), labels)
        else:
            m(x, torch.tensor([10]), labels)
    print(json.dumps(macs))


if __name__ == "__main__":
    main()
