"""An independent PyTorch reference of Hugging Face transformers' CLIPTextModel.

Written from the transformers sources (models/clip/modeling_clip.py,
models/clip/configuration_clip.py, activations.py, modeling_attn_mask_utils.py;
read at 4.45.0.dev0, the 4.3x/4.4x line that diffusers pipelines load) without
importing transformers. Module names reproduce transformers' state_dict keys
exactly ("text_model.embeddings.token_embedding.weight", ...), so a state_dict of
this model loads into transformers' CLIPTextModel and into the Go toolkit.

What it computes, for input_ids (N, L) and an optional attention_mask (N, L) of
1 (attend) / 0 (masked):

    h = token_embedding[input_ids] + position_embedding[0..L-1]
    per layer:  h = h + out_proj(attn(layer_norm1(h)))
                h = h + fc2(act(fc1(layer_norm2(h))))
    last_hidden_state = final_layer_norm(h)
    pooler_output     = last_hidden_state[n, eot_position(n)]

Attention adds two additive float masks to the scaled scores, in this order,
as transformers' eager CLIPAttention does: the causal mask (finfo(dtype).min
above the diagonal, 0 elsewhere) and, when attention_mask is given, the padding
mask ((1 - mask) with the 1s replaced by finfo(dtype).min, broadcast over
queries). A score masked by both becomes min + min = -inf. Softmax over keys.

Pooling (transformers >= 4.32): with config eos_token_id == 2 (legacy configs,
e.g. every Stable Diffusion 1.x/2.x text encoder) the position is the argmax of
input_ids (the first position of the row's largest id: in real CLIP vocabularies
<|endoftext|> = 49407 is the largest id); otherwise it is the first position
whose id equals eos_token_id (0 if the row has none, as argmax of all zeros).
POOLING = "token" selects the rule of newer transformers main instead (argmax
only when every row's largest id is 49407), for comparison.

Runs on Debian's python3-torch (1.13).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# CLIPTextConfig's keys and transformers' defaults (configuration_clip.py).
DEFAULTS = dict(
    vocab_size=49408, hidden_size=512, intermediate_size=2048, projection_dim=512,
    num_hidden_layers=12, num_attention_heads=8, max_position_embeddings=77,
    hidden_act="quick_gelu", layer_norm_eps=1e-5, attention_dropout=0.0,
    initializer_range=0.02, initializer_factor=1.0,
    pad_token_id=1, bos_token_id=49406, eos_token_id=49407,
)

ACTIVATIONS = ("quick_gelu", "gelu")

# How the pooled position is chosen: "config" (transformers 4.32 to 4.5x: the
# legacy argmax rule when config.eos_token_id == 2; the fixtures use it) or
# "token" (later transformers main: the legacy rule when every row's largest id
# is 49407, whatever eos_token_id says).
POOLING = "config"

# The legacy CLIP tokenizer's <|endoftext|> id, used by POOLING = "token".
CLIP_EOT_ID = 49407


def activation(name, x):
    if name == "quick_gelu":
        # QuickGELUActivation: x * sigmoid(1.702 x).
        return x * torch.sigmoid(1.702 * x)
    if name == "gelu":
        # GELUActivation: the exact, erf-based GELU of torch.
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    raise ValueError(f"unsupported hidden_act {name!r}")


def causal_mask(n, length, dtype):
    """(n, 1, L, L): 0 where key <= query, finfo(dtype).min above the diagonal."""
    m = torch.full((length, length), torch.finfo(dtype).min, dtype=dtype)
    m = torch.triu(m, diagonal=1)
    return m[None, None].expand(n, 1, length, length)


def padding_mask(attention_mask, dtype):
    """(n, 1, L, L) from a (n, L) 1/0 mask: 0 for keys with 1, finfo(dtype).min for keys with 0."""
    n, length = attention_mask.shape
    inverted = 1.0 - attention_mask.to(dtype)
    m = torch.where(inverted != 0, torch.full_like(inverted, torch.finfo(dtype).min), inverted)
    return m[:, None, None, :].expand(n, 1, length, length)


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.token_embedding = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embedding = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        # transformers registers a position_ids buffer (0..max-1); since 4.31 it
        # is non-persistent, so it is not part of the state_dict. Positions here
        # are always 0..L-1 and no buffer is kept.

    def forward(self, input_ids):
        length = input_ids.shape[-1]
        if length > self.position_embedding.num_embeddings:
            raise ValueError(f"sequence length {length} exceeds max_position_embeddings "
                             f"{self.position_embedding.num_embeddings}")
        positions = torch.arange(length, device=input_ids.device)
        return self.token_embedding(input_ids) + self.position_embedding(positions)[None]


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, heads = c["hidden_size"], c["num_attention_heads"]
        self.heads, self.head_dim = heads, d // heads
        # Declared in transformers' order, so state_dict keys come in its order.
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.q_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x, masks):
        n, length, d = x.shape

        def heads(t):
            return t.reshape(n, length, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        scores = (q * self.head_dim ** -0.5) @ k.transpose(-1, -2)
        for m in masks:
            scores = scores + m
        probs = torch.softmax(scores, dim=-1)
        o = (probs @ v).transpose(1, 2).reshape(n, length, d)
        return self.out_proj(o)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.act = c["hidden_act"]
        self.fc1 = nn.Linear(c["hidden_size"], c["intermediate_size"])
        self.fc2 = nn.Linear(c["intermediate_size"], c["hidden_size"])

    def forward(self, x):
        return self.fc2(activation(self.act, self.fc1(x)))


class EncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["hidden_size"], c["layer_norm_eps"]
        self.self_attn = SelfAttention(c)
        self.layer_norm1 = nn.LayerNorm(d, eps=eps)
        self.mlp = MLP(c)
        self.layer_norm2 = nn.LayerNorm(d, eps=eps)

    def forward(self, h, masks):
        h = h + self.self_attn(self.layer_norm1(h), masks)
        return h + self.mlp(self.layer_norm2(h))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layers = nn.ModuleList([EncoderLayer(c) for _ in range(c["num_hidden_layers"])])


class TextTransformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.final_layer_norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])


def pooled_positions(input_ids, eos_token_id, rule=None):
    """The per-row position pooler_output is taken from (see the module docstring)."""
    rule = POOLING if rule is None else rule
    if rule == "config":
        legacy = eos_token_id == 2
    elif rule == "token":
        legacy = bool(torch.all(input_ids.max(dim=-1).values == CLIP_EOT_ID))
    else:
        raise ValueError(f"unsupported pooling rule {rule!r}")
    if legacy:
        # torch.argmax returns the first of equal maxima.
        return input_ids.argmax(dim=-1)
    return (input_ids == eos_token_id).int().argmax(dim=-1)


class CLIPTextModel(nn.Module):
    def __init__(self, **cfg):
        super().__init__()
        c = dict(DEFAULTS)
        for k in cfg:
            if k not in c:
                raise ValueError(f"unsupported CLIPTextConfig key {k!r}")
        c.update(cfg)
        if c["hidden_act"] not in ACTIVATIONS:
            raise ValueError(f"unsupported hidden_act {c['hidden_act']!r} (supported: {', '.join(ACTIVATIONS)})")
        if c["attention_dropout"] != 0:
            raise ValueError(f"unsupported attention_dropout {c['attention_dropout']!r} (only 0)")
        if c["hidden_size"] % c["num_attention_heads"] != 0:
            raise ValueError(f"unsupported hidden_size {c['hidden_size']} for "
                             f"num_attention_heads {c['num_attention_heads']}: not divisible")
        self.config = c
        self.text_model = TextTransformer(c)

    def forward(self, input_ids, attention_mask=None, taps=None):
        """Returns (last_hidden_state, pooler_output). taps, a dict, receives the
        embeddings ("embeddings") and each layer's output ("encoder.layers.N")."""
        tm = self.text_model
        input_ids = input_ids.reshape(-1, input_ids.shape[-1])
        h = tm.embeddings(input_ids)
        n, length = input_ids.shape
        masks = [causal_mask(n, length, h.dtype)]
        if attention_mask is not None:
            masks.append(padding_mask(attention_mask.reshape(n, length), h.dtype))
        if taps is not None:
            taps["embeddings"] = h
        for i, layer in enumerate(tm.encoder.layers):
            h = layer(h, masks)
            if taps is not None:
                taps[f"encoder.layers.{i}"] = h
        last = tm.final_layer_norm(h)
        pos = pooled_positions(input_ids, self.config["eos_token_id"])
        pooled = last[torch.arange(n), pos]
        return last, pooled
