#!/usr/bin/env bash
# Compares the toolkit's GEMM with torch.mm (the system BLAS behind the
# installed PyTorch; on Debian, python3-torch with libopenblas0-pthread) on
# every GEMM path the CPU has, on 1 and 2 threads: n×n float32 products
# (each the median of 40 timed multiplies after five warm-ups) and the
# products of the mnist U-Net's Clockwork steps at batch 1, 16, 64 and 100
# (gogemm -record: every shape the shell, core, adaptor and attention
# multiply, replayed as the model runs them; torch.bmm for products a
# layer runs side by side). Go and PyTorch alternate in each of ROUNDS
# rounds; it prints each pair's GFLOP/s (or a batch's total ms) and the
# ratio (above 1: Go faster), then the median ratio of each path, thread
# count and size or batch. With -v the Go side also prints its share of the
# path's measured FMA ceiling (simd.MeasurePeak).
#
#   scripts/bench/gemm_compare.sh [ROUNDS]
#
# Environment: PATHS (default: avx512 avx2, those the CPU lacks skipped),
# THREADS (default: 1 2), SIZES (default: 256 512 1024), BATCHES (default:
# 1,16,64,100), PYTHON (default: /usr/bin/python3), GOGEMM (a prebuilt
# gogemm binary, for machines without Go; it then needs SHAPES, a shapes
# file written by gogemm -record), OUT (a directory for the raw logs).
# The PyTorch side runs with OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and
# MKL_NUM_THREADS set to the thread count, as its users set them: Debian's
# build does not tell OpenBLAS its thread count, and OpenBLAS's own threads
# would otherwise compete with PyTorch's.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
paths=${PATHS:-avx512 avx2}
threads_list=${THREADS:-1 2}
sizes=${SIZES:-256 512 1024}
batches=${BATCHES:-1,16,64,100}
py=${PYTHON:-/usr/bin/python3}
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
bin=${GOGEMM:-}
if [ -z "$bin" ]; then
	bin=$out/gogemm
	go build -o "$bin" ./scripts/bench/gogemm
fi
shapes=${SHAPES:-}
if [ -z "$shapes" ]; then
	shapes=$out/shapes.txt
	"$bin" -record "$shapes" -batch "$batches" >/dev/null
fi
echo "# $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs; PyTorch $("$py" -c 'import torch; print(torch.__version__)')"
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
for p in $paths; do
	if ! CLOCKWORK_GEMM=$p "$bin" -reps 1 8 2>&1 | grep -q "path=$p "; then
		echo "# path $p: not available on this CPU, skipped"
		continue
	fi
	for t in $threads_list; do
		env=(CLOCKWORK_GEMM="$p" GOMAXPROCS="$t")
		tenv=(OPENBLAS_NUM_THREADS="$t" OMP_NUM_THREADS="$t" MKL_NUM_THREADS="$t")
		env "${env[@]}" "$bin" -v -reps 1 8 | grep '^#' || true
		: >"$out/ratios_${p}_t$t"
		for r in $(seq "$rounds"); do
			gs=$out/go_${p}_t${t}_r$r.txt
			ps=$out/torch_${p}_t${t}_r$r.txt
			env "${env[@]}" "$bin" -v -reps 40 $sizes >"$gs"
			env "${tenv[@]}" "$py" scripts/bench/torch_gemm.py --threads "$t" --reps 40 $sizes >"$ps"
			env "${env[@]}" "$bin" -v -reps 5 -shapes "$shapes" | grep -v '^#' >>"$gs"
			env "${tenv[@]}" "$py" scripts/bench/torch_gemm.py --threads "$t" --reps 5 --shapes "$shapes" >>"$ps"
			for n in $sizes; do
				g=$(grep "^n=$n " "$gs" | sed 's/.*gflops=\([0-9.]*\).*/\1/')
				s=$(grep "^n=$n " "$gs" | sed -n 's/.*share=\([0-9.]*\).*/\1/p')
				q=$(grep "^n=$n " "$ps" | sed 's/.*gflops=//')
				ratio=$(awk -v g="$g" -v q="$q" 'BEGIN {printf "%.3f", g / q}')
				echo "n$n $ratio" >>"$out/ratios_${p}_t$t"
				echo "$p threads $t n $n round $r: go $g GFLOP/s (share of ceiling $s)  pytorch $q GFLOP/s  ratio $ratio"
			done
			for b in ${batches//,/ }; do
				g=$(grep "^batch=$b total" "$gs" | sed 's/.*ms=//')
				q=$(grep "^batch=$b total" "$ps" | sed 's/.*ms=//')
				ratio=$(awk -v g="$g" -v q="$q" 'BEGIN {printf "%.3f", q / g}')
				echo "batch$b $ratio" >>"$out/ratios_${p}_t$t"
				echo "$p threads $t model batch $b round $r: go $g ms  pytorch $q ms  ratio $ratio"
			done
		done
		for key in $(for n in $sizes; do echo "n$n"; done) $(for b in ${batches//,/ }; do echo "batch$b"; done); do
			m=$(awk -v k="$key" '$1 == k {print $2}' "$out/ratios_${p}_t$t" | median)
			echo "RESULT gemm_ratio_${p}_threads${t}_${key}_median $m"
		done
	done
done
echo "# raw logs in $out"
