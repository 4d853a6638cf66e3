"""An independent PyTorch reference of diffusers' UNet2DConditionModel.

Written from the diffusers sources (models/unets/unet_2d_condition.py,
unet_2d_blocks.py, transformers/transformer_2d.py, attention.py,
activations.py, attention_processor.py, embeddings.py) without importing
diffusers, for the subset the Go toolkit supports: positional time embedding,
CrossAttnDownBlock2D, DownBlock2D, UNetMidBlock2DCrossAttn (or no mid block),
CrossAttnUpBlock2D, UpBlock2D, continuous-input Transformer2DModel with conv or
linear projections, GEGLU feed-forward, class conditioning via
num_class_embeds, and a cross-attention mask. The resnet, time embedding and
down/up samplers are those of unet2d.py (the UNet2DModel reference), which
diffusers shares between the two models.

Module names reproduce diffusers' state_dict keys exactly, so a state_dict of
this model loads into diffusers and into the Go toolkit.

Runs on Debian's python3-torch (1.13).
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

import unet2d
from unet2d import Downsample, Resnet, TimestepEmbedding, Upsample, timestep_embedding

# Every key of UNet2DConditionModel.__init__, with its default, in signature
# order (diffusers' save_config writes them all).
DEFAULTS = dict(
    sample_size=None, in_channels=4, out_channels=4, center_input_sample=False,
    flip_sin_to_cos=True, freq_shift=0,
    down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    mid_block_type="UNetMidBlock2DCrossAttn",
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    only_cross_attention=False, block_out_channels=[320, 640, 1280, 1280], layers_per_block=2,
    downsample_padding=1, mid_block_scale_factor=1, dropout=0.0, act_fn="silu",
    norm_num_groups=32, norm_eps=1e-5, cross_attention_dim=1280, transformer_layers_per_block=1,
    reverse_transformer_layers_per_block=None, encoder_hid_dim=None, encoder_hid_dim_type=None,
    attention_head_dim=8, num_attention_heads=None, dual_cross_attention=False,
    use_linear_projection=False, class_embed_type=None, addition_embed_type=None,
    addition_time_embed_dim=None, num_class_embeds=None, upcast_attention=False,
    resnet_time_scale_shift="default", resnet_skip_time_act=False, resnet_out_scale_factor=1.0,
    time_embedding_type="positional", time_embedding_dim=None, time_embedding_act_fn=None,
    timestep_post_act=None, time_cond_proj_dim=None, conv_in_kernel=3, conv_out_kernel=3,
    projection_class_embeddings_input_dim=None, attention_type="default",
    class_embeddings_concat=False, mid_block_only_cross_attention=None,
    cross_attention_norm=None, addition_embed_type_num_heads=64,
)

# Keys that must keep one value (the default unless noted) in this subset.
FIXED = dict(
    only_cross_attention=False, dropout=0.0, act_fn="silu", reverse_transformer_layers_per_block=None,
    encoder_hid_dim=None, encoder_hid_dim_type=None, dual_cross_attention=False,
    addition_embed_type=None, upcast_attention=False, resnet_time_scale_shift="default",
    time_embedding_type="positional", time_embedding_act_fn=None, timestep_post_act=None,
    time_cond_proj_dim=None, conv_in_kernel=3, conv_out_kernel=3, attention_type="default",
    class_embeddings_concat=False, cross_attention_norm=None,
)
# Keys that do not reach any supported block (diffusers only uses them for
# ResnetDownsampleBlock2D / Simple* blocks, "text"/"text_time" addition
# embeddings): any value is accepted.
INERT = ("resnet_skip_time_act", "resnet_out_scale_factor", "addition_time_embed_dim",
         "mid_block_only_cross_attention",
         "addition_embed_type_num_heads")

DOWN_TYPES = ("CrossAttnDownBlock2D", "DownBlock2D")
UP_TYPES = ("CrossAttnUpBlock2D", "UpBlock2D")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_config(c):
    """Raises ValueError naming the first key whose value is outside the subset."""
    for k, v in FIXED.items():
        if c[k] != v or isinstance(c[k], bool) != isinstance(v, bool):
            raise ValueError(f"{k}={c[k]!r} is not supported (only {v!r})")
    for k in ("in_channels", "out_channels", "layers_per_block", "cross_attention_dim",
              "transformer_layers_per_block", "attention_head_dim", "norm_num_groups", "downsample_padding"):
        if not _is_int(c[k]):
            raise ValueError(f"{k}={c[k]!r} is not supported (only an int)")
    # diffusers itself refuses num_attention_heads (unet_2d_condition.py, issue 2011).
    if c["num_attention_heads"] is not None:
        raise ValueError(f"num_attention_heads={c['num_attention_heads']!r} is not supported (only None; "
                         "diffusers raises for any other value, attention_head_dim is the number of heads)")
    for k in ("num_class_embeds", "time_embedding_dim"):
        if c[k] is not None and not _is_int(c[k]):
            raise ValueError(f"{k}={c[k]!r} is not supported (only None or an int)")
    # class_embed_type: None (with num_class_embeds or none), or "projection":
    # TimestepEmbedding(projection_class_embeddings_input_dim, time_embed_dim)
    # on a class_labels vector (unet_2d_condition.py, _set_class_embedding).
    if c["class_embed_type"] not in (None, "projection"):
        raise ValueError(f"class_embed_type={c['class_embed_type']!r} is not supported (only None or 'projection')")
    if c["class_embed_type"] == "projection":
        if not _is_int(c["projection_class_embeddings_input_dim"]):
            raise ValueError("class_embed_type='projection' requires projection_class_embeddings_input_dim")
        if c["num_class_embeds"] is not None:
            raise ValueError("class_embed_type='projection' and num_class_embeds: give one")
    if c["mid_block_type"] not in ("UNetMidBlock2DCrossAttn", None):
        raise ValueError(f"mid_block_type={c['mid_block_type']!r} is not supported")
    for t in c["down_block_types"]:
        if t not in DOWN_TYPES:
            raise ValueError(f"down_block_types entry {t!r} is not supported")
    for t in c["up_block_types"]:
        if t not in UP_TYPES:
            raise ValueError(f"up_block_types entry {t!r} is not supported")
    n = len(c["block_out_channels"])
    if len(c["down_block_types"]) != n or len(c["up_block_types"]) != n:
        raise ValueError("down_block_types, up_block_types and block_out_channels must have the same length")
    for k in ("use_linear_projection", "center_input_sample", "flip_sin_to_cos"):
        if not isinstance(c[k], bool):
            raise ValueError(f"{k}={c[k]!r} is not supported (only a bool)")


class CrossAttention(nn.Module):
    """diffusers' Attention(query_dim, cross_attention_dim, heads, dim_head) with
    bias=False, out_bias=True, run by AttnProcessor on 3-D (batch, tokens, dim) input."""

    def __init__(self, dim, heads, dim_head, context_dim=None):
        super().__init__()
        inner = heads * dim_head
        kv = context_dim if context_dim is not None else dim
        self.heads, self.dim_head = heads, dim_head
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(kv, inner, bias=False)
        self.to_v = nn.Linear(kv, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Dropout(0.0)])

    def forward(self, x, context=None, bias=None):
        """bias: None or an additive (batch, 1, key_tokens) bias on the scores."""
        b = x.shape[0]
        ctx = x if context is None else context
        q, k, v = self.to_q(x), self.to_k(ctx), self.to_v(ctx)

        def split(t):
            return t.reshape(b, t.shape[1], self.heads, self.dim_head).permute(0, 2, 1, 3)

        q, k, v = split(q), split(k), split(v)
        mask = None if bias is None else bias[:, None, :, :]  # (batch, 1 [heads], 1 [queries], keys)
        if unet2d.ATTENTION == "sdpa":
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            scores = torch.matmul(q, k.transpose(-1, -2)) * (self.dim_head ** -0.5)
            if mask is not None:
                scores = scores + mask
            o = torch.matmul(scores.softmax(dim=-1), v)
        o = o.permute(0, 2, 1, 3).reshape(b, x.shape[1], self.heads * self.dim_head)
        return self.to_out[0](o)


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * inner)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)  # exact (erf) gelu


class FeedForward(nn.Module):
    def __init__(self, dim, mult=4):
        super().__init__()
        inner = dim * mult
        self.net = nn.ModuleList([GEGLU(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class BasicTransformerBlock(nn.Module):
    """norm_type "layer_norm" (eps 1e-5, Transformer2DModel's default), GEGLU."""

    def __init__(self, dim, heads, dim_head, context_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn1 = CrossAttention(dim, heads, dim_head)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.attn2 = CrossAttention(dim, heads, dim_head, context_dim)
        self.norm3 = nn.LayerNorm(dim, eps=1e-5)
        self.ff = FeedForward(dim)

    def forward(self, x, context, context_bias):
        x = x + self.attn1(self.norm1(x))  # self-attention: never masked here
        x = x + self.attn2(self.norm2(x), context, context_bias)
        return x + self.ff(self.norm3(x))


class Transformer2D(nn.Module):
    """diffusers' Transformer2DModel on continuous (batch, C, H, W) input."""

    def __init__(self, heads, dim_head, ch, layers, context_dim, groups, linear):
        super().__init__()
        inner = heads * dim_head
        self.linear = linear
        self.norm = nn.GroupNorm(groups, ch, eps=1e-6)
        if linear:
            self.proj_in = nn.Linear(ch, inner)
        else:
            self.proj_in = nn.Conv2d(ch, inner, 1)
        self.transformer_blocks = nn.ModuleList(
            [BasicTransformerBlock(inner, heads, dim_head, context_dim) for _ in range(layers)])
        if linear:
            self.proj_out = nn.Linear(inner, ch)
        else:
            self.proj_out = nn.Conv2d(inner, ch, 1)

    def forward(self, x, context, context_bias):
        b, _, hh, ww = x.shape
        residual = x
        h = self.norm(x)
        if self.linear:
            # flatten to tokens (row-major over H, W), then project
            h = self.proj_in(h.permute(0, 2, 3, 1).reshape(b, hh * ww, -1))
        else:
            # project as a 1x1 conv, then flatten
            h = self.proj_in(h)
            h = h.permute(0, 2, 3, 1).reshape(b, hh * ww, h.shape[1])
        for blk in self.transformer_blocks:
            h = blk(h, context, context_bias)
        if self.linear:
            h = self.proj_out(h)
            h = h.reshape(b, hh, ww, -1).permute(0, 3, 1, 2)
        else:
            h = h.reshape(b, hh, ww, -1).permute(0, 3, 1, 2)
            h = self.proj_out(h)
        return h + residual


def _upsample(up, x, size):
    if size is None:
        return up(x)
    return up.conv(F.interpolate(x, size=size, mode="nearest"))


class CrossAttnDown(nn.Module):
    """CrossAttnDownBlock2D (cross=True) or DownBlock2D (cross=False)."""

    def __init__(self, cross, layers, cin, cout, temb, add_down, groups, eps, pad,
                 heads, tlayers, context_dim, linear):
        super().__init__()
        # Registration order as in diffusers (attentions before resnets).
        if cross:
            self.attentions = nn.ModuleList(
                [Transformer2D(heads, cout // heads, cout, tlayers, context_dim, groups, linear)
                 for _ in range(layers)])
        else:
            self.attentions = None
        self.resnets = nn.ModuleList(
            [Resnet(cin if i == 0 else cout, cout, temb, groups, eps) for i in range(layers)])
        self.downsamplers = nn.ModuleList([Downsample(cout, pad)]) if add_down else None

    def forward(self, h, temb, context, bias):
        out = ()
        for i, r in enumerate(self.resnets):
            h = r(h, temb)
            if self.attentions is not None:
                h = self.attentions[i](h, context, bias)
            out += (h,)
        if self.downsamplers is not None:
            h = self.downsamplers[0](h)
            out += (h,)
        return h, out


class CrossAttnUp(nn.Module):
    """CrossAttnUpBlock2D (cross=True) or UpBlock2D (cross=False)."""

    def __init__(self, cross, layers, cin, prev, cout, temb, add_up, groups, eps,
                 heads, tlayers, context_dim, linear):
        super().__init__()
        if cross:
            self.attentions = nn.ModuleList(
                [Transformer2D(heads, cout // heads, cout, tlayers, context_dim, groups, linear)
                 for _ in range(layers)])
        else:
            self.attentions = None
        rs = []
        for i in range(layers):
            skip = cin if i == layers - 1 else cout
            rin = prev if i == 0 else cout
            rs.append(Resnet(rin + skip, cout, temb, groups, eps))
        self.resnets = nn.ModuleList(rs)
        self.upsamplers = nn.ModuleList([Upsample(cout)]) if add_up else None

    def forward(self, h, skips, temb, context, bias, upsample_size=None):
        for i, r in enumerate(self.resnets):
            h = torch.cat([h, skips[-1]], dim=1)
            skips = skips[:-1]
            h = r(h, temb)
            if self.attentions is not None:
                h = self.attentions[i](h, context, bias)
        if self.upsamplers is not None:
            h = _upsample(self.upsamplers[0], h, upsample_size)
        return h


class CrossAttnMid(nn.Module):
    """UNetMidBlock2DCrossAttn with num_layers=1."""

    def __init__(self, ch, temb, groups, eps, scale, heads, tlayers, context_dim, linear):
        super().__init__()
        self.attentions = nn.ModuleList(
            [Transformer2D(heads, ch // heads, ch, tlayers, context_dim, groups, linear)])
        self.resnets = nn.ModuleList(
            [Resnet(ch, ch, temb, groups, eps, scale), Resnet(ch, ch, temb, groups, eps, scale)])

    def forward(self, h, temb, context, bias):
        h = self.resnets[0](h, temb)
        h = self.attentions[0](h, context, bias)
        return self.resnets[1](h, temb)


class UNet2DCondition(nn.Module):
    def __init__(self, **cfg):
        super().__init__()
        c = dict(DEFAULTS)
        for k in cfg:
            if k not in c:
                raise KeyError(k)
        c.update(cfg)
        for k in ("down_block_types", "up_block_types", "block_out_channels"):
            c[k] = list(c[k])
        check_config(c)
        self.config = c
        boc = c["block_out_channels"]
        n = len(boc)
        temb = c["time_embedding_dim"] or boc[0] * 4
        groups, eps = c["norm_num_groups"], c["norm_eps"]
        # UNet2DConditionModel's attention_head_dim is the number of heads
        # (num_attention_heads = num_attention_heads or attention_head_dim); the
        # blocks then use head dim = channels // heads.
        heads = c["attention_head_dim"]
        tl, ctx, lin, lpb = (c["transformer_layers_per_block"], c["cross_attention_dim"],
                             c["use_linear_projection"], c["layers_per_block"])
        # Registration order as in diffusers: conv_in, time_embedding,
        # class_embedding, down_blocks, up_blocks, mid_block, conv_norm_out, conv_out.
        self.conv_in = nn.Conv2d(c["in_channels"], boc[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(boc[0], temb)
        if c["class_embed_type"] == "projection":
            self.class_embedding = TimestepEmbedding(c["projection_class_embeddings_input_dim"], temb)
        elif c["num_class_embeds"] is not None:
            self.class_embedding = nn.Embedding(c["num_class_embeds"], temb)
        else:
            self.class_embedding = None
        self.down_blocks = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        out = boc[0]
        for i, t in enumerate(c["down_block_types"]):
            cin, out = out, boc[i]
            self.down_blocks.append(CrossAttnDown(
                t == "CrossAttnDownBlock2D", lpb, cin, out, temb, i < n - 1, groups, eps,
                c["downsample_padding"], heads, tl, ctx, lin))
        rev = list(reversed(boc))
        out = rev[0]
        for i, t in enumerate(c["up_block_types"]):
            prev, out = out, rev[i]
            cin = rev[min(i + 1, n - 1)]
            self.up_blocks.append(CrossAttnUp(
                t == "CrossAttnUpBlock2D", lpb + 1, cin, prev, out, temb, i < n - 1, groups, eps,
                heads, tl, ctx, lin))
        if c["mid_block_type"] is not None:
            self.mid_block = CrossAttnMid(boc[-1], temb, groups, eps, c["mid_block_scale_factor"],
                                          heads, tl, ctx, lin)
        else:
            self.mid_block = None
        self.conv_norm_out = nn.GroupNorm(groups, boc[0], eps=eps)
        self.conv_out = nn.Conv2d(boc[0], c["out_channels"], 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states, class_labels=None,
                encoder_attention_mask=None, taps=None):
        """encoder_attention_mask: (batch, key_tokens), 1 = keep, 0 = discard.
        As in diffusers it becomes the additive bias (1 - mask) * -10000 on the
        cross-attention scores (attn2 only)."""
        c = self.config
        nup = sum(1 for b in self.up_blocks if b.upsamplers is not None)
        forward_size = any(d % (2 ** nup) != 0 for d in sample.shape[-2:])
        bias = None
        if encoder_attention_mask is not None:
            bias = ((1 - encoder_attention_mask.to(sample.dtype)) * -10000.0).unsqueeze(1)
        if c["center_input_sample"]:
            sample = 2 * sample - 1.0
        t = torch.as_tensor(timestep)
        if t.ndim == 0:
            t = t[None]
        t = t.expand(sample.shape[0])
        # Timesteps computes in float32; diffusers casts to the sample's dtype.
        t_emb = timestep_embedding(t, c["block_out_channels"][0], c["flip_sin_to_cos"], c["freq_shift"])
        emb = self.time_embedding(t_emb.to(sample.dtype))
        if self.class_embedding is not None:
            if class_labels is None:
                raise ValueError("class_labels should be provided when num_class_embeds > 0")
            emb = emb + self.class_embedding(class_labels).to(sample.dtype)
        ehs = encoder_hidden_states
        h = self.conv_in(sample)
        if taps is not None:
            taps["conv_in"] = h
        skips = (h,)
        for i, b in enumerate(self.down_blocks):
            h, s = b(h, emb, ehs, bias)
            skips += s
            if taps is not None:
                taps[f"down_blocks.{i}"] = h
        if self.mid_block is not None:
            h = self.mid_block(h, emb, ehs, bias)
            if taps is not None:
                taps["mid_block"] = h
        for i, b in enumerate(self.up_blocks):
            k = len(b.resnets)
            res = skips[-k:]
            skips = skips[:-k]
            size = skips[-1].shape[2:] if (forward_size and i < len(self.up_blocks) - 1) else None
            h = b(h, res, emb, ehs, bias, size)
            if taps is not None:
                taps[f"up_blocks.{i}"] = h
        return self.conv_out(F.silu(self.conv_norm_out(h)))
