package distill

import (
	"fmt"
	"sync"
)

// recordsKey is what fixes an epoch's records.
type recordsKey struct {
	sampler, schedule, data string
	steps, depth            int
	counts                  string
	strength                float64
	trajectories, val       int
	seed                    uint64
}

// RecordsKey names what fixes the distiller's records (operating point,
// step counts, schedule, cut, data, trajectories and seed): distillers with
// the same key can share a Source.
func (d *Distiller) RecordsKey() string { return fmt.Sprintf("%+v", d.key()) }

func (d *Distiller) key() recordsKey {
	c := d.Config
	return recordsKey{c.Sampler, c.Clock, c.Data, c.Adaptor.Steps, c.Adaptor.Depth, joinInts(c.StepCounts, ", "), runStrength(c.Strength), c.Trajectories, c.Validation, c.Seed}
}

// Source shares the records of each epoch between distillers of the same
// teacher, operating point, cut, data and seed (adaptors of other kinds or
// widths), so that each epoch's trajectories are unrolled once: a group of
// distillers run side by side (each in its own goroutine) costs little
// more than one. Records of an epoch are dropped once every member has
// taken them.
type Source struct {
	mu sync.Mutex
	// gen serialises record generation: the teacher is not safe for
	// concurrent use, and members may ask for different epochs at once.
	gen     sync.Mutex
	members int
	key     *recordsKey
	epochs  map[int]*sourceEntry
	val     *Records
}

type sourceEntry struct {
	once  sync.Once
	rec   *Records
	err   error
	taken int
}

// NewSource returns a source for members distillers.
func NewSource(members int) *Source {
	return &Source{members: members, epochs: map[int]*sourceEntry{}}
}

func (s *Source) check(d *Distiller) error {
	k := d.key()
	if s.key == nil {
		s.key = &k
	} else if *s.key != k {
		return fmt.Errorf("distillers of different operating points, cuts, data or seeds cannot share records (%+v and %+v)", *s.key, k)
	}
	return nil
}

// leave takes a member out of the source (its distillation ended, or
// failed): records are no longer kept for it.
func (s *Source) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members--
	for e, entry := range s.epochs {
		if entry.taken >= s.members {
			delete(s.epochs, e)
		}
	}
}

func (s *Source) epoch(d *Distiller, epoch int) (*Records, error) {
	s.mu.Lock()
	if err := s.check(d); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	e, ok := s.epochs[epoch]
	if !ok {
		e = &sourceEntry{}
		s.epochs[epoch] = e
	}
	s.mu.Unlock()
	e.once.Do(func() {
		s.gen.Lock()
		defer s.gen.Unlock()
		e.rec, e.err = d.generate(d.Config.Trajectories, d.epochSeed(epoch))
	})
	s.mu.Lock()
	e.taken++
	if e.taken >= s.members {
		delete(s.epochs, epoch)
	}
	s.mu.Unlock()
	return e.rec, e.err
}

func (s *Source) validation(d *Distiller) (*Records, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(d); err != nil {
		return nil, err
	}
	if s.val == nil {
		s.gen.Lock()
		v, err := d.generate(d.Config.Validation, d.Config.Seed^0x5a1d5a1d5a1d5a1d)
		s.gen.Unlock()
		if err != nil {
			return nil, err
		}
		s.val = v
	}
	return s.val, nil
}
