"""Writes nn/testdata/segops.npz: PyTorch references for the segmentation ops
of package nn (nn/segops.go, nn/batchnorm.go, nn/segloss.go), computed in
float64 by torch on float32-representable inputs.

Every op with a tensor output is differentiated through sum(out * r) for a
random r of the output's shape; losses are differentiated directly. Keys are
"<op>.<what>":

    relu, sigmoid       x, r, y, dx
    maxpool             x (with deliberate ties), r, y, dx
    convt               x, w, b, r, y, dx, dw, db  (ConvTranspose2d(k=2, s=2))
    bn_train, bn_eval   x, gamma, beta, running_mean, running_var, r, y, dx,
                        dgamma, dbeta; bn_train also new_running_mean and
                        new_running_var (after one training-mode forward)
    wce                 z, labels, weights, loss, dz
    dice                z, labels, eps, loss, dz
    convt_init          in, out, bound: 1/sqrt(fan_in) with fan_in from
                        torch.nn.init._calculate_fan_in_and_fan_out on a
                        ConvTranspose2d(in, out, 2, 2) weight

Run from the repository root:

    /usr/bin/python3 scripts/reference/make_seg_fixtures.py
"""

import math
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "nn", "testdata", "segops.npz")


def f32(a):
    """A float64 tensor holding float32-representable values."""
    return torch.tensor(np.asarray(a, dtype=np.float32), dtype=torch.float64)


def param(a):
    return f32(a).requires_grad_(True)


def main():
    rng = np.random.default_rng(2015)
    out = {}

    def put(prefix, **arrays):
        for k, v in arrays.items():
            if isinstance(v, torch.Tensor):
                v = v.detach().numpy()
            out[prefix + "." + k] = np.asarray(v, dtype=np.float64)

    # ReLU and sigmoid.
    x0 = rng.standard_normal((2, 3, 4, 5))
    for name, fn in (("relu", torch.relu), ("sigmoid", torch.sigmoid)):
        x = param(x0 * 3)
        r = f32(rng.standard_normal((2, 3, 4, 5)))
        y = fn(x)
        (y * r).sum().backward()
        put(name, x=x, r=r, y=y, dx=x.grad)

    # 2x2 max pool, stride 2, with ties: values on a coarse grid so that many
    # windows hold their maximum twice (PyTorch routes the gradient to the
    # first in row-major order).
    x = param(np.round(rng.standard_normal((2, 3, 6, 8)) * 2) / 2)
    r = f32(rng.standard_normal((2, 3, 3, 4)))
    y = F.max_pool2d(x, 2, 2)
    (y * r).sum().backward()
    put("maxpool", x=x, r=r, y=y, dx=x.grad)

    # Transposed convolution, kernel 2, stride 2.
    x = param(rng.standard_normal((2, 3, 5, 4)))
    w = param(rng.standard_normal((3, 4, 2, 2)) * 0.5)
    b = param(rng.standard_normal(4))
    r = f32(rng.standard_normal((2, 4, 10, 8)))
    y = F.conv_transpose2d(x, w, b, stride=2)
    (y * r).sum().backward()
    put("convt", x=x, w=w, b=b, r=r, y=y, dx=x.grad, dw=w.grad, db=b.grad)

    # Batch norm, training and evaluation mode.
    xs = rng.standard_normal((3, 4, 5, 6)) * np.array([1, 2, 0.5, 3])[None, :, None, None] + np.array([0.5, -1, 2, 0])[None, :, None, None]
    g0, b0 = rng.standard_normal(4), rng.standard_normal(4)
    rm0, rv0 = rng.standard_normal(4) * 0.5, rng.uniform(0.5, 2, 4)
    r = rng.standard_normal((3, 4, 5, 6))
    for name, train in (("bn_train", True), ("bn_eval", False)):
        bn = torch.nn.BatchNorm2d(4, eps=1e-5, momentum=0.1).double()
        with torch.no_grad():
            bn.weight.copy_(f32(g0))
            bn.bias.copy_(f32(b0))
            bn.running_mean.copy_(f32(rm0))
            bn.running_var.copy_(f32(rv0))
        bn.train(train)
        x = param(xs)
        rr = f32(r)
        y = bn(x)
        (y * rr).sum().backward()
        arrays = dict(x=x, gamma=f32(g0), beta=f32(b0), running_mean=f32(rm0), running_var=f32(rv0), r=rr, y=y,
                      dx=x.grad, dgamma=bn.weight.grad, dbeta=bn.bias.grad)
        if train:
            arrays.update(new_running_mean=bn.running_mean, new_running_var=bn.running_var)
        put(name, **arrays)

    # Pixel-weighted cross-entropy (U-Net, Eq. 1).
    n, k, h, w_ = 2, 4, 5, 6
    z = param(rng.standard_normal((n, k, h, w_)) * 2)
    labels = rng.integers(0, k, (n, h, w_))
    weights = f32(rng.uniform(0.2, 3, (n, h, w_)))
    loss = (F.cross_entropy(z, torch.tensor(labels), reduction="none") * weights).mean()
    loss.backward()
    put("wce", z=z, labels=labels, weights=weights, loss=[loss.item()], dz=z.grad)

    # Soft Dice (V-Net), classes pooled over the whole batch.
    z = param(rng.standard_normal((n, k, h, w_)) * 2)
    labels = rng.integers(0, k, (n, h, w_))
    labels[:, :, :] = np.where(labels == 3, 0, labels)  # class 3 absent: its dice is eps/(Σp+eps)
    eps = 1.0
    p = torch.softmax(z, dim=1)
    y1 = F.one_hot(torch.tensor(labels), k).permute(0, 3, 1, 2).double()
    inter = (p * y1).sum(dim=(0, 2, 3))
    den = p.sum(dim=(0, 2, 3)) + y1.sum(dim=(0, 2, 3))
    loss = 1 - ((2 * inter + eps) / (den + eps)).mean()
    loss.backward()
    put("dice", z=z, labels=labels, eps=[eps], loss=[loss.item()], dz=z.grad)

    # The default initialisation bound of ConvTranspose2d's weight and bias.
    cin, cout = 6, 5
    ct = torch.nn.ConvTranspose2d(cin, cout, 2, stride=2)
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(ct.weight)
    put("convt_init", **{"in": [cin], "out": [cout], "bound": [1 / math.sqrt(fan_in)]})

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    np.savez(OUT, **out)
    print("wrote", os.path.normpath(OUT), len(out), "arrays")


if __name__ == "__main__":
    main()
