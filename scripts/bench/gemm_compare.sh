#!/usr/bin/env bash
# Compares the toolkit's GEMM with torch.mm (Debian's python3-torch) on n×n
# float32 matrices, on one and on two threads, alternating the two in each
# round (each the median of 40 timed multiplies after five warm-ups), and
# prints GFLOP/s and the ratio Go/PyTorch (above 1: Go faster),
# then the median ratio of each thread count and size.
#
#   scripts/bench/gemm_compare.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
tmp=$(mktemp -d)
go build -o "$tmp/gogemm" ./scripts/bench/gogemm
for threads in 1 2; do
	for n in 256 512 1024; do
		ratios=()
		for r in $(seq "$rounds"); do
			# Both sides: five warm-up multiplies, then the median of 40.
			g=$(GOMAXPROCS=$threads "$tmp/gogemm" -reps 40 "$n" | sed 's/.*gflops=//')
			p=$(/usr/bin/python3 scripts/bench/torch_gemm.py --threads "$threads" --reps 40 "$n" | sed 's/.*gflops=//')
			ratio=$(awk -v g="$g" -v p="$p" 'BEGIN {printf "%.3f", g / p}')
			ratios+=("$ratio")
			echo "threads $threads n $n round $r: go $g GFLOP/s  pytorch $p GFLOP/s  ratio $ratio"
		done
		median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}')
		echo "RESULT gemm_ratio_threads${threads}_n${n}_median $median"
	done
done
