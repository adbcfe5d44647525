#!/usr/bin/env python3
"""Makes small random Llama, Mistral and Qwen2 checkpoints with HF transformers
and the logits HF computes for fixed token ids: the reference the C++ parity
tests must match.

Each model exercises different paths: GQA, MQA, an explicit head_dim, llama3
and linear RoPE scaling, a sliding window shorter than the sequence, q/k/v/o
biases, tied embeddings, and a sharded checkpoint with an index file.

Beside them, a random Apriel-H hybrid in both layouts of its m2 input projection
and the logits of an independent reference (apriel_reference.py).

usage: make_parity_models.py OUT_DIR
writes OUT_DIR/<name>/{config.json, *.safetensors, reference.safetensors}
"""
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
import apriel_reference
from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM)

COMMON = dict(vocab_size=96, hidden_size=64, intermediate_size=160, initializer_range=0.1, rms_norm_eps=1e-5,
              max_position_embeddings=256)

MODELS = {
    # GQA 4:2, llama3 RoPE scaling whose original context puts frequencies in all three bands,
    # biases on q/k/v/o, saved in shards with model.safetensors.index.json.
    "llama": (LlamaForCausalLM, LlamaConfig(
        **COMMON, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0,
        attention_bias=True, tie_word_embeddings=False,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": 64}), "60KB"),
    # MQA, head_dim (24) unlike hidden/heads (16), a 5-token sliding window.
    "mistral": (MistralForCausalLM, MistralConfig(
        **COMMON, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1, head_dim=24,
        sliding_window=5, rope_theta=1e6, tie_word_embeddings=False), None),
    # q/k/v biases only, tied embeddings, linear RoPE scaling.
    "qwen2": (Qwen2ForCausalLM, Qwen2Config(
        **COMMON, num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=2, rope_theta=10000.0,
        tie_word_embeddings=True, rope_scaling={"rope_type": "linear", "factor": 2.0}), None),
}

BATCH, LENGTH = 2, 13


def make(name, out_dir):
    model_class, config, shard_size = MODELS[name]
    torch.manual_seed(1234)
    config._attn_implementation = "eager"  # an implementation independent of SDPA
    model = model_class(config).eval()
    with torch.no_grad():  # norm weights and biases away from their 1 / 0 initial values
        for pname, p in model.named_parameters():
            if "norm" in pname:
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif pname.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p))
    target = out_dir / name
    target.mkdir(parents=True, exist_ok=True)
    kwargs = {"max_shard_size": shard_size} if shard_size else {}
    model.save_pretrained(target, safe_serialization=True, **kwargs)
    ids = torch.randint(0, config.vocab_size, (BATCH, LENGTH), generator=torch.Generator().manual_seed(99))
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()
    save_file({"input_ids": ids.contiguous(), "logits": logits.contiguous()}, str(target / "reference.safetensors"))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = Path(sys.argv[1])
    for name in MODELS:
        make(name, out_dir)
    # setup.sh keeps mamba-ssm's and causal-conv1d's reference sources in the virtualenv.
    apriel_reference.make(out_dir, Path(sys.prefix) / "reference-sources")
    print(f"reference models written to {out_dir}")


if __name__ == "__main__":
    main()
