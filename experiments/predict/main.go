// Command predict runs a U-Net directory (UNet2DModel or
// UNet2DConditionModel) or a text encoder directory (CLIPTextModel) on the
// inputs of an .npz file and writes its outputs to another, for parity
// checks against diffusers and transformers:
//
//	go run ./experiments/predict -model DIR -input IN.npz -output OUT.npz
//
// For a U-Net, IN.npz holds "sample" (N,C,H,W float32), "timestep" (N,
// int64), for models with class embeddings "class_labels" (N, int64), and
// for a UNet2DConditionModel "encoder_hidden_states" (N,L,D float32) with
// an optional "encoder_attention_mask" (N,L); OUT.npz receives "output"
// (N,C_out,H,W float32). For a text encoder (its config.json names
// CLIPTextModel), IN.npz holds "input_ids" (N,L int64) and optionally
// "attention_mask"; OUT.npz receives "last_hidden_state" (N,L,D) and
// "pooler_output" (N,D).
package main

import (
	_ "github.com/clockwork-go/clockwork/datasets/mnistdata"
	"github.com/clockwork-go/clockwork/internal/cli"
	"github.com/clockwork-go/clockwork/internal/cmd/predict"
)

func main() { cli.Main(predict.Run) }
