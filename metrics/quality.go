package metrics

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/clockwork-go/clockwork/datasets"
	"github.com/clockwork-go/clockwork/internal/npzio"
)

// ReferenceFeatures returns the classifier features of an MNIST split
// ("train" or "test"), cached under the user cache directory (keyed by the
// classifier's weights) so that later evaluations skip the computation.
func ReferenceFeatures(c *Classifier, split string) (Features, error) {
	return DataFeatures(c, "mnist", split)
}

// DataFeatures returns the classifier features of a split of the images a
// data specification names (datasets.Open: "mnist", "captions", …; 1×32×32
// images), cached as ReferenceFeatures caches MNIST's, keyed by the
// classifier's weights and the images' digest.
func DataFeatures(c *Classifier, data, split string) (Features, error) {
	h := sha256.New()
	for _, n := range c.Params.Names() {
		for _, v := range c.Params.Data(n) {
			b := math.Float32bits(v)
			h.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
		}
	}
	var d *datasets.Images
	name := "mnist"
	if data != "mnist" {
		var err error
		if d, err = datasets.Open(data, split); err != nil {
			return Features{}, err
		}
		if c, h, w := d.Shape(); c != 1 || h != 32 || w != 32 {
			return Features{}, fmt.Errorf("reference data %s: images of %d×%d×%d; the classifier takes 1×32×32", data, c, h, w)
		}
		h.Write([]byte(d.Info().SHA256))
		name = strings.NewReplacer("/", "_", ":", "_").Replace(data)
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	var cache string
	if dir, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(dir, "clockwork", fmt.Sprintf("%s-%s-features-%s.npz", name, split, key))
		if a, err := npzio.Read(cache); err == nil {
			if f, ok := a["features"]; ok && f.F32 != nil && len(f.Shape) == 2 {
				return Features{N: f.Shape[0], Dim: f.Shape[1], X: f.F32}, nil
			}
		}
	}
	if d == nil {
		var err error
		if d, err = datasets.MNIST(split, "", true); err != nil {
			return Features{}, err
		}
	}
	x := make([]float32, d.Len()*32*32)
	idx := make([]int, d.Len())
	for i := range idx {
		idx[i] = i
	}
	d.Batch(idx, x, nil)
	feat, _, err := c.Features(x, d.Len(), 500)
	if err != nil {
		return Features{}, err
	}
	f := Features{N: d.Len(), Dim: FeatureDim, X: feat}
	if cache != "" {
		// The cache only saves time: failing to write it is not an error.
		if err := os.MkdirAll(filepath.Dir(cache), 0o755); err == nil {
			_ = npzio.Write(cache, []string{"features"}, map[string]npzio.Array{"features": npzio.Float32(feat, f.N, f.Dim)})
		}
	}
	return f, nil
}

// refCache keeps the reference features and statistics of each classifier
// and split for the life of the process.
var refCache struct {
	sync.Mutex
	m map[refKey]refEntry
}

type refKey struct {
	c           *Classifier
	data, split string
}

type refEntry struct {
	f      Features
	s      Stats
	kidRef Features   // KID's reference: the first KIDReference rows of f
	sums   kernelSums // kidRef's kernel sums
}

// KIDReference is the most reference images KID compares with: the first
// 10,000 of the split (all of MNIST's test split), which bounds the kernel
// sums to 10⁸ pairs; the jackknife interval counts their sampling error.
const KIDReference = 10000

// referenceStats returns the features of a data split and their statistics
// (with the covariance's root), computed once per classifier and split.
func referenceStats(c *Classifier, data, split string) (Features, Stats, error) {
	e, err := reference(c, data, split)
	return e.f, e.s, err
}

// reference returns a data split's features, their statistics and KID's
// kernel sums over them, computed once per classifier and split (the
// kernel sums also cached on disk, by the features' hash).
func reference(c *Classifier, data, split string) (refEntry, error) {
	refCache.Lock()
	defer refCache.Unlock()
	k := refKey{c, data, split}
	if e, ok := refCache.m[k]; ok {
		return e, nil
	}
	f, err := DataFeatures(c, data, split)
	if err != nil {
		return refEntry{}, err
	}
	s, err := ComputeStats(f)
	if err != nil {
		return refEntry{}, err
	}
	if s, err = s.WithRoot(); err != nil {
		return refEntry{}, err
	}
	if refCache.m == nil {
		refCache.m = map[refKey]refEntry{}
	}
	kf := f
	if kf.N > KIDReference {
		kf = Features{N: KIDReference, Dim: f.Dim, X: f.X[:KIDReference*f.Dim]}
	}
	e := refEntry{f: f, s: s, kidRef: kf, sums: cachedSelfSums(kf)}
	refCache.m[k] = e
	return e, nil
}

// cachedSelfSums returns selfSums(f), from the user's cache directory when
// an earlier process wrote them for the same features.
func cachedSelfSums(f Features) kernelSums {
	h := sha256.New()
	var buf [4]byte
	for _, v := range f.X {
		binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
		h.Write(buf[:])
	}
	var cache string
	if dir, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(dir, "clockwork", fmt.Sprintf("kid-self-sums-%d-%s.npz", f.N, hex.EncodeToString(h.Sum(nil))[:16]))
		if a, err := npzio.Read(cache); err == nil {
			if v, ok := a["self_sums"]; ok && len(v.F64) == f.N {
				return kernelSums{Self: v.F64}
			}
		}
	}
	ks := selfSums(f)
	if cache != "" {
		// The cache only saves time: failing to write it is not an error.
		if err := os.MkdirAll(filepath.Dir(cache), 0o755); err == nil {
			_ = npzio.Write(cache, []string{"self_sums"}, map[string]npzio.Array{"self_sums": npzio.Float64(ks.Self, f.N)})
		}
	}
	return ks
}

// Quality holds the quality measures of a set of 32×32 MNIST-like images.
type Quality struct {
	FID      Interval  `json:"fid_mnist"`
	KID      Interval  `json:"kid"`
	Accuracy *Interval `json:"class_accuracy,omitempty"`
}

// QualityOptions tune the quality measures.
type QualityOptions struct {
	Reference string // split the images are compared with ("test" or "train")
	// Data is the data specification (datasets.Open) whose split they are
	// compared with; "" is MNIST. Commands that take other data import
	// the package that registers it ("captions").
	Data      string
	Bootstrap int // bootstrap resamples for the FID interval; default 100
	Seed      uint64
}

// MeasureQuality computes FID-MNIST and KID of n images x (n·32·32 values in
// [−1, 1]) against an MNIST split, and, when labels is not nil, the
// fraction the classifier recognises as their label. FID carries a
// bootstrap 95% interval over the images, accuracy the exact interval of a
// proportion (Proportion); KID is one unbiased estimate on all images and
// the reference split (its first KIDReference images), with a jackknife
// interval that counts both sets' sampling error (KIDInterval).
func MeasureQuality(c *Classifier, x []float32, n int, labels []int64, o QualityOptions) (Quality, error) {
	if o.Reference == "" {
		o.Reference = "test"
	}
	if o.Bootstrap == 0 {
		o.Bootstrap = 100
	}
	if n < 2 {
		return Quality{}, fmt.Errorf("quality needs at least 2 images, have %d", n)
	}
	if o.Data == "" {
		o.Data = "mnist"
	}
	refE, err := reference(c, o.Data, o.Reference)
	if err != nil {
		return Quality{}, err
	}
	refStats := refE.s
	feat, logits, err := c.Features(x, n, 500)
	if err != nil {
		return Quality{}, err
	}
	f := Features{N: n, Dim: FeatureDim, X: feat}
	var q Quality
	q.FID, err = Bootstrap(n, o.Bootstrap, o.Seed, func(idx []int) (float64, error) {
		return FrechetToReference(f.Subset(idx), refStats)
	})
	if err != nil {
		return Quality{}, err
	}
	q.FID.Lo = math.Max(q.FID.Lo, 0) // a distance: the normal interval cut to where it can be
	if q.KID, err = kidInterval(f, refE.kidRef, refE.sums); err != nil {
		return Quality{}, err
	}
	if labels != nil {
		if len(labels) != n {
			return Quality{}, fmt.Errorf("%d labels for %d images", len(labels), n)
		}
		hit := make([]bool, n)
		for i := 0; i < n; i++ {
			best := 0
			for k := 1; k < 10; k++ {
				if logits[i*10+k] > logits[i*10+best] {
					best = k
				}
			}
			hit[i] = int64(best) == labels[i]
		}
		acc, err := Hits(hit)
		if err != nil {
			return Quality{}, err
		}
		q.Accuracy = &acc
	}
	return q, nil
}
