# Sourced by the comparison scripts after setting py (the peer's Python):
#
#   . scripts/bench/openblas_core.sh
#
# OpenBLAS (the BLAS behind Debian's python3-torch, libopenblas0-pthread)
# picks its kernels from the CPU's model number, which some virtual
# machines hide; it then falls back to its SSE3 kernels ("Prescott": 36
# GFLOP/s on a 1024² product on a 2-core Sapphire Rapids VM, against 178
# with its AVX-512 ones). Unless OPENBLAS_CORETYPE is set, a peer that
# reports Prescott on a CPU with AVX-512 (AVX2) runs with SkylakeX
# (Haswell), as a user who noticed would set it; the scripts print it in
# their header (peer_note).
peer_note=""
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
	core=$(OPENBLAS_VERBOSE=2 "$py" -c 'import torch; torch.mm(torch.ones(64, 64), torch.ones(64, 64))' 2>&1 | sed -n 's/^Core: //p' | head -1 || true)
	if [ "$core" = Prescott ]; then
		if grep -qw avx512f /proc/cpuinfo; then
			export OPENBLAS_CORETYPE=SkylakeX
		elif grep -qw avx2 /proc/cpuinfo; then
			export OPENBLAS_CORETYPE=Haswell
		fi
	fi
fi
# (An if, not `[ … ] && …`: as the file's last command, a false test
# would make the sourcing fail, and a caller under set -e exit silently.)
if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
	peer_note=", OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"
fi
