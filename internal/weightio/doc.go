// Package weightio reads and writes the files model weights come in:
// NumPy's .npz (the toolkit's own checkpoints and its first model format),
// safetensors (what diffusers' and transformers' save_pretrained write),
// and PyTorch's pickled state dicts (.bin, .pt, .pth: torch.save's zip
// format and the legacy one), all read into npzio.Array values by name.
//
// Reading converts half precision (F16, and bfloat16) and double
// precision floats to float32 and integers to int64, recording the file's
// dtype in Array.Stored so that messages name what the user has. Writing
// produces float32 safetensors with the header metadata {"format": "pt"}
// that diffusers' and transformers' loaders expect.
//
// The safetensors format (https://github.com/huggingface/safetensors) is
// parsed by github.com/nlpodyssey/safetensors, which checks the header's
// offsets, shapes and sizes as the reference implementation does; pickled
// state dicts are read by github.com/nlpodyssey/gopickle, which interprets
// the pickle without running any code from it.
package weightio
