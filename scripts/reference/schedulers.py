"""An independent numpy reference of diffusers' noise schedules and samplers.

Written from diffusers' scheduling_ddpm.py, scheduling_ddim.py,
scheduling_dpmsolver_multistep.py and scheduling_euler_discrete.py (their
defaults, and the config keys steps_offset, set_alpha_to_one,
use_karras_sigmas and final_sigmas_type) without importing diffusers, to produce the fixtures
the Go package diffusion is tested against. Betas follow diffusers' float32
construction; everything after that is float64 here.
"""

import math

import numpy as np
import torch


def betas(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear", rescale=False):
    T = num_train_timesteps
    if beta_schedule == "linear":
        b = torch.linspace(beta_start, beta_end, T, dtype=torch.float32)
    elif beta_schedule == "scaled_linear":
        b = torch.linspace(beta_start ** 0.5, beta_end ** 0.5, T, dtype=torch.float32) ** 2
    elif beta_schedule == "squaredcos_cap_v2":
        def ab(t):
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
        b = torch.tensor([min(1 - ab((i + 1) / T) / ab(i / T), 0.999) for i in range(T)], dtype=torch.float32)
    elif beta_schedule == "sigmoid":
        x = torch.linspace(-6, 6, T)
        b = torch.sigmoid(x) * (beta_end - beta_start) + beta_start
    else:
        raise ValueError(beta_schedule)
    if rescale:
        a = 1.0 - b
        acp = torch.cumprod(a, dim=0)
        s = acp.sqrt()
        s0, sT = s[0].clone(), s[-1].clone()
        s -= sT
        s *= s0 / (s0 - sT)
        abar = s ** 2
        a = abar[1:] / abar[:-1]
        a = torch.cat([abar[0:1], a])
        b = 1 - a
    return b.numpy().astype(np.float64)


def alphas_cumprod(b):
    return np.cumprod(1.0 - b)


def timesteps(sampler, n, T=1000, spacing=None, offset=0):
    """The spaced timesteps; steps_offset is added under leading spacing."""
    ts = _timesteps(sampler, n, T, spacing)
    if (spacing or ("leading" if sampler in ("ddpm", "ddim") else "linspace")) == "leading":
        ts = ts + offset
    return ts


def sigma_to_t(sigma, log_sigmas):
    """diffusers' _sigma_to_t: log-sigma interpolation between training steps."""
    log_sigma = np.log(np.maximum(sigma, 1e-10))
    dists = log_sigma - log_sigmas[:, np.newaxis]
    low_idx = np.cumsum((dists >= 0), axis=0).argmax(axis=0).clip(max=log_sigmas.shape[0] - 2)
    high_idx = low_idx + 1
    low, high = log_sigmas[low_idx], log_sigmas[high_idx]
    w = np.clip((low - log_sigma) / (low - high), 0, 1)
    return ((1 - w) * low_idx + w * high_idx).reshape(np.shape(sigma))


def karras(sigma_min, sigma_max, n, rho=7.0):
    ramp = np.linspace(0, 1, n)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + ramp * (lo - hi)) ** rho


def sigma_steps(sampler, ts, acp, n, use_karras=False, final="zero", cosine=False):
    """Timesteps and sigmas (with the final one) of DPM-Solver++ or Euler."""
    sig_all = ((1 - acp) / acp) ** 0.5
    log_sig = np.log(sig_all)
    if use_karras:
        if sampler == "dpmpp2m":
            ins = np.flip(sig_all)
            ks = karras(ins[-1], ins[0], n)
            ts = np.array([sigma_to_t(k, log_sig) for k in ks])
            # diffusers rounds except for the cosine schedule, whose int64
            # cast then truncates.
            ts = np.trunc(ts) if cosine else ts.round()
        else:
            ins = np.interp(ts, np.arange(len(sig_all)), sig_all)
            ks = karras(ins[-1], ins[0], n)
            ts = np.array([sigma_to_t(k, log_sig) for k in ks]).astype(np.float32).astype(np.float64)
        sig = ks
    else:
        sig = np.interp(ts, np.arange(len(sig_all)), sig_all)
    last = sig_all[0] if final == "sigma_min" else 0.0
    return ts, np.concatenate([sig, [last]]).astype(np.float32).astype(np.float64)


def _timesteps(sampler, n, T=1000, spacing=None):
    if sampler in ("ddpm", "ddim"):
        spacing = spacing or "leading"
        if spacing == "linspace":
            return np.linspace(0, T - 1, n).round()[::-1].astype(np.int64)
        if spacing == "leading":
            r = T // n
            return (np.arange(0, n) * r).round()[::-1].astype(np.int64)
        if spacing == "trailing":
            r = T / n
            return np.round(np.arange(T, 0, -r)).astype(np.int64) - 1
    if sampler == "dpmpp2m":
        spacing = spacing or "linspace"
        if spacing == "linspace":
            return np.linspace(0, T - 1, n + 1).round()[::-1][:-1].astype(np.int64)
        if spacing == "leading":
            r = T // (n + 1)
            return (np.arange(0, n + 1) * r).round()[::-1][:-1].astype(np.int64)
        if spacing == "trailing":
            r = T / n
            return np.arange(T, 0, -r).round().astype(np.int64) - 1
    if sampler == "euler":
        spacing = spacing or "linspace"
        if spacing == "linspace":
            return np.linspace(0, T - 1, n, dtype=np.float32)[::-1].astype(np.float64)
        if spacing == "leading":
            r = T // n
            return (np.arange(0, n) * r).round()[::-1].astype(np.float32).astype(np.float64)
        if spacing == "trailing":
            r = T / n
            return (np.arange(T, 0, -r)).round().astype(np.float32).astype(np.float64) - 1
    raise ValueError((sampler, spacing))


def to_x0(out, x, a, s, pred):
    """x = a·x0 + s·eps."""
    if pred == "epsilon":
        return (x - s * out) / a
    if pred == "sample":
        return out
    if pred == "v_prediction":
        return a * x - s * out
    raise ValueError(pred)


def to_eps(out, x, a, s, pred):
    if pred == "epsilon":
        return out
    if pred == "sample":
        return (x - a * out) / s
    if pred == "v_prediction":
        return a * out + s * x
    raise ValueError(pred)


def ddpm(model, x, acp, n, noise, pred="epsilon", variance="fixed_small", clip=True, spacing=None, offset=0):
    ts = timesteps("ddpm", n, len(acp), spacing, offset)
    traj = [x.copy()]
    for i, t in enumerate(ts):
        out = model(x, float(t))
        prev = ts[i + 1] if i + 1 < len(ts) else -1
        a_t = acp[t]
        a_p = acp[prev] if prev >= 0 else 1.0
        b_t, b_p = 1 - a_t, 1 - a_p
        cur_a = a_t / a_p
        cur_b = 1 - cur_a
        x0 = to_x0(out, x, a_t ** 0.5, b_t ** 0.5, pred)
        if clip:
            x0 = np.clip(x0, -1, 1)
        mean = (a_p ** 0.5 * cur_b) / b_t * x0 + cur_a ** 0.5 * b_p / b_t * x
        if t > 0:
            var = max((1 - a_p) / (1 - a_t) * cur_b, 1e-20) if variance == "fixed_small" else cur_b
            mean = mean + var ** 0.5 * noise[i]
        x = mean
        traj.append(x.copy())
    return ts, traj


def ddim(model, x, acp, n, noise, pred="epsilon", eta=0.0, clip=True, spacing=None, offset=0, alpha_one=True):
    T = len(acp)
    ts = timesteps("ddim", n, T, spacing, offset)
    final_alpha = 1.0 if alpha_one else acp[0]
    traj = [x.copy()]
    for i, t in enumerate(ts):
        out = model(x, float(t))
        prev = t - T // n
        a_t = acp[t]
        a_p = acp[prev] if prev >= 0 else final_alpha
        b_t = 1 - a_t
        x0 = to_x0(out, x, a_t ** 0.5, b_t ** 0.5, pred)
        eps = to_eps(out, x, a_t ** 0.5, b_t ** 0.5, pred)
        if clip:
            x0 = np.clip(x0, -1, 1)
        var = (1 - a_p) / b_t * (1 - a_t / a_p)
        std = eta * var ** 0.5
        x = a_p ** 0.5 * x0 + (1 - a_p - std ** 2) ** 0.5 * eps
        if eta > 0:
            x = x + std * noise[i]
        traj.append(x.copy())
    return ts, traj


def sigmas_for(ts, acp):
    sig = ((1 - acp) / acp) ** 0.5
    s = np.interp(ts, np.arange(len(sig)), sig)
    return np.concatenate([s, [0.0]]).astype(np.float32).astype(np.float64)


def dpmpp2m(model, x, acp, n, pred="epsilon", spacing=None, offset=0, use_karras=False, final_type="zero", cosine=False):
    ts = timesteps("dpmpp2m", n, len(acp), spacing, offset)
    ts, sig = sigma_steps("dpmpp2m", ts.astype(np.float64), acp, n, use_karras, final_type, cosine)

    def a_s(sigma):
        a = 1 / (sigma ** 2 + 1) ** 0.5
        return a, sigma * a

    traj = [x.copy()]
    outs = []
    lower = 0
    for i, t in enumerate(ts):
        out = model(x, float(t))
        a, s = a_s(sig[i])
        x0 = to_x0(out, x, a, s, pred)
        outs.append(x0)
        # lower_order_final: first order at the end towards 0, and towards
        # sigma_min below 15 steps.
        final = i == len(ts) - 1 and (len(ts) < 15 or final_type == "zero")
        second_low = i == len(ts) - 2 and len(ts) < 15
        a_t, s_t = a_s(sig[i + 1])
        a_0, s_0 = a_s(sig[i])
        with np.errstate(divide="ignore"):
            lam_t = np.log(a_t) - np.log(s_t)
        lam_0 = np.log(a_0) - np.log(s_0)
        h = lam_t - lam_0
        if lower < 1 or final:
            x = (s_t / s_0) * x - (a_t * (np.exp(-h) - 1.0)) * x0
        else:
            a_1, s_1 = a_s(sig[i - 1])
            lam_1 = np.log(a_1) - np.log(s_1)
            r0 = (lam_0 - lam_1) / h
            d0, d1 = outs[-1], (1.0 / r0) * (outs[-1] - outs[-2])
            x = (s_t / s_0) * x - (a_t * (np.exp(-h) - 1.0)) * d0 - 0.5 * (a_t * (np.exp(-h) - 1.0)) * d1
        _ = second_low
        lower = min(lower + 1, 2)
        traj.append(x.copy())
    return ts, traj


def euler(model, noise0, acp, n, pred="epsilon", spacing=None, offset=0, use_karras=False, final_type="zero"):
    ts = timesteps("euler", n, len(acp), spacing, offset)
    ts, sig = sigma_steps("euler", ts, acp, n, use_karras, final_type)
    init = sig.max() if (spacing or "linspace") in ("linspace", "trailing") else (sig.max() ** 2 + 1) ** 0.5
    x = noise0 * init
    traj = [x.copy()]
    for i, t in enumerate(ts):
        s = sig[i]
        out = model(x / (s ** 2 + 1) ** 0.5, float(t))
        if pred == "epsilon":
            x0 = x - s * out
        elif pred == "v_prediction":
            x0 = out * (-s / (s ** 2 + 1) ** 0.5) + x / (s ** 2 + 1)
        else:
            x0 = out
        d = (x - x0) / s
        x = x + d * (sig[i + 1] - s)
        traj.append(x.copy())
    return ts, traj
