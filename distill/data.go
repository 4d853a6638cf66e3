package distill

import (
	"fmt"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/diffusion"
	"github.com/clockwork-go/clockwork/unet"
)

// Records are teacher features at the adaptor's steps: what model-step
// distillation trains on. Record i has r_in_t, r_out_t (the target) and
// r_out_{t+1} (the previous step's r_out), the shell's embedding, its step
// and step size, and its trajectory, whose conditioning is row Traj[i] of
// Cond.
//
// Records are in a fixed order, trajectory by trajectory and step by step
// within one, whatever batches they were computed in.
type Records struct {
	N                   int
	RIn, ROut, ROutPrev []float32
	Emb                 []float32
	Step                []int
	StepSize            []float64
	Traj                []int
	// Cond holds the trajectories' conditioning, one row each.
	Cond            diffusion.Cond
	rinPer, routPer int
	emb             int
}

func newRecords(b *AdaptorBase) *Records {
	return &Records{rinPer: b.RIn[0] * b.RIn[1] * b.RIn[2], routPer: b.ROut[0] * b.ROut[1] * b.ROut[2], emb: b.Temb}
}

// Bytes returns the memory the records hold.
func (r *Records) Bytes() int64 {
	return 4*int64(len(r.RIn)+len(r.ROut)+len(r.ROutPrev)+len(r.Emb)) + 8*int64(len(r.Step)+len(r.StepSize)+len(r.Traj)+len(r.Cond.Labels)) + 4*int64(len(r.Cond.TextMask)+condTextLen(r.Cond))
}

// condTextLen returns the number of text embedding values c holds.
func condTextLen(c diffusion.Cond) int {
	if c.Text == nil {
		return 0
	}
	return c.Text.Shape().TotalSize()
}

// alloc makes room for n trajectories of steps adaptor steps each, with
// their conditioning c.
func (r *Records) alloc(n, steps int, c diffusion.Cond) {
	r.N = n * steps
	r.RIn = make([]float32, r.N*r.rinPer)
	r.ROut = make([]float32, r.N*r.routPer)
	r.ROutPrev = make([]float32, r.N*r.routPer)
	r.Emb = make([]float32, r.N*r.emb)
	r.Step = make([]int, r.N)
	r.StepSize = make([]float64, r.N)
	r.Traj = make([]int, r.N)
	for i := range r.Traj {
		r.Traj[i] = i / steps
	}
	r.Cond = c
}

// appendRecords appends o's records to r.
func (r *Records) appendRecords(o *Records) error {
	cond, err := diffusion.Concat(r.Cond, o.Cond)
	if err != nil {
		return err
	}
	trajs := r.Cond.Rows()
	r.N += o.N
	r.RIn = append(r.RIn, o.RIn...)
	r.ROut = append(r.ROut, o.ROut...)
	r.ROutPrev = append(r.ROutPrev, o.ROutPrev...)
	r.Emb = append(r.Emb, o.Emb...)
	r.Step = append(r.Step, o.Step...)
	r.StepSize = append(r.StepSize, o.StepSize...)
	for _, t := range o.Traj {
		r.Traj = append(r.Traj, trajs+t)
	}
	r.Cond = cond
	return nil
}

// put stores row j of batch tensors as record i.
func (r *Records) put(i, j int, rIn, rOut, prev, emb *tensor.Dense, step int, dt float64) {
	r.StepSize[i] = dt
	copy(r.RIn[i*r.rinPer:(i+1)*r.rinPer], rIn.Data().([]float32)[j*r.rinPer:])
	copy(r.ROut[i*r.routPer:(i+1)*r.routPer], rOut.Data().([]float32)[j*r.routPer:])
	if prev != nil {
		copy(r.ROutPrev[i*r.routPer:(i+1)*r.routPer], prev.Data().([]float32)[j*r.routPer:])
	}
	copy(r.Emb[i*r.emb:(i+1)*r.emb], emb.Data().([]float32)[j*r.emb:])
	r.Step[i] = step
}

// batch gathers records idx into adaptor inputs and the target.
func (r *Records) batch(idx []int, a *AdaptorBase) (Inputs, *tensor.Dense) {
	n := len(idx)
	gather := func(src []float32, per int, shape ...int) *tensor.Dense {
		d := make([]float32, n*per)
		for j, i := range idx {
			copy(d[j*per:(j+1)*per], src[i*per:(i+1)*per])
		}
		return tensor.New(tensor.WithShape(append([]int{n}, shape...)...), tensor.WithBacking(d))
	}
	in := Inputs{
		RIn:          gather(r.RIn, r.rinPer, a.RIn[:]...),
		ROutPrev:     gather(r.ROutPrev, r.routPer, a.ROut[:]...),
		Emb:          gather(r.Emb, r.emb, r.emb),
		Step:         r.Step[idx[0]],
		RowSteps:     make([]int, n),
		RowStepSizes: make([]float64, n),
	}
	for j, i := range idx {
		in.RowSteps[j] = r.Step[i]
		in.RowStepSizes[j] = r.StepSize[i]
	}
	if !r.Cond.IsZero() {
		trajs := make([]int, n)
		for j, i := range idx {
			trajs[j] = r.Traj[i]
		}
		in.Cond = r.Cond.Take(trajs)
	}
	return in, gather(r.ROut, r.routPer, a.ROut[:]...)
}

// recorder runs the teacher as shell, core and shell (bit for bit its
// Forward) and records the features of the steps the schedule marks.
type recorder struct {
	m       *unet.Model
	split   unet.Split
	clock   Clock
	rec     *Records
	step    int
	rows    []diffusion.Row
	prev    *tensor.Dense
	prevT   float64
	ordinal []int // step → its rank among the adaptor steps
}

func (r *recorder) BeginStep(info diffusion.StepInfo) error {
	if info.Steps != r.clock.Steps() {
		return fmt.Errorf("recorder: clock of %d steps, sampler runs %d", r.clock.Steps(), info.Steps)
	}
	r.step, r.rows = info.Index, info.Rows
	if info.Index == 0 {
		r.prev = nil
	}
	return nil
}

func (r *recorder) Predict(x *tensor.Dense, t float64, c diffusion.Cond) (*tensor.Dense, error) {
	in, err := diffusion.ModelInput(r.m, x, c)
	if err != nil {
		return nil, err
	}
	sh, err := r.split.ShellIn(in, []float64{t}, c.UNet(), nil)
	if err != nil {
		return nil, err
	}
	rOut, err := r.m.Core(sh, nil)
	if err != nil {
		return nil, err
	}
	if r.clock.Adaptor[r.step] {
		count := r.clock.Count()
		for j, row := range r.rows {
			r.rec.put(row.Sample*count+r.ordinal[r.step], j, sh.RIn, rOut, r.prev, sh.Emb, r.step, r.prevT-t)
		}
	}
	r.prev, r.prevT = rOut, t
	return r.m.ShellOut(sh, rOut, nil)
}

// randomLabels draws n labels uniformly from the model's classes, the null
// class included (nil for an unconditional model).
func randomLabels(rng *rand.Rand, n, k int) []int64 {
	if k == 0 {
		return nil
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(rng.IntN(k))
	}
	return out
}

// Unroll samples n teacher trajectories from pure noise (noise streams
// 0…n−1 of o.Seed) with the sampler of o and records the features at the
// clock's adaptor steps. The trajectories' conditioning is o.Cond when set
// (n rows), else class labels drawn from the seed (for a class-conditional
// teacher; none for an unconditional one).
func Unroll(m *unet.Model, b *AdaptorBase, s *diffusion.Schedule, clock Clock, o diffusion.Options, steps, n, batch int) (*Records, error) {
	if o.Cond.IsZero() {
		o.Cond = diffusion.Labels(randomLabels(rand.New(rand.NewPCG(o.Seed, 0x1abe1)), n, m.Config.NumClasses()))
	}
	rec := newRecords(b)
	rec.alloc(n, clock.Count(), o.Cond)
	r := &recorder{m: m, split: b.Cut, clock: clock, rec: rec, ordinal: ordinals(clock)}
	chw, err := m.Config.SampleShape()
	if err != nil {
		return nil, err
	}
	o.Steps, o.FirstIndex = steps, 0
	if _, err := diffusion.SampleMany(r, s, chw, n, batch, o, nil); err != nil {
		return nil, err
	}
	return rec, nil
}

// ordinals maps each step to its rank among the clock's adaptor steps.
func ordinals(clock Clock) []int {
	out := make([]int, clock.Steps())
	k := 0
	for i, a := range clock.Adaptor {
		out[i] = k
		if a {
			k++
		}
	}
	return out
}

// Noised records the features of n real images noised to each adaptor
// step's timestep (and r_out_{t+1} from the same image and noise at the
// previous step's timestep): the paper's forward-noised alternative to
// unrolled trajectories. Image i and its noise are drawn from seed and i
// alone, so the records do not depend on the batch.
func Noised(m *unet.Model, base *AdaptorBase, s *diffusion.Schedule, clock Clock, sampler string, data *datasets.Images, n, batch int, seed uint64) (*Records, error) {
	ts, err := diffusion.Timesteps(sampler, clock.Steps(), s.T(), "")
	if err != nil {
		return nil, err
	}
	if len(ts) != clock.Steps() {
		return nil, fmt.Errorf("forward-noised records: sampler %s makes more than one model evaluation per step", sampler)
	}
	if m.Config.Conditional() {
		return nil, fmt.Errorf("forward-noised records: not implemented for a text-conditioned teacher (%s); distil from unrolled trajectories", unet.ClassUNet2DCondition)
	}
	rec := newRecords(base)
	count := clock.Count()
	pick := rand.New(rand.NewPCG(seed, 0x401eed))
	images := make([]int, n)
	for i := range images {
		images[i] = pick.IntN(data.Len())
	}
	k := m.Config.NumClasses()
	var all []int64
	if k > 0 {
		all = make([]int64, n)
		for j, i := range images {
			if data.Labels != nil {
				all[j] = data.Labels[i]
			}
		}
	}
	rec.alloc(n, count, diffusion.Labels(all))
	ord := ordinals(clock)
	ch, h, w := data.Shape()
	per := ch * h * w
	for start := 0; start < n; start += batch {
		b := min(batch, n-start)
		x0 := make([]float32, b*per)
		var labels []int64
		if k > 0 {
			labels = all[start : start+b]
		}
		data.Batch(images[start:start+b], x0, nil)
		eps := make([]float32, b*per)
		for j := 0; j < b; j++ {
			rng := rand.New(rand.NewPCG(seed, uint64(start+j)))
			for i := j * per; i < (j+1)*per; i++ {
				eps[i] = float32(rng.NormFloat64())
			}
		}
		xt := tensor.New(tensor.WithShape(b, ch, h, w), tensor.Of(tensor.Float32))
		for i, isA := range clock.Adaptor {
			if !isA {
				continue
			}
			var prev *tensor.Dense
			if i > 0 {
				noiseTo(s, xt, x0, eps, int(ts[i-1]), per)
				sh, err := base.Cut.ShellIn(xt, []float64{ts[i-1]}, unet.Cond{Labels: labels}, nil)
				if err != nil {
					return nil, err
				}
				if prev, err = m.Core(sh, nil); err != nil {
					return nil, err
				}
			}
			noiseTo(s, xt, x0, eps, int(ts[i]), per)
			sh, err := base.Cut.ShellIn(xt, []float64{ts[i]}, unet.Cond{Labels: labels}, nil)
			if err != nil {
				return nil, err
			}
			rOut, err := m.Core(sh, nil)
			if err != nil {
				return nil, err
			}
			for j := 0; j < b; j++ {
				dt := 0.0
				if i > 0 {
					dt = ts[i-1] - ts[i]
				}
				rec.put((start+j)*count+ord[i], j, sh.RIn, rOut, prev, sh.Emb, i, dt)
			}
		}
	}
	return rec, nil
}

func noiseTo(s *diffusion.Schedule, dst *tensor.Dense, x0, eps []float32, t, per int) {
	d := dst.Data().([]float32)
	for j := 0; j < len(d)/per; j++ {
		s.AddNoise(d[j*per:(j+1)*per], x0[j*per:(j+1)*per], eps[j*per:(j+1)*per], t)
	}
}
