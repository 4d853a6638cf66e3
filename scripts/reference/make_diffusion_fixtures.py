"""Writes diffusion/testdata/schedulers.npz from the reference in schedulers.py:
schedule coefficients for every beta schedule (and zero-terminal-SNR
rescaling), sampler timesteps for every spacing and step count, and sampler
trajectories under a fixed deterministic toy model.

    /usr/bin/python3 scripts/reference/make_diffusion_fixtures.py
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import schedulers as S  # noqa: E402


def toy(x, t):
    """A deterministic stand-in for a denoiser, shared with the Go test."""
    return np.tanh(0.5 * x) * (t / 1000.0 + 0.1) + 0.05 * np.cos(0.01 * t)


def main():
    out = {}
    for sched in ["linear", "scaled_linear", "squaredcos_cap_v2", "sigmoid"]:
        for rescale in [False, True]:
            kw = dict(beta_schedule=sched, rescale=rescale)
            if sched == "scaled_linear":
                kw.update(beta_start=0.00085, beta_end=0.012)
            b = S.betas(**kw)
            key = f"{sched}.{int(rescale)}"
            out["betas." + key] = b
            out["acp." + key] = S.alphas_cumprod(b)
    for sampler, spacings in [("ddpm", ["leading", "trailing", "linspace"]), ("ddim", ["leading", "trailing", "linspace"]),
                              ("dpmpp2m", ["linspace", "leading", "trailing"]), ("euler", ["linspace", "leading", "trailing"])]:
        for sp in spacings:
            for n in [1000, 50, 20, 8, 4]:
                out[f"ts.{sampler}.{sp}.{n}"] = np.asarray(S.timesteps(sampler, n, spacing=sp), dtype=np.float64)
    acp = S.alphas_cumprod(S.betas())
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((2, 1, 3, 3))
    out["traj.init"] = x0
    for n in [20, 8, 4]:
        noise = rng.standard_normal((n, 2, 1, 3, 3))
        out[f"traj.noise.{n}"] = noise
        for pred in ["epsilon", "v_prediction", "sample"]:
            for name, run in [
                ("ddpm_small", lambda: S.ddpm(toy, x0, acp, n, noise, pred=pred)),
                ("ddpm_large", lambda: S.ddpm(toy, x0, acp, n, noise, pred=pred, variance="fixed_large")),
                ("ddim", lambda: S.ddim(toy, x0, acp, n, noise, pred=pred)),
                ("ddim_eta", lambda: S.ddim(toy, x0, acp, n, noise, pred=pred, eta=0.7, clip=False, spacing="trailing")),
                ("dpmpp2m", lambda: S.dpmpp2m(toy, x0, acp, n, pred=pred)),
                ("euler", lambda: S.euler(toy, x0, acp, n, pred=pred)),
            ]:
                _, traj = run()
                out[f"traj.{name}.{pred}.{n}"] = np.stack(traj)
    acp_cos = S.alphas_cumprod(S.betas(beta_schedule="squaredcos_cap_v2"))
    # Scheduler-config keys: steps_offset (leading), set_alpha_to_one false,
    # clip_sample false, use_karras_sigmas, final_sigmas_type sigma_min,
    # each as a whole trajectory (ε-prediction) with its timesteps.
    for n in [20, 8]:
        noise = out[f"traj.noise.{n}"]
        for name, run in [
            ("ddpm_offset", lambda: S.ddpm(toy, x0, acp, n, noise, offset=1)),
            ("ddim_offset_noone", lambda: S.ddim(toy, x0, acp, n, noise, offset=1, alpha_one=False)),
            ("ddim_noclip", lambda: S.ddim(toy, x0, acp, n, noise, clip=False)),
            ("dpmpp2m_karras", lambda: S.dpmpp2m(toy, x0, acp, n, use_karras=True)),
            ("dpmpp2m_sigmamin", lambda: S.dpmpp2m(toy, x0, acp, n, final_type="sigma_min")),
            ("dpmpp2m_karras_sigmamin", lambda: S.dpmpp2m(toy, x0, acp, n, use_karras=True, final_type="sigma_min")),
            ("dpmpp2m_leading_offset", lambda: S.dpmpp2m(toy, x0, acp, n, spacing="leading", offset=1)),
            ("euler_karras", lambda: S.euler(toy, x0, acp, n, use_karras=True)),
            ("euler_sigmamin", lambda: S.euler(toy, x0, acp, n, final_type="sigma_min")),
            ("euler_leading_offset_karras", lambda: S.euler(toy, x0, acp, n, spacing="leading", offset=1, use_karras=True)),
            ("dpmpp2m_karras_cosine", lambda: S.dpmpp2m(toy, x0, acp_cos, n, use_karras=True, cosine=True)),
        ]:
            ts, traj = run()
            out[f"cfg.{name}.{n}.ts"] = np.asarray(ts, dtype=np.float64)
            out[f"cfg.{name}.{n}.traj"] = np.stack(traj)
    path = os.path.join(os.path.dirname(__file__), "..", "..", "diffusion", "testdata", "schedulers.npz")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path}")


if __name__ == "__main__":
    main()
