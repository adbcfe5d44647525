#!/usr/bin/env python3
"""Generation throughput of HF transformers on the all-attention model of a
config.json, for comparison with `hybridize bench` on the same shapes.

The model is built on the meta device (no slow initialisation, no memory),
materialised on the target device and filled with random weights (speed does not
depend on their values). `generate` runs greedy with a static cache and SDPA,
min_new_tokens = max_new_tokens (no early stop), on random prompts. One line
starting with `hf_generate:` carries the figures as key=value pairs.
"""
import argparse
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def build_model(config_dir, dtype, device):
    config = AutoConfig.from_pretrained(config_dir)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
    model = model.to(dtype).to_empty(device=device).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("norm.weight"):
                parameter.fill_(1.0)
            else:
                parameter.normal_(0.0, 0.02)
        # to_empty leaves buffers uninitialised: recompute the RoPE frequencies.
        for module in model.modules():
            if hasattr(module, "rope_init_fn"):
                inv_freq, module.attention_scaling = module.rope_init_fn(module.config, device)
                module.inv_freq = inv_freq
                module.original_inv_freq = inv_freq
    return model


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_generate(model, prompts, new_tokens):
    synchronize(prompts.device)
    start = time.perf_counter()
    out = model.generate(
        input_ids=prompts,
        attention_mask=torch.ones_like(prompts),
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        cache_implementation="static",
        eos_token_id=None,
        pad_token_id=0,
    )
    synchronize(prompts.device)
    seconds = time.perf_counter() - start
    if out.shape[1] != prompts.shape[1] + new_tokens:
        sys.exit(f"hf_generate: generate returned {out.shape[1] - prompts.shape[1]} new tokens, expected {new_tokens}")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="directory holding config.json")
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--prompt-len", type=int, required=True)
    parser.add_argument("--gen-len", type=int, required=True)
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compile", action="store_true", help="let generate torch.compile the decode step")
    args = parser.parse_args()
    for flag in ("batch", "prompt_len", "gen_len"):
        if getattr(args, flag) < 1:
            sys.exit(f"hf_generate: --{flag.replace('_', '-')} must be at least 1")
    if args.gen_len < 2:
        sys.exit("hf_generate: --gen-len must be at least 2 (one token comes with the prefill)")

    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    model = build_model(args.config, DTYPES[args.dtype], device)
    # Recent versions compile the decode step of a static cache on their own; only with --compile here.
    model.generation_config.disable_compile = not args.compile
    vocab = model.config.vocab_size
    prompts = torch.randint(vocab, (args.batch, args.prompt_len), device=device)

    with torch.inference_mode():
        timed_generate(model, prompts, 2)  # warm-up: kernels chosen, allocator filled
        # Prefill and the first token alone, then the whole generation: decode is the difference.
        prefill = timed_generate(model, prompts, 1)
        total = timed_generate(model, prompts, args.gen_len)
    decode = max(total - prefill, 1e-9)
    print(
        f"hf_generate: batch={args.batch} prompt_len={args.prompt_len} gen_len={args.gen_len} dtype={args.dtype} "
        f"device={device} attention={model.config._attn_implementation} cache=static compile={int(args.compile)} prefill_s={prefill:.3f} decode_s={decode:.3f} "
        f"prefill_tok_s={args.batch * args.prompt_len / prefill:.1f} "
        f"decode_tok_s={args.batch * (args.gen_len - 1) / decode:.1f} "
        f"total_tok_s={args.batch * args.gen_len / total:.1f}"
    )


if __name__ == "__main__":
    main()
