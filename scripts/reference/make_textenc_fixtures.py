"""Writes the CLIP text-encoder parity fixtures of textenc/testdata from the
reference model in cliptext.py.

For each config: config.json (every CLIPTextConfig key, as transformers writes
it, plus "architectures" and "model_type"), model.npz (random, non-trivial
float32 weights, norms included), input.npz (input_ids and attention_mask,
int64 (N, L)), and output.npz with the float64 reference last_hidden_state and
pooler_output (stored as float32) and every tap. For the first config also
grad.npz: r_hidden, r_pooled and the gradient of
sum(last_hidden_state * r_hidden) + sum(pooler_output * r_pooled) with respect
to every parameter ("grad.<param>").

Inputs:
  tiny      eos_token_id 2, so the legacy rule pools at argmax(input_ids). As
            with real CLIP vocabularies, the end-of-text token is the largest
            id (999 here, like 49407); row 0 pads with pad_token_id after it,
            row 1 pads with the end-of-text id itself (as Stable Diffusion's
            tokenizer does: argmax must take the first of equal maxima), row 2
            fills the whole length. Token 2 (the config's eos id) also occurs
            inside the rows, so a first-eos rule would pool elsewhere. The
            attention_mask is all ones (output computed with and without it
            agree exactly).
  gelu-eos  eos_token_id 49, first-eos pooling; the attention_mask has zeros on
            the trailing padding and one inside a row, so it changes unpadded
            positions too. output.npz also holds the outputs computed without
            the mask ("nomask.*"). Key 0 is never masked, so every query has a
            key to attend to (rows with none are where transformers versions
            disagree).
  added-tokens  eos_token_id 49 with ids 50..63 above it ("added tokens", as in
            textual inversion): here argmax and first-eos pick different
            positions, which gelu-eos (eos = largest id) cannot show.

Run from the repository root:  /usr/bin/python3 scripts/reference/make_textenc_fixtures.py
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
from cliptext import CLIPTextModel, pooled_positions  # noqa: E402

CONFIGS = {
    # diffusers' tiny CLIPTextConfig of its pipeline tests (InstructPix2Pix and
    # others): legacy eos_token_id 2, quick_gelu.
    "tiny": dict(
        vocab_size=1000, hidden_size=32, intermediate_size=37, projection_dim=32,
        num_hidden_layers=5, num_attention_heads=4, max_position_embeddings=16,
        hidden_act="quick_gelu", layer_norm_eps=1e-5,
        pad_token_id=1, bos_token_id=0, eos_token_id=2,
    ),
    # Exact GELU, first-eos pooling, a padding mask with zeros.
    "gelu-eos": dict(
        vocab_size=50, hidden_size=24, intermediate_size=40, projection_dim=16,
        num_hidden_layers=2, num_attention_heads=3, max_position_embeddings=12,
        hidden_act="gelu", pad_token_id=1, bos_token_id=48, eos_token_id=49,
    ),
    # First-eos pooling where it differs from argmax.
    "added-tokens": dict(
        vocab_size=64, hidden_size=16, intermediate_size=24, projection_dim=16,
        num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=10,
        hidden_act="quick_gelu", pad_token_id=1, bos_token_id=48, eos_token_id=49,
    ),
}

N = 3


def make_inputs(name, cfg, gen):
    """input_ids and attention_mask (N, L), int64."""
    if name == "tiny":
        length, eot = cfg["max_position_embeddings"], cfg["vocab_size"] - 1
        ids = torch.randint(3, eot, (N, length), generator=gen)
        ids[:, 0] = cfg["bos_token_id"]
        ids[0, 3] = 2
        ids[0, 6] = eot
        ids[0, 7:] = cfg["pad_token_id"]
        ids[1, 1] = 2
        ids[1, 9:] = eot
        ids[2, 5] = 2
        ids[2, -1] = eot
        mask = torch.ones(N, length, dtype=torch.int64)
    elif name == "gelu-eos":
        length, eos = 10, cfg["eos_token_id"]
        ids = torch.randint(2, cfg["bos_token_id"], (N, length), generator=gen)
        ids[:, 0] = cfg["bos_token_id"]
        ids[0, 4] = eos
        ids[0, 5:] = cfg["pad_token_id"]
        ids[1, 7] = eos
        ids[1, 8:] = eos  # padded with the eos id: the first one is pooled
        ids[2, -1] = eos
        mask = torch.ones(N, length, dtype=torch.int64)
        mask[0, 5:] = 0
        mask[1, 8:] = 0
        mask[1, 3] = 0  # a masked token inside the row
        mask[2, 2] = 0
    else:
        length, eos = 8, cfg["eos_token_id"]
        ids = torch.randint(2, cfg["bos_token_id"], (N, length), generator=gen)
        ids[:, 0] = cfg["bos_token_id"]
        ids[0, 2] = 57
        ids[0, 5] = eos
        ids[0, 6:] = cfg["pad_token_id"]
        ids[1, 1] = 63
        ids[1, 3] = 50
        ids[1, 4] = eos
        ids[1, 5:] = eos
        ids[2, 6] = 60
        ids[2, 7] = eos
        mask = torch.ones(N, length, dtype=torch.int64)
        mask[0, 6:] = 0
    return ids, mask


def randomize(model, gen):
    """Non-trivial weights: PyTorch init plus noise on every norm and bias, with
    q_proj and k_proj scaled up so that attention is far from uniform."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen, dtype=torch.float64)
            if "norm" in name and name.endswith(".weight"):
                p.copy_(1 + 0.3 * noise)
            elif name.endswith(".bias"):
                p.copy_(0.2 * noise)
            else:
                p.add_(0.1 * p.std() * noise)
                if name.endswith(("q_proj.weight", "k_proj.weight")):
                    p.mul_(2.0)


def main():
    root = os.path.join(os.path.dirname(__file__), "..", "..", "textenc", "testdata")
    for i, (name, cfg) in enumerate(CONFIGS.items()):
        gen = torch.Generator().manual_seed(2000 + i)
        torch.manual_seed(2000 + i)
        model = CLIPTextModel(**cfg).double()
        randomize(model, gen)
        # Store float32 weights and compute the reference from exactly those.
        state = {k: v.float() for k, v in model.state_dict().items()}
        model.load_state_dict({k: v.double() for k, v in state.items()})
        out_dir = os.path.join(root, name)
        os.makedirs(out_dir, exist_ok=True)
        config = dict(model.config)
        config["architectures"] = ["CLIPTextModel"]
        config["model_type"] = "clip_text_model"
        with open(os.path.join(out_dir, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
        np.savez(os.path.join(out_dir, "model.npz"), **{k: v.numpy() for k, v in state.items()})

        ids, mask = make_inputs(name, cfg, gen)
        np.savez(os.path.join(out_dir, "input.npz"), input_ids=ids.numpy(), attention_mask=mask.numpy())

        taps = {}
        last, pooled = model(ids, mask, taps=taps)
        result = {"last_hidden_state": last.detach().float().numpy(),
                  "pooler_output": pooled.detach().float().numpy()}
        for k, v in taps.items():
            result["tap." + k] = v.detach().float().numpy()
        if bool((mask == 0).any()):
            last0, pooled0 = model(ids)
            result["nomask.last_hidden_state"] = last0.detach().float().numpy()
            result["nomask.pooler_output"] = pooled0.detach().float().numpy()
        np.savez(os.path.join(out_dir, "output.npz"), **result)

        if i == 0:
            r_hidden = torch.randn(last.shape, generator=gen, dtype=torch.float64).float()
            r_pooled = torch.randn(pooled.shape, generator=gen, dtype=torch.float64).float()
            model.zero_grad()
            last, pooled = model(ids, mask)
            ((last * r_hidden.double()).sum() + (pooled * r_pooled.double()).sum()).backward()
            grads = {"r_hidden": r_hidden.numpy(), "r_pooled": r_pooled.numpy()}
            for k, p in model.named_parameters():
                grads["grad." + k] = p.grad.float().numpy()
            np.savez(os.path.join(out_dir, "grad.npz"), **grads)

        nparams = sum(p.numel() for p in model.parameters())
        pos = pooled_positions(ids, cfg["eos_token_id"]).tolist()
        print(f"{name}: {nparams} parameters, input {tuple(ids.shape)}, "
              f"last_hidden_state {tuple(last.shape)}, pooled at {pos}")


if __name__ == "__main__":
    main()
