#!/bin/sh
# Trains a tiny model with the toolkit, runs it with predict, and checks in
# PyTorch that the model directory loads strictly and computes the same
# output (check_saved_model.py). Run from the repository root; prints what
# check_saved_model.out holds.
set -e
dir=$(mktemp -d)
go run ./experiments/train -config mnist_tiny -data mnist -steps 20 -batch 8 -sample-every 0 -quiet -out "$dir/run" >/dev/null
/usr/bin/python3 - "$dir/input.npz" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(5)
np.savez(sys.argv[1], sample=rng.standard_normal((3, 1, 32, 32)).astype(np.float32),
         timestep=np.array([10, 500, 990]), class_labels=np.array([0, 3, 10]))
PY
go run ./experiments/predict -model "$dir/run/model" -input "$dir/input.npz" -output "$dir/go.npz" >/dev/null
ls "$dir/run/model"
/usr/bin/python3 scripts/reference/check_saved_model.py "$dir/run/model" "$dir/input.npz" "$dir/go.npz"
rm -rf "$dir"
