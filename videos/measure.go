package videos

import (
	"fmt"
	"math"

	"github.com/clockwork-go/clockwork/captions"
	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/edits"
	"github.com/clockwork-go/clockwork/metrics"
)

// WarpError is the temporal inconsistency of frames (T·32·32 values in
// [−1, 1]) that follow motion: the mean over successive pairs of the mean
// squared difference between frame t and frame t+1 warped back to it by
// the known motion (bilinear; pixels whose match in frame t+1 falls
// outside it are masked out). It is the warp error of Lai et al.
// ("Learning Blind Video Temporal Consistency", ECCV 2018) with the true
// motion in place of optical flow.
func WarpError(frames []float32, motion []Frame) (float64, error) {
	const side, per = captions.Side, captions.Side * captions.Side
	t := len(motion)
	if t < 2 || len(frames) != t*per {
		return 0, fmt.Errorf("videos: warp error of %d values for %d frames of 32×32", len(frames), t)
	}
	var sum float64
	pairs := 0
	for f := 0; f+1 < t; f++ {
		a, b := frames[f*per:(f+1)*per], frames[(f+1)*per:(f+2)*per]
		m0, m1 := motion[f], motion[f+1]
		th := (m1.Angle - m0.Angle) * math.Pi / 180
		k := m1.Zoom / m0.Zoom
		c, s := k*math.Cos(th), k*math.Sin(th)
		var e float64
		n := 0
		for y := range side {
			for x := range side {
				px, py := float64(x)+0.5-m0.X, float64(y)+0.5-m0.Y
				qx := m1.X + c*px + s*py - 0.5
				qy := m1.Y - s*px + c*py - 0.5
				if qx < 0 || qy < 0 || qx > side-1 || qy > side-1 {
					continue
				}
				x0, y0 := int(qx), int(qy)
				x1, y1 := min(x0+1, side-1), min(y0+1, side-1)
				fx, fy := qx-float64(x0), qy-float64(y0)
				v := (1-fy)*((1-fx)*float64(b[y0*side+x0])+fx*float64(b[y0*side+x1])) + fy*((1-fx)*float64(b[y1*side+x0])+fx*float64(b[y1*side+x1]))
				d := float64(a[y*side+x]) - v
				e += d * d
				n++
			}
		}
		if n > 0 {
			sum += e / float64(n)
			pairs++
		}
	}
	if pairs == 0 {
		return 0, fmt.Errorf("videos: no frame of the motion overlaps the next")
	}
	return sum / float64(pairs), nil
}

// FloatFrames returns a video's frames in model scale, [−1, 1].
func FloatFrames(b []uint8) []float32 {
	out := make([]float32, len(b))
	for i, v := range b {
		out[i] = float32(v)/127.5 - 1
	}
	return out
}

// PairSet returns the video's frames as edit pairs (source frame, true
// edited frame, the video's instruction), for edits.Evaluate.
func (v *Video) PairSet() *edits.Set {
	t := v.Frames()
	img := func(b []uint8) *datasets.Images {
		return &datasets.Images{Name: "video", C: 1, H: captions.Side, W: captions.Side, U8: b, Labels: make([]int64, t), Classes: 10}
	}
	s := &edits.Set{Data: img(v.Target), Instructions: make([]edits.Instruction, t), Before: make([]captions.Attrs, t), After: make([]captions.Attrs, t), Angles: make([]float64, t)}
	s.Data.Inputs = img(v.Source)
	s.Data.Captions = make([]string, t)
	for f := range t {
		s.Instructions[f], s.Before[f], s.After[f], s.Angles[f] = v.Instruction, v.Before, v.After, v.EditAngle
		s.Data.Captions[f] = v.Phrase
		s.Data.Labels[f], s.Data.Inputs.Labels[f] = int64(v.Before.Digit), int64(v.Before.Digit)
	}
	return s
}

// Score is how an edited video measures against its true edit.
type Score struct {
	// PSNR is the mean over frames of the PSNR to the true edited frame.
	PSNR float64 `json:"psnr"`
	// FrameAcc is the share of frames whose edit is a success
	// (edits.Evaluate), Preserved the share that preserve the rest.
	FrameAcc  float64 `json:"frame_acc"`
	Preserved float64 `json:"preserved"`
	// Warp is WarpError of the edited frames along the video's motion.
	Warp float64 `json:"warp_error"`
	// TemCon is the mean cosine similarity of successive frames' features
	// in the shipped MNIST classifier (Tem-Con with it in place of CLIP).
	TemCon float64 `json:"tem_con"`
}

// Measure scores edited frames (T·32·32 values in [−1, 1]) of video v with
// the measurer m and the classifier clf (metrics.MNISTClassifier).
func Measure(m *captions.Measurer, clf *metrics.Classifier, v *Video, frames []float32) (Score, error) {
	const per = captions.Side * captions.Side
	t := v.Frames()
	if len(frames) != t*per {
		return Score{}, fmt.Errorf("videos: %d values for %d frames", len(frames), t)
	}
	var sc Score
	var err error
	if sc.Warp, err = WarpError(frames, v.Motion); err != nil {
		return sc, err
	}
	dist, err := metrics.PairedDistances(frames, FloatFrames(v.Target), t)
	if err != nil {
		return sc, err
	}
	for _, p := range metrics.CapPSNR(dist.PSNR) {
		sc.PSNR += p / float64(t)
	}
	res, err := edits.Evaluate(m, v.PairSet(), frames, t)
	if err != nil {
		return sc, err
	}
	for _, r := range res {
		if r.Success {
			sc.FrameAcc += 1 / float64(t)
		}
		if r.Preserved {
			sc.Preserved += 1 / float64(t)
		}
	}
	feat, _, err := clf.Features(frames, t, t)
	if err != nil {
		return sc, err
	}
	d := len(feat) / t
	var tc float64
	pairs := 0
	for f := 0; f+1 < t; f++ {
		a, b := feat[f*d:(f+1)*d], feat[(f+1)*d:(f+2)*d]
		var ab, aa, bb float64
		for k := range a {
			ab += float64(a[k]) * float64(b[k])
			aa += float64(a[k]) * float64(a[k])
			bb += float64(b[k]) * float64(b[k])
		}
		if aa > 0 && bb > 0 {
			tc += ab / math.Sqrt(aa*bb)
			pairs++
		}
	}
	if pairs > 0 {
		sc.TemCon = tc / float64(pairs)
	}
	return sc, nil
}
