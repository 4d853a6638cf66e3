package distill

import (
	"fmt"

	"github.com/clockwork-go/clockwork/unet"
)

// Open returns the Clockwork denoiser a command asks for: adaptor is
// "identity" (with depth) or an adaptor directory; schedule is
// ParseSchedule's syntax, empty for the directory's own (or clock 2 for the
// identity). force loads an adaptor distilled for another teacher or
// operating point.
func Open(teacher *unet.Model, adaptor string, depth int, sampler string, steps int, schedule string, force bool) (*Clockwork, Manifest, error) {
	var a *Adaptor
	var man Manifest
	var err error
	if adaptor == "identity" {
		if a, err = New(teacher, Spec{Kind: "identity", Depth: depth, Steps: steps}, 0); err != nil {
			return nil, man, err
		}
		if schedule == "" {
			schedule = "clock:2"
		}
		man = Manifest{Spec: a.Spec, Teacher: teacher.Fingerprint(), Sampler: sampler, Steps: steps, Schedule: schedule}
	} else {
		if a, man, err = Load(adaptor, teacher, sampler, steps, force); err != nil {
			return nil, man, err
		}
		if schedule == "" {
			schedule = man.Schedule
		}
	}
	sched, err := ParseSchedule(schedule, steps)
	if err != nil {
		return nil, man, err
	}
	cw, err := NewClockwork(teacher, a, sched)
	if err != nil {
		return nil, man, fmt.Errorf("adaptor %s: %w", adaptor, err)
	}
	man.Schedule = sched.Spec()
	return cw, man, nil
}
