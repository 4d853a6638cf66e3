"""An independent PyTorch reference of diffusers' UNet2DModel.

Written from the diffusers sources (models/unets/unet_2d.py, unet_2d_blocks.py,
resnet.py, embeddings.py, attention_processor.py) without importing diffusers,
for the subset the Go toolkit supports: positional time embedding, DownBlock2D,
AttnDownBlock2D, UNetMidBlock2D, UpBlock2D, AttnUpBlock2D, class conditioning
via num_class_embeds, resnet_time_scale_shift "default", conv down/upsampling.
Module names reproduce diffusers' state_dict keys exactly, so a state_dict of
this model loads into diffusers and into the Go toolkit.

Runs on Debian's python3-torch (1.13).
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULTS = dict(
    sample_size=None, in_channels=3, out_channels=3, center_input_sample=False,
    time_embedding_type="positional", time_embedding_dim=None, freq_shift=0,
    flip_sin_to_cos=True,
    down_block_types=["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"],
    mid_block_type="UNetMidBlock2D",
    up_block_types=["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
    block_out_channels=[224, 448, 672, 896], layers_per_block=2,
    mid_block_scale_factor=1, downsample_padding=1, downsample_type="conv",
    upsample_type="conv", dropout=0.0, act_fn="silu", attention_head_dim=8,
    norm_num_groups=32, attn_norm_num_groups=None, norm_eps=1e-5,
    resnet_time_scale_shift="default", add_attention=True, class_embed_type=None,
    num_class_embeds=None, num_train_timesteps=None,
)


def timestep_embedding(t, dim, flip_sin_to_cos, shift, max_period=10000):
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(0, half, dtype=torch.float32)
    exponent = exponent / (half - shift)
    emb = t[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class Resnet(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps, scale=1.0):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None
        self.scale = scale

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return (x + h) / self.scale


# How attention is computed: "classic" (explicit softmax, as diffusers'
# AttnProcessor; the fixtures use it) or "sdpa" (F.scaled_dot_product_attention,
# as diffusers' AttnProcessor2_0 does on torch >= 2.0).
ATTENTION = "classic"


class Attention(nn.Module):
    """diffusers' Attention(..., _from_deprecated_attn_block=True) on 4-D input."""

    def __init__(self, ch, heads, dim_head, groups, eps, scale=1.0):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.dim_head, self.rescale = heads, dim_head, scale
        self.group_norm = nn.GroupNorm(groups, ch, eps=eps) if groups else None
        self.to_q = nn.Linear(ch, inner)
        self.to_k = nn.Linear(ch, inner)
        self.to_v = nn.Linear(ch, inner)
        self.to_out = nn.ModuleList([nn.Linear(inner, ch), nn.Dropout(0.0)])

    def forward(self, x):
        b, c, hh, ww = x.shape
        residual = x
        h = self.group_norm(x) if self.group_norm is not None else x
        h = h.view(b, c, hh * ww).transpose(1, 2)
        q, k, v = self.to_q(h), self.to_k(h), self.to_v(h)

        def split(t):
            return t.view(b, -1, self.heads, self.dim_head).permute(0, 2, 1, 3)

        q, k, v = split(q), split(k), split(v)
        if ATTENTION == "sdpa":
            o = F.scaled_dot_product_attention(q, k, v)
        else:
            scores = torch.matmul(q, k.transpose(-1, -2)) * (self.dim_head ** -0.5)
            probs = scores.float().softmax(dim=-1).to(q.dtype)
            o = torch.matmul(probs, v)
        o = o.permute(0, 2, 1, 3).reshape(b, hh * ww, -1)
        o = self.to_out[0](o)
        o = o.transpose(1, 2).reshape(b, c, hh, ww)
        return (o + residual) / self.rescale


class Downsample(nn.Module):
    def __init__(self, ch, padding):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class DownBlock(nn.Module):
    def __init__(self, attn, layers, cin, cout, temb, add_down, groups, eps, head_dim, pad):
        super().__init__()
        self.resnets = nn.ModuleList(
            [Resnet(cin if i == 0 else cout, cout, temb, groups, eps) for i in range(layers)])
        if attn:
            hd = head_dim if head_dim is not None else cout
            self.attentions = nn.ModuleList(
                [Attention(cout, cout // hd, hd, groups, eps) for _ in range(layers)])
        else:
            self.attentions = None
        self.downsamplers = nn.ModuleList([Downsample(cout, pad)]) if add_down else None

    def forward(self, h, temb):
        out = ()
        for i, r in enumerate(self.resnets):
            h = r(h, temb)
            if self.attentions is not None:
                h = self.attentions[i](h)
            out += (h,)
        if self.downsamplers is not None:
            h = self.downsamplers[0](h)
            out += (h,)
        return h, out


class UpBlock(nn.Module):
    def __init__(self, attn, layers, cin, prev, cout, temb, add_up, groups, eps, head_dim):
        super().__init__()
        rs = []
        for i in range(layers):
            skip = cin if i == layers - 1 else cout
            rin = prev if i == 0 else cout
            rs.append(Resnet(rin + skip, cout, temb, groups, eps))
        self.resnets = nn.ModuleList(rs)
        if attn:
            hd = head_dim if head_dim is not None else cout
            self.attentions = nn.ModuleList(
                [Attention(cout, cout // hd, hd, groups, eps) for _ in range(layers)])
        else:
            self.attentions = None
        self.upsamplers = nn.ModuleList([Upsample(cout)]) if add_up else None

    def forward(self, h, skips, temb):
        for i, r in enumerate(self.resnets):
            h = torch.cat([h, skips[-1]], dim=1)
            skips = skips[:-1]
            h = r(h, temb)
            if self.attentions is not None:
                h = self.attentions[i](h)
        if self.upsamplers is not None:
            h = self.upsamplers[0](h)
        return h


class MidBlock(nn.Module):
    def __init__(self, ch, temb, groups, attn_groups, eps, head_dim, scale, add_attention):
        super().__init__()
        hd = head_dim if head_dim is not None else ch
        self.resnets = nn.ModuleList(
            [Resnet(ch, ch, temb, groups, eps, scale), Resnet(ch, ch, temb, groups, eps, scale)])
        ag = attn_groups if attn_groups is not None else groups
        self.attentions = nn.ModuleList([Attention(ch, ch // hd, hd, ag, eps, scale)]) if add_attention else None

    def forward(self, h, temb):
        h = self.resnets[0](h, temb)
        if self.attentions is not None:
            h = self.attentions[0](h)
        return self.resnets[1](h, temb)


class UNet2D(nn.Module):
    def __init__(self, **cfg):
        super().__init__()
        c = dict(DEFAULTS)
        for k in cfg:
            if k not in c:
                raise KeyError(k)
        c.update(cfg)
        self.config = c
        boc = c["block_out_channels"]
        n = len(boc)
        temb = c["time_embedding_dim"] or boc[0] * 4
        groups = c["norm_num_groups"]
        eps = c["norm_eps"]
        hd = c["attention_head_dim"]
        self.conv_in = nn.Conv2d(c["in_channels"], boc[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(boc[0], temb)
        if c["num_class_embeds"] is not None:
            self.class_embedding = nn.Embedding(c["num_class_embeds"], temb)
        else:
            self.class_embedding = None
        self.down_blocks = nn.ModuleList()
        out = boc[0]
        for i, t in enumerate(c["down_block_types"]):
            cin, out = out, boc[i]
            self.down_blocks.append(DownBlock(t == "AttnDownBlock2D", c["layers_per_block"], cin, out, temb,
                                              i < n - 1, groups, eps, hd, c["downsample_padding"]))
        if c["mid_block_type"] is not None:
            self.mid_block = MidBlock(boc[-1], temb, groups, c["attn_norm_num_groups"], eps, hd,
                                      c["mid_block_scale_factor"], c["add_attention"])
        else:
            self.mid_block = None
        self.up_blocks = nn.ModuleList()
        rev = list(reversed(boc))
        out = rev[0]
        for i, t in enumerate(c["up_block_types"]):
            prev, out = out, rev[i]
            cin = rev[min(i + 1, n - 1)]
            self.up_blocks.append(UpBlock(t == "AttnUpBlock2D", c["layers_per_block"] + 1, cin, prev, out, temb,
                                          i < n - 1, groups, eps, hd))
        self.conv_norm_out = nn.GroupNorm(groups, boc[0], eps=eps)
        self.conv_out = nn.Conv2d(boc[0], c["out_channels"], 3, padding=1)

    def forward(self, sample, timestep, class_labels=None, taps=None):
        c = self.config
        if c["center_input_sample"]:
            sample = 2 * sample - 1.0
        t = timestep * torch.ones(sample.shape[0], dtype=timestep.dtype)
        t_emb = timestep_embedding(t, c["block_out_channels"][0], c["flip_sin_to_cos"], c["freq_shift"])
        # As in diffusers: the projection is float32, cast to the model's dtype.
        emb = self.time_embedding(t_emb.to(self.conv_in.weight.dtype))
        if self.class_embedding is not None:
            emb = emb + self.class_embedding(class_labels)
        h = self.conv_in(sample)
        if taps is not None:
            taps["conv_in"] = h
        skips = (h,)
        for i, b in enumerate(self.down_blocks):
            h, s = b(h, emb)
            skips += s
            if taps is not None:
                taps[f"down_blocks.{i}"] = h
        if self.mid_block is not None:
            h = self.mid_block(h, emb)
            if taps is not None:
                taps["mid_block"] = h
        for i, b in enumerate(self.up_blocks):
            k = len(b.resnets)
            h = b(h, skips[-k:], emb)
            skips = skips[:-k]
            if taps is not None:
                taps[f"up_blocks.{i}"] = h
        return self.conv_out(F.silu(self.conv_norm_out(h)))
