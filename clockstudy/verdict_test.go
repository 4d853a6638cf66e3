package clockstudy

import (
	"strings"
	"testing"

	"github.com/clockwork-go/clockwork/evaluate"
	"github.com/clockwork-go/clockwork/metrics"
)

// synthetic returns results of a teacher cell and cells of the given
// methods, with the given results.
func synthetic(ms []Method, res []Result) *Results {
	r := &Results{Config: Config{Methods: ms}, byKey: map[string]Result{}}
	for i, m := range ms {
		r.byKey[m.Key()] = res[i]
		r.order = append(r.order, m)
	}
	return r
}

func iv(v, lo, hi float64) metrics.Interval { return metrics.Interval{Value: v, Lo: lo, Hi: hi} }

func timing(med, lo, hi float64, rounds int) *evaluate.PairedTiming {
	t := &evaluate.PairedTiming{Rounds: rounds, Speedup: iv(med, lo-0.1, hi+0.1)}
	if k, cover := evaluate.MedianCIOrder(rounds); k > 0 {
		t.MedianCI = iv(cover, lo, hi)
	}
	return t
}

// TestHeadlineVerdicts: the headline claim is judged criterion by
// criterion on synthetic results: FLOPs by the ratio, quality by FID's
// intervals, wall time by the median speed-up's confidence interval
// against 90% of the FLOPs ratio.
func TestHeadlineVerdicts(t *testing.T) {
	teacher, resnet := TeacherMethod("dpmpp2m", 8), ClockworkMethod("resnet", "dpmpp2m", 8, "clock:2")
	base := Result{GFLOPs: 4.0, Quality: metrics.Quality{FID: iv(18, 12, 24)}, MsPerSample: 25, Host: "h"}
	// The ResNet cell's 2.8 GFLOPs save 1.43× of the teacher's 4: 90% of
	// that ratio is 1.286.
	for _, c := range []struct {
		name              string
		res               Result
		flops, qual, wall Outcome
	}{
		{"all agree", Result{GFLOPs: 2.8, Quality: metrics.Quality{FID: iv(21, 15, 27)}, Timing: timing(1.35, 1.30, 1.40, 11)}, Agrees, Agrees, Agrees},
		{"wall time undecided", Result{GFLOPs: 2.8, Quality: metrics.Quality{FID: iv(21, 15, 27)}, Timing: timing(1.30, 1.10, 1.35, 11)}, Agrees, Agrees, WithinNoise},
		{"wall time short", Result{GFLOPs: 2.8, Quality: metrics.Quality{FID: iv(21, 15, 27)}, Timing: timing(1.10, 1.00, 1.20, 11)}, Agrees, Agrees, Disagrees},
		{"too few rounds", Result{GFLOPs: 2.8, Quality: metrics.Quality{FID: iv(21, 15, 27)}, Timing: timing(1.40, 1.35, 1.45, 5)}, Agrees, Agrees, WithinNoise},
		{"few FLOPs saved", Result{GFLOPs: 3.5, Quality: metrics.Quality{FID: iv(19, 13, 25)}, Timing: timing(1.12, 1.10, 1.14, 11)}, Disagrees, Agrees, Agrees},
		{"quality lost", Result{GFLOPs: 2.8, Quality: metrics.Quality{FID: iv(40, 32, 48)}, Timing: timing(1.35, 1.30, 1.40, 11)}, Agrees, Disagrees, Agrees},
		{"other host", Result{GFLOPs: 2.8, Quality: metrics.Quality{FID: iv(21, 15, 27)}, MsPerSample: 17, Host: "other"}, Agrees, Agrees, NotMeasured},
	} {
		r := synthetic([]Method{teacher, resnet}, []Result{base, c.res})
		cl, ok := r.claimHeadline()
		if !ok {
			t.Fatalf("%s: no headline claim", c.name)
		}
		for crit, want := range map[string]Outcome{"FLOPs": c.flops, "quality": c.qual, "wall time": c.wall} {
			if got := cl.Outcome(crit); got != want {
				t.Errorf("%s: %s %s, want %s (%s)", c.name, crit, got, want, cl)
			}
		}
		if !strings.Contains(cl.String(), "**"+string(c.wall)+"**") {
			t.Errorf("%s: the summary line does not carry the wall-time verdict: %s", c.name, cl)
		}
	}
	if _, ok := synthetic([]Method{teacher}, []Result{base}).claimHeadline(); ok {
		t.Error("a headline claim without the ResNet cell")
	}
}

// TestIntervalVerdicts: claims decided by intervals agree, disagree, or are
// within noise when the intervals overlap.
func TestIntervalVerdicts(t *testing.T) {
	id, rn := ClockworkMethod("identity", "dpmpp2m", 8, "clock:2"), ClockworkMethod("resnet", "dpmpp2m", 8, "clock:2")
	for _, c := range []struct {
		idL2, rnL2 metrics.Interval
		want       Outcome
	}{
		{iv(3.6, 3.4, 3.8), iv(2.6, 2.4, 2.8), Agrees},
		{iv(3.0, 2.7, 3.3), iv(2.9, 2.6, 3.2), WithinNoise},
		{iv(2.0, 1.9, 2.1), iv(2.6, 2.4, 2.8), Disagrees},
	} {
		a, b := c.idL2, c.rnL2
		r := synthetic([]Method{id, rn}, []Result{{L2: &a, Quality: metrics.Quality{FID: iv(30, 25, 35)}}, {L2: &b, Quality: metrics.Quality{FID: iv(20, 15, 25)}}})
		cl, ok := r.claimLearned()
		if !ok || cl.Outcome("distance to the teacher") != c.want {
			t.Errorf("identity L2 %v, ResNet %v: %v, want %s", c.idL2, c.rnL2, cl, c.want)
		}
	}
	for _, c := range []struct {
		v    []metrics.Interval
		want Outcome
	}{
		{[]metrics.Interval{iv(1, 0.9, 1.1), iv(2, 1.9, 2.1), iv(3, 2.9, 3.1)}, Agrees},
		{[]metrics.Interval{iv(1, 0.9, 1.1), iv(1.05, 0.95, 1.15), iv(3, 2.9, 3.1)}, WithinNoise},
		{[]metrics.Interval{iv(2, 1.9, 2.1), iv(1, 0.9, 1.1)}, Disagrees},
	} {
		if got := ordered(c.v); got != c.want {
			t.Errorf("ordered(%v) = %s, want %s", c.v, got, c.want)
		}
	}
}
