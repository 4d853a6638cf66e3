"""Writes the U-Net parity fixtures of unet/testdata from the reference model.

For each config: a model directory (config.json + model.npz with random,
non-trivial weights, norms included), input.npz (sample, timestep,
class_labels), and output.npz with the float64 reference output and every
tap. For the first config also grad.npz: the gradient of sum(output * r)
with respect to every parameter.

Run from the repository root:  /usr/bin/python3 scripts/reference/make_unet_fixtures.py
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from unet2d import UNet2D  # noqa: E402

CONFIGS = {
    # Attention in down, mid and up blocks.
    "attn": dict(
        in_channels=3, out_channels=3, block_out_channels=[8, 16], layers_per_block=1,
        down_block_types=["AttnDownBlock2D", "AttnDownBlock2D"],
        up_block_types=["AttnUpBlock2D", "AttnUpBlock2D"],
        norm_num_groups=4, attention_head_dim=4, sample_size=8,
    ),
    # Class-conditional, three levels, non-default embedding settings.
    "classcond": dict(
        in_channels=1, out_channels=1, block_out_channels=[8, 16, 16], layers_per_block=1,
        down_block_types=["DownBlock2D", "DownBlock2D", "AttnDownBlock2D"],
        up_block_types=["AttnUpBlock2D", "UpBlock2D", "UpBlock2D"],
        norm_num_groups=4, attention_head_dim=8, num_class_embeds=11, time_embedding_dim=24,
        flip_sin_to_cos=False, freq_shift=1, center_input_sample=True, mid_block_scale_factor=1.5,
        sample_size=16,
    ),
    # Two layers per block, zero downsample padding, one-head attention.
    "layers2": dict(
        in_channels=2, out_channels=3, block_out_channels=[8, 16, 24], layers_per_block=2,
        down_block_types=["DownBlock2D", "AttnDownBlock2D", "DownBlock2D"],
        up_block_types=["UpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
        norm_num_groups=4, attention_head_dim=None, attn_norm_num_groups=2, norm_eps=1e-6,
        downsample_padding=0, mid_block_scale_factor=2.0, sample_size=8,
    ),
    # No mid block.
    "nomid": dict(
        in_channels=1, out_channels=1, block_out_channels=[8, 16], layers_per_block=1,
        down_block_types=["DownBlock2D", "DownBlock2D"], up_block_types=["UpBlock2D", "UpBlock2D"],
        mid_block_type=None, norm_num_groups=4, sample_size=8,
    ),
}


SCHEDULE = {
    "num_train_timesteps": 1000,
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "rescale_betas_zero_snr": False,
    "prediction_type": "epsilon",
}


def randomize(model, gen):
    """Non-trivial weights: PyTorch init plus noise on every norm and bias."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if "norm" in name and name.endswith(".weight"):
                p.copy_(1 + 0.3 * noise)
            elif name.endswith(".bias"):
                p.copy_(0.2 * noise)
            else:
                p.add_(0.1 * p.std() * noise)


def main():
    root = os.path.join(os.path.dirname(__file__), "..", "..", "unet", "testdata")
    for i, (name, cfg) in enumerate(CONFIGS.items()):
        gen = torch.Generator().manual_seed(1000 + i)
        torch.manual_seed(1000 + i)
        model = UNet2D(**cfg).double()
        randomize(model, gen)
        # Store float32 weights and compute the reference from exactly those.
        state = {k: v.float() for k, v in model.state_dict().items()}
        model.load_state_dict({k: v.double() for k, v in state.items()})
        out_dir = os.path.join(root, name)
        os.makedirs(out_dir, exist_ok=True)
        config = dict(model.config)
        config["_class_name"] = "UNet2DModel"
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        np.savez(os.path.join(out_dir, "model.npz"), **{k: v.numpy() for k, v in state.items()})
        # Sampling needs the schedule the weights go with: diffusers' default.
        with open(os.path.join(out_dir, "scheduler_config.json"), "w") as f:
            json.dump(SCHEDULE, f, indent=2)
            f.write("\n")

        n, size = 3, cfg["sample_size"]
        sample = torch.randn(n, cfg["in_channels"], size, size, generator=gen).float()
        timestep = torch.randint(0, 1000, (n,), generator=gen, dtype=torch.int64)
        inputs = dict(sample=sample.numpy(), timestep=timestep.numpy())
        labels = None
        if cfg.get("num_class_embeds"):
            labels = torch.randint(0, cfg["num_class_embeds"], (n,), generator=gen, dtype=torch.int64)
            inputs["class_labels"] = labels.numpy()
        np.savez(os.path.join(out_dir, "input.npz"), **inputs)

        taps = {}
        out = model(sample.double(), timestep, labels, taps=taps)
        result = {"output": out.detach().float().numpy()}
        for k, v in taps.items():
            result["tap." + k] = v.detach().float().numpy()
        np.savez(os.path.join(out_dir, "output.npz"), **result)

        if i == 0:
            r = torch.randn(out.shape, generator=gen, dtype=torch.float64).float()
            model.zero_grad()
            (model(sample.double(), timestep, labels) * r.double()).sum().backward()
            grads = {"r": r.numpy()}
            for k, p in model.named_parameters():
                grads["grad." + k] = p.grad.float().numpy()
            np.savez(os.path.join(out_dir, "grad.npz"), **grads)
        nparams = sum(p.numel() for p in model.parameters())
        print(f"{name}: {nparams} parameters, output {tuple(out.shape)}")


if __name__ == "__main__":
    main()
