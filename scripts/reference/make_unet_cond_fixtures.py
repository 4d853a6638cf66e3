"""Writes the UNet2DConditionModel parity fixtures of unet/testdata from the reference model.

For each config: a model directory (config.json as diffusers' save_config
writes it, model.npz with random, non-trivial float32 weights, norms
included, scheduler_config.json), input.npz (sample, timestep,
encoder_hidden_states, encoder_attention_mask, and class_labels where the
model is class-conditional), and output.npz with the float64 reference output
and every tap. For the first config also grad.npz: the gradient of
sum(output * r) with respect to every parameter and to encoder_hidden_states.

Also checks that the outputs are finite, that the mask matters, that an
all-ones mask equals no mask, and that a masked token acts as if removed.

Run from the repository root:  /usr/bin/python3 scripts/reference/make_unet_cond_fixtures.py
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from make_unet_fixtures import SCHEDULE, randomize  # noqa: E402
from unet2d_cond import UNet2DCondition  # noqa: E402

# diffusers' version whose sources the reference follows (save_config writes it).
DIFFUSERS_VERSION = "0.40.0.dev0"

CONFIGS = {
    # Linear projections, two transformer layers per block, cross-attention in
    # the first down block, the mid block and the last up block.
    "cond-linear": dict(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=[8, 16], layers_per_block=1,
        down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
        up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"],
        norm_num_groups=4, attention_head_dim=2, cross_attention_dim=12,
        transformer_layers_per_block=2, use_linear_projection=True,
    ),
    # Conv projections, class labels plus text, three levels, two layers per
    # block, non-default time embedding, zero downsample padding, mid scale.
    "cond-class": dict(
        sample_size=8, in_channels=3, out_channels=3, block_out_channels=[8, 16, 16], layers_per_block=2,
        down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        norm_num_groups=4, attention_head_dim=4, cross_attention_dim=6, num_class_embeds=5,
        flip_sin_to_cos=False, freq_shift=1, time_embedding_dim=24, center_input_sample=True,
        downsample_padding=0, mid_block_scale_factor=1.5, norm_eps=1e-6,
    ),
    # InstructPix2Pix-like: 8 input channels (latent + image latent), 4 out,
    # cross-attention in every down and up block and in the mid block.
    "cond-8ch": dict(
        sample_size=8, in_channels=8, out_channels=4, block_out_channels=[8, 16], layers_per_block=1,
        down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        norm_num_groups=4, attention_head_dim=4, cross_attention_dim=10,
    ),
    # A guidance-distilled InstructPix2Pix-like student: 2 input channels
    # (the image and the source), a "projection" class embedding of a
    # 12-wide class_labels vector (the guidance scales' embedding).
    "cond-proj": dict(
        sample_size=8, in_channels=2, out_channels=1, block_out_channels=[8, 16], layers_per_block=1,
        down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
        up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"],
        norm_num_groups=4, attention_head_dim=2, cross_attention_dim=6, use_linear_projection=True,
        class_embed_type="projection", projection_class_embeddings_input_dim=12,
    ),
}

TOKENS = {"cond-linear": 5, "cond-class": 7, "cond-8ch": 5, "cond-proj": 4}


def make_mask(n, tokens):
    """Row 0 keeps every token; the others discard some (never all)."""
    m = torch.ones(n, tokens)
    m[1, tokens - 2:] = 0
    m[2, 1] = 0
    return m


def save_config(model, path):
    config = dict(model.config)
    config["_class_name"] = "UNet2DConditionModel"
    config["_diffusers_version"] = DIFFUSERS_VERSION
    with open(path, "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True) + "\n")


def maxdiff(a, b):
    return (a - b).abs().max().item()


def checks(name, model, sample, timestep, ehs, mask, labels, out):
    """Self-checks of the mask semantics; raises on failure."""
    assert torch.isfinite(out).all(), name
    with torch.no_grad():
        nomask = model(sample, timestep, ehs, labels)
        ones = model(sample, timestep, ehs, labels, torch.ones_like(mask))
        # all-ones mask == no mask (the bias is exactly zero)
        d_ones = maxdiff(ones, nomask)
        assert d_ones == 0.0, (name, d_ones)
        # the mask matters, per row: row 0 keeps everything
        d_rows = [maxdiff(out[i], nomask[i]) for i in range(out.shape[0])]
        assert d_rows[0] == 0.0 and all(d > 1e-6 for d in d_rows[1:]), (name, d_rows)
        # a discarded token acts as if removed (exp(-10000) underflows in float64)
        i = 1
        keep = mask[i].bool()
        lab = labels[i:i + 1] if labels is not None else None
        dropped = model(sample[i:i + 1], timestep[i:i + 1], ehs[i:i + 1, keep], lab)
        d_drop = maxdiff(dropped[0], out[i])
        assert d_drop < 1e-12, (name, d_drop)
        # and its values do not matter
        ehs2 = ehs.clone()
        ehs2[~mask.bool()] = 1e3
        d_vals = maxdiff(model(sample, timestep, ehs2, labels, mask), out)
        assert d_vals < 1e-12, (name, d_vals)
        # the text matters through the unmasked tokens
        ehs3 = ehs.clone()
        ehs3[0, 0] += 1
        d_text = maxdiff(model(sample, timestep, ehs3, labels, mask)[0], out[0])
        assert d_text > 1e-6, (name, d_text)
    print(f"  checks: all-ones mask vs none max|diff| {d_ones:.1e}; mask effect per row "
          f"{', '.join(f'{d:.2e}' for d in d_rows)}; masked==dropped tokens {d_drop:.1e}; "
          f"masked values ignored {d_vals:.1e}; text effect {d_text:.2e}")


def main():
    root = os.path.join(os.path.dirname(__file__), "..", "..", "unet", "testdata")
    for i, (name, cfg) in enumerate(CONFIGS.items()):
        gen = torch.Generator().manual_seed(2000 + i)
        torch.manual_seed(2000 + i)
        model = UNet2DCondition(**cfg).double()
        randomize(model, gen)
        # Store float32 weights and compute the reference from exactly those.
        state = {k: v.float() for k, v in model.state_dict().items()}
        model.load_state_dict({k: v.double() for k, v in state.items()})
        out_dir = os.path.join(root, name)
        os.makedirs(out_dir, exist_ok=True)
        save_config(model, os.path.join(out_dir, "config.json"))
        np.savez(os.path.join(out_dir, "model.npz"), **{k: v.numpy() for k, v in state.items()})
        with open(os.path.join(out_dir, "scheduler_config.json"), "w") as f:
            json.dump(SCHEDULE, f, indent=2)
            f.write("\n")

        n, size, tokens = 3, cfg["sample_size"], TOKENS[name]
        sample = torch.randn(n, cfg["in_channels"], size, size, generator=gen).float()
        timestep = torch.randint(0, 1000, (n,), generator=gen, dtype=torch.int64)
        ehs = torch.randn(n, tokens, cfg["cross_attention_dim"], generator=gen).float()
        mask = make_mask(n, tokens)
        inputs = dict(sample=sample.numpy(), timestep=timestep.numpy(),
                      encoder_hidden_states=ehs.numpy(), encoder_attention_mask=mask.numpy())
        labels = None
        if cfg.get("num_class_embeds"):
            labels = torch.randint(0, cfg["num_class_embeds"], (n,), generator=gen, dtype=torch.int64)
            inputs["class_labels"] = labels.numpy()
        if cfg.get("class_embed_type") == "projection":
            labels = torch.randn(n, cfg["projection_class_embeddings_input_dim"], generator=gen).float()
            inputs["class_labels"] = labels.numpy()
            labels = labels.double()
        np.savez(os.path.join(out_dir, "input.npz"), **inputs)

        x, c, m = sample.double(), ehs.double(), mask.double()
        taps = {}
        with torch.no_grad():
            out = model(x, timestep, c, labels, m, taps=taps)
        result = {"output": out.float().numpy()}
        for k, v in taps.items():
            assert torch.isfinite(v).all(), (name, k)
            result["tap." + k] = v.float().numpy()
        np.savez(os.path.join(out_dir, "output.npz"), **result)
        nparams = sum(p.numel() for p in model.parameters())
        print(f"{name}: {nparams} parameters, output {tuple(out.shape)}, |output| max {out.abs().max():.3f}, "
              f"taps {list(taps)}")
        checks(name, model, x, timestep, c, m, labels, out)

        if i == 0 or name == "cond-proj":
            r = torch.randn(out.shape, generator=gen, dtype=torch.float64).float()
            model.zero_grad()
            cg = c.clone().requires_grad_(True)
            (model(x, timestep, cg, labels, m) * r.double()).sum().backward()
            grads = {"r": r.numpy()}
            for k, p in model.named_parameters():
                assert torch.isfinite(p.grad).all(), (name, k)
                grads["grad." + k] = p.grad.float().numpy()
            grads["grad.encoder_hidden_states"] = cg.grad.float().numpy()
            np.savez(os.path.join(out_dir, "grad.npz"), **grads)
            masked = cg.grad[~mask.bool()]
            print(f"  grad: {len(grads) - 1} arrays; |grad encoder_hidden_states| max {cg.grad.abs().max():.3e}, "
                  f"at masked tokens max {masked.abs().max():.1e}")
        sizes = {f: os.path.getsize(os.path.join(out_dir, f)) for f in sorted(os.listdir(out_dir))}
        print(f"  {out_dir}: {sum(sizes.values())} bytes {sizes}")


if __name__ == "__main__":
    main()
