package unet

import (
	"fmt"
	"slices"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/internal/npzio"
	"github.com/clockwork-go/clockwork/internal/sysmem"
)

// PredictNPZ runs the model on the arrays of an .npz file and writes the
// result to another, the interface a NumPy or PyTorch user checks parity
// through. The input holds "sample" (N,C,H,W) float32, "timestep" (N) or a
// single timestep, int64 or float32, for models with class embeddings
// "class_labels" (N) int64 (or, for class_embed_type "projection",
// (N, projection_class_embeddings_input_dim) float), and for a UNet2DConditionModel
// "encoder_hidden_states" (N,L,cross_attention_dim) float32 with an
// optional "encoder_attention_mask" (N,L) of 1 (attend) and 0 (drop), as
// diffusers' forward takes them. The output holds "output"
// (N,C_out,H,W) float32 and is written atomically.
func (m *Model) PredictNPZ(inPath, outPath string) error {
	in, err := npzio.Read(inPath)
	if err != nil {
		return err
	}
	for k := range in {
		if !slices.Contains([]string{"sample", "timestep", "class_labels", "encoder_hidden_states", "encoder_attention_mask"}, k) {
			return fmt.Errorf("%s: unexpected array %q (want sample, timestep, class_labels, encoder_hidden_states, encoder_attention_mask)", inPath, k)
		}
	}
	s, ok := in["sample"]
	if !ok {
		return fmt.Errorf("%s: no array \"sample\"", inPath)
	}
	if s.F32 == nil || len(s.Shape) != 4 {
		return fmt.Errorf("%s: \"sample\" is %s %v, want float32 (N,C,H,W)", inPath, s.Dtype(), s.Shape)
	}
	ts, ok := in["timestep"]
	if !ok {
		return fmt.Errorf("%s: no array \"timestep\"", inPath)
	}
	if len(ts.Shape) > 1 {
		return fmt.Errorf("%s: \"timestep\" has shape %v, want (N) or a scalar", inPath, ts.Shape)
	}
	var t []float64
	for _, v := range ts.I64 {
		t = append(t, float64(v))
	}
	for _, v := range ts.F32 {
		t = append(t, float64(v))
	}
	t = append(t, ts.F64...) // numpy's default dtype
	if ts.U8 != nil {
		return fmt.Errorf("%s: \"timestep\" is uint8, want int64, float32 or float64", inPath)
	}
	var cond Cond
	if l, ok := in["class_labels"]; ok {
		if k := m.Config.ClassProjection(); k > 0 {
			// A "projection" class embedding takes a vector per row.
			if v := l.Floats(); v == nil || len(l.Shape) != 2 || l.Shape[1] != k {
				return fmt.Errorf("%s: \"class_labels\" is %s %v, want float (N,%d) for class_embed_type %q", inPath, l.Dtype(), l.Shape, k, ClassEmbedProjection)
			}
			cond.ClassVector = l.Floats()
		} else {
			if l.I64 == nil || len(l.Shape) != 1 {
				return fmt.Errorf("%s: \"class_labels\" is %s %v, want int64 or int32 (N)", inPath, l.Dtype(), l.Shape)
			}
			cond.Labels = l.I64
		}
	}
	if e, ok := in["encoder_hidden_states"]; ok {
		if e.F32 == nil || len(e.Shape) != 3 {
			return fmt.Errorf("%s: \"encoder_hidden_states\" is %s %v, want float32 (N,L,D)", inPath, e.Dtype(), e.Shape)
		}
		cond.Text = tensor.New(tensor.WithShape(e.Shape...), tensor.WithBacking(e.F32))
	}
	if a, ok := in["encoder_attention_mask"]; ok {
		if cond.Text == nil {
			return fmt.Errorf("%s: \"encoder_attention_mask\" without \"encoder_hidden_states\"", inPath)
		}
		if len(a.Shape) != 2 || a.Shape[0] != cond.Text.Shape()[0] || a.Shape[1] != cond.Text.Shape()[1] {
			return fmt.Errorf("%s: \"encoder_attention_mask\" has shape %v, want (N,L) = %v", inPath, a.Shape, cond.Text.Shape()[:2])
		}
		cond.TextMask = a.Floats()
	}
	need, err := m.Config.ForwardMemory(s.Shape[0], s.Shape[2], s.Shape[3])
	if err != nil {
		return err
	}
	if err := sysmem.Check(need+4*float64(len(s.F32)), fmt.Sprintf("%s: \"sample\" %v (a batch of %d)", inPath, s.Shape, s.Shape[0])); err != nil {
		return err
	}
	x := tensor.New(tensor.WithShape(s.Shape...), tensor.WithBacking(s.F32))
	out, err := m.Forward(x, t, cond, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", inPath, err)
	}
	return npzio.Write(outPath, []string{"output"}, map[string]npzio.Array{
		"output": npzio.Float32(out.Data().([]float32), out.Shape().Clone()...),
	})
}
