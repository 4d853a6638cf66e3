#!/usr/bin/env bash
# Compares the toolkit's GEMM with torch.mm (the system BLAS behind the
# installed PyTorch; on Debian, python3-torch with libopenblas0-pthread) on
# every GEMM path the CPU has, on 1 and 2 threads: n×n float32 products
# (each the median of 40 timed multiplies after five warm-ups and at least
# 0.3 s of them, on both sides: a core that has idled runs slower until its
# clock has risen) and the products of the mnist U-Net's Clockwork steps
# at batch 1, 16, 64 and 100
# (gogemm -record: every shape the shell, core, adaptor and attention
# multiply, replayed as the model runs them; torch.bmm for products a
# layer runs side by side). Go and PyTorch alternate in each of ROUNDS
# rounds; it prints each pair's GFLOP/s (or a batch's total ms) and the
# ratio (above 1: Go faster), then the median ratio of each path, thread
# count and size or batch, and the Go side's share of the path's FMA
# ceiling on that many threads (simd.MeasurePeak, measured once per path
# and thread count).
#
#   scripts/bench/gemm_compare.sh [ROUNDS]
#
# Environment (relative paths are taken from the calling directory):
# PATHS (default: avx512 avx2, those the CPU lacks skipped),
# THREADS (default: 1 2), SIZES (default: 256 512 1024), BATCHES (default:
# 1,16,64,100), PYTHON (default: /usr/bin/python3), GOGEMM (a prebuilt
# gogemm binary, for machines without Go; it then needs SHAPES, a shapes
# file written by gogemm -record), OUT (a directory for the raw logs).
# The PyTorch side runs with OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and
# MKL_NUM_THREADS set to the thread count, as its users set them: Debian's
# build does not tell OpenBLAS its thread count, and OpenBLAS's own threads
# would otherwise compete with PyTorch's; and with OPENBLAS_CORETYPE set
# where OpenBLAS misreads a virtual machine's CPU (openblas_core.sh).
set -euo pipefail
# Paths given relative to where the script was called from.
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
[ -n "${GOGEMM:-}" ] && GOGEMM=$(abs "$GOGEMM")
[ -n "${SHAPES:-}" ] && SHAPES=$(abs "$SHAPES")
[ -n "${OUT:-}" ] && OUT=$(abs "$OUT")
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
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
[ -x "$bin" ] || { echo "gemm_compare: no gogemm binary at $bin" >&2; exit 1; }
[ -f "$shapes" ] || { echo "gemm_compare: no shapes file at $shapes" >&2; exit 1; }
for b in ${batches//,/ }; do
	grep -q "^$b " "$shapes" || { echo "gemm_compare: batch $b is not in $shapes" >&2; exit 1; }
done
. scripts/bench/openblas_core.sh
echo "# $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs; PyTorch $("$py" -c 'import torch; print(torch.__version__)')$peer_note"
for p in $paths; do
	if ! CLOCKWORK_GEMM=$p "$bin" -reps 1 8 2>&1 | grep -q "path=$p "; then
		echo "# path $p: not available on this CPU, skipped"
		continue
	fi
	for t in $threads_list; do
		env=(CLOCKWORK_GEMM="$p" GOMAXPROCS="$t")
		tenv=(OPENBLAS_NUM_THREADS="$t" OMP_NUM_THREADS="$t" MKL_NUM_THREADS="$t")
		# The machine, the blocking and the path's ceiling on t threads,
		# measured once here (simd.MeasurePeak): each round's share of it.
		hdr=$(env "${env[@]}" "$bin" -v -reps 1 8 | grep '^#' || true)
		echo "$hdr"
		ceiling=$(echo "$hdr" | sed -n 's/.*ceiling \([0-9.]*\) GFLOP.*/\1/p')
		: >"$out/ratios_${p}_t$t"
		for r in $(seq "$rounds"); do
			gs=$out/go_${p}_t${t}_r$r.txt
			ps=$out/torch_${p}_t${t}_r$r.txt
			env "${env[@]}" "$bin" -reps 40 $sizes >"$gs"
			env "${tenv[@]}" "$py" scripts/bench/torch_gemm.py --threads "$t" --reps 40 $sizes >"$ps"
			env "${env[@]}" "$bin" -reps 5 -shapes "$shapes" >>"$gs"
			env "${tenv[@]}" "$py" scripts/bench/torch_gemm.py --threads "$t" --reps 5 --shapes "$shapes" >>"$ps"
			for n in $sizes; do
				g=$(grep "^n=$n " "$gs" | sed 's/.*gflops=\([0-9.]*\).*/\1/')
				s=$(awk -v g="$g" -v c="$ceiling" 'BEGIN {if (c > 0) printf "%.3f", g / c; else print "?"}')
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
		# The model's products where Go gains least: each line's median
		# ratio over the rounds, the five lowest.
		echo "# $p threads $t: lowest median ratios of the model's products (batch kind m n k count: Go/PyTorch GFLOP/s)"
		"$py" - "$out" "$p" "$t" "$rounds" <<-'EOF'
			import statistics, sys
			out, p, t, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
			def rates(f):
			    d = {}
			    for line in open(f):
			        kv = dict(x.split("=", 1) for x in line.split() if "=" in x)
			        if "kind" in kv:
			            d[tuple(kv[k] for k in ("batch", "kind", "m", "n", "k", "count"))] = float(kv["gflops"])
			    return d
			ratios = {}
			for r in range(1, rounds + 1):
			    g, q = rates(f"{out}/go_{p}_t{t}_r{r}.txt"), rates(f"{out}/torch_{p}_t{t}_r{r}.txt")
			    for key in g:
			        ratios.setdefault(key, []).append(g[key] / q[key])
			for m, key in sorted((statistics.median(v), k) for k, v in ratios.items())[:5]:
			    print(f"#   {' '.join(key)}: {m:.3f}")
		EOF

	done
done
echo "# raw logs in $out"
