package nn

import (
	"fmt"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The modes of a KVStore.
const (
	// AnchorRecord runs the anchor frames: each attends to the keys and
	// values of every anchor of its guidance branch (cross-frame
	// attention among the anchors), and the store keeps them.
	AnchorRecord = iota + 1
	// AnchorAttend runs other frames: each attends to its own keys and
	// values followed by the stored anchors' of its branch.
	AnchorAttend
)

// KVStore is the cache of FAIRY's anchor-based cross-frame attention (Wu
// et al., "FAIRY: Fast Parallelized Instruction-Guided Video-to-Video
// Synthesis", CVPR 2024, Sec. 3): the self-attention keys and values of
// the anchor frames, per attention layer and model evaluation, and of each
// guidance branch. A Transformer2D given a store replaces its
// self-attention's K and V by softmax(Q·[K, K_anc]ᵀ/√d)·[V, V_anc]'s.
//
// A batch of the model holds Branches groups of rows (the guidance
// branches, stacked as diffusion.Guided stacks them), each of Anchors rows
// when recording and of any number of frames when attending. Step says
// which model evaluation the next forward pass is; the caller sets it
// before each (diffusion.Options.Hook). Attending needs the record of the
// same layer and step.
type KVStore struct {
	Mode     int
	Anchors  int
	Branches int
	Step     int

	mu   sync.Mutex
	data map[string]map[int][]float32 // layer/k or layer/v → step → (B·A·L, d)
}

// NewKVStore returns an empty store recording anchors anchors in
// branches guidance branches.
func NewKVStore(anchors, branches int) (*KVStore, error) {
	if anchors < 1 || branches < 1 {
		return nil, fmt.Errorf("anchor attention: %d anchors in %d branches", anchors, branches)
	}
	return &KVStore{Mode: AnchorRecord, Anchors: anchors, Branches: branches, data: map[string]map[int][]float32{}}, nil
}

// Bytes returns the memory the cached keys and values take.
func (s *KVStore) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, steps := range s.data {
		for _, v := range steps {
			n += 4 * int64(len(v))
		}
	}
	return n
}

func (s *KVStore) put(key string, step int, v []float32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data[key] == nil {
		s.data[key] = map[int][]float32{}
	}
	s.data[key][step] = append([]float32(nil), v...)
}

func (s *KVStore) get(key string, step int) []float32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data[key][step]
}

// Tokens returns the keys per row a self-attention of l tokens per frame
// attends to under the store's mode: A·l when recording, l + A·l when
// attending.
func (s *KVStore) Tokens(l int) int {
	if s.Mode == AnchorRecord {
		return s.Anchors * l
	}
	return l + s.Anchors*l
}

// Extend returns x, the keys or values (n·l, d) of a self-attention layer
// named key, as the rows attend to them under the store's mode (n·Tokens(l),
// d), recording them when the store records. It has no gradient: anchor
// attention is for sampling.
func (s *KVStore) Extend(key string, x *G.Node, n, l int) *G.Node {
	mode, a, b := s.Mode, s.Anchors, s.Branches
	lk := s.Tokens(l)
	name := fmt.Sprintf("AnchorKV(%p,%s,mode=%d,n=%d,l=%d)", s, key, mode, n, l)
	kr := kernel{name: name, in: []int{2}, out: 2, wrt: []bool{false},
		shape: func(in []tensor.Shape) (tensor.Shape, error) {
			if in[0][0] != n*l || n%b != 0 || (mode == AnchorRecord && n != a*b) {
				return nil, fmt.Errorf("anchor attention %s: %v for %d rows of %d tokens in %d branches of %d anchors (mode %d)", key, in[0], n, l, b, a, mode)
			}
			return tensor.Shape{n * lk, in[0][1]}, nil
		},
		do: func(out []float32, in [][]float32, shapes []tensor.Shape) error {
			d := shapes[0][1]
			x := in[0]
			per := n / b // rows per branch
			row := l * d // values per row
			switch mode {
			case AnchorRecord:
				s.put(key, s.Step, x)
				for r := range n {
					br := r / per
					copy(out[r*lk*d:(r+1)*lk*d], x[br*a*row:(br+1)*a*row])
				}
			case AnchorAttend:
				anc := s.get(key, s.Step)
				if len(anc) != b*a*row {
					return fmt.Errorf("anchor attention %s: no record of the anchors at evaluation %d (have %d values, want %d)", key, s.Step, len(anc), b*a*row)
				}
				for r := range n {
					br := r / per
					o := out[r*lk*d : (r+1)*lk*d]
					copy(o[:row], x[r*row:(r+1)*row])
					copy(o[row:], anc[br*a*row:(br+1)*a*row])
				}
			default:
				return fmt.Errorf("anchor attention: unknown mode %d", mode)
			}
			return nil
		}}
	kr.diff = func(ins G.Nodes, _, _ *G.Node) (G.Nodes, error) {
		return nil, fmt.Errorf("anchor attention has no gradient")
	}
	return apply(kr, x)
}
