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
    path = os.path.join(os.path.dirname(__file__), "..", "..", "diffusion", "testdata", "schedulers.npz")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path}")


if __name__ == "__main__":
    main()
