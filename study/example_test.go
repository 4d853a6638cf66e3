package study_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clockwork-go/clockwork/study"
)

// A study of three cells run as two shards, each into its own directory,
// then merged; a rerun of a shard finds its cells done.
func Example() {
	root, _ := os.MkdirTemp("", "study-example")
	defer os.RemoveAll(root)
	s := study.Study{Name: "squares", Config: map[string]int{"power": 2}}
	for i := 1; i <= 3; i++ {
		s.Cells = append(s.Cells, study.Cell{Key: fmt.Sprintf("x=%d", i), Spec: i})
	}
	square := func(c study.Cell) (any, error) { x := c.Spec.(int); return x * x, nil }

	var dirs []string
	for i := 0; i < 2; i++ {
		dir := filepath.Join(root, fmt.Sprintf("shard-%d", i))
		dirs = append(dirs, dir)
		recs, err := study.Run(context.Background(), s, study.Options{Dir: dir, Shard: study.Shard{Index: i, Count: 2}}, square)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, r := range recs {
			fmt.Printf("shard %d: %s -> %s\n", i, r.Key, r.Result)
		}
	}
	ran := 0
	study.Run(context.Background(), s, study.Options{Dir: dirs[0], Shard: study.Shard{Index: 0, Count: 2}},
		func(c study.Cell) (any, error) { ran++; return square(c) })
	fmt.Println("cells run again:", ran)

	_, recs, err := study.Merge(filepath.Join(root, "all"), dirs, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("merged:", len(recs), "cells")
	// Output:
	// shard 0: x=1 -> 1
	// shard 0: x=3 -> 9
	// shard 1: x=2 -> 4
	// cells run again: 0
	// merged: 3 cells
}
