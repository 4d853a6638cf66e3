// Package textenc is a text encoder compatible with transformers'
// CLIPTextModel (Radford et al., "Learning Transferable Visual Models From
// Natural Language Supervision", ICML 2021): token and position
// embeddings, pre-LayerNorm transformer layers of causal self-attention and
// an MLP (quick GELU by default), a final LayerNorm, and the pooled output
// at the end-of-text token. Config reads transformers' config.json keys,
// and parameter names are its state_dict's ("text_model.…"), so a text
// encoder directory moves between the two; the tests check outputs and
// gradients against an independent PyTorch implementation written from
// transformers' modeling_clip.py (scripts/reference/cliptext.py).
//
// Tokenizer is a word-level tokenizer over a closed vocabulary
// (vocab.json): a toy's prompts need no byte-pair encoding. Latent
// diffusion trained its text encoder jointly with the U-Net; Graph serves
// that, Encode inference.
package textenc
