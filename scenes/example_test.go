package scenes_test

import (
	"fmt"
	"log"

	"github.com/clockwork-go/clockwork/scenes"
)

// The first held-out scenes: their digits, where they were placed, and the
// pairs that touch in the instance mask.
func Example() {
	set, err := scenes.Open("test", 3)
	if err != nil {
		log.Fatal(err)
	}
	for i := range set.Len() {
		_, _, inst := set.Scene(i)
		fmt.Printf("scene %d:", i)
		for _, d := range set.Digits[i] {
			fmt.Printf(" %d (%s)", d.Label, d.Placed)
		}
		fmt.Printf("; touching pairs %v\n", scenes.TouchingPairs(inst, set.Config.Size))
	}
	// Output:
	// scene 0: 9 (free) 5 (free) 9 (free) 7 (touching); touching pairs [[1 4]]
	// scene 1: 3 (free) 6 (free); touching pairs []
	// scene 2: 6 (free) 8 (free); touching pairs []
}
