"""A random Apriel-H hybrid checkpoint in both layouts of the m2 input
projection, and its logits from an independent reference: the m2 mixer written
here from its published math (Mamba-in-Llama as Fast-LLM's Apriel-H format has
it), with the scan and the convolution computed by the pure-PyTorch reference
functions of mamba-ssm and causal-conv1d (fetch_scan_references.py keeps their
source files), inside HF transformers' Mistral decoder for the attention ("t")
layers, norms and MLPs.

make(out_dir) writes out_dir/apriel-split and out_dir/apriel-fused, each with
config.json, model.safetensors and reference.safetensors (input_ids, logits).
"""
import ast
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from safetensors.torch import save_file
from transformers import MistralConfig, MistralForCausalLM

BLOCKS = ["m2", "t", "m2"]
HIDDEN, HEADS, KV_HEADS, HEAD_DIM, D_STATE, D_CONV = 64, 4, 2, 16, 8, 4
D_INNER, D_XB, DT_RANK = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM, (HIDDEN + 15) // 16
BATCH, LENGTH = 2, 13


def reference_function(path, name):
    """The function `name` of a source file, compiled alone: the module's other
    imports (CUDA extensions) are never run."""
    tree = ast.parse(Path(path).read_text())
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    namespace = {"torch": torch, "F": F, "rearrange": rearrange, "repeat": repeat}
    exec(compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec"), namespace)
    return namespace[name]


class M2Mixer(torch.nn.Module):
    """in_proj -> z, x, B, C; dt = dt_proj(dt_in_proj(h)); x and B repeated from
    d_xb to d_inner in d_state-sized groups; causal conv + SiLU over x; the
    selective scan with dt_proj's bias again as delta bias, softplus, D skip and
    SiLU(z) gate; out_proj."""

    def __init__(self, scan, conv):
        super().__init__()
        self.scan, self.conv = scan, conv
        self.in_proj = torch.nn.Linear(HIDDEN, 2 * D_INNER + 2 * D_XB, bias=False)
        self.dt_in_proj = torch.nn.Linear(HIDDEN, DT_RANK, bias=False)
        self.dt_proj = torch.nn.Linear(DT_RANK, D_INNER, bias=True)
        self.conv1d = torch.nn.Conv1d(D_INNER, D_INNER, D_CONV, groups=D_INNER, bias=True)
        self.A_log = torch.nn.Parameter(torch.log(torch.arange(1, D_STATE + 1, dtype=torch.float)).repeat(D_INNER, 1))
        self.D = torch.nn.Parameter(torch.ones(D_INNER))
        self.out_proj = torch.nn.Linear(D_INNER, HIDDEN, bias=False)

    @staticmethod
    def widen(t):  # [b, l, d_xb] -> [b, l, d_inner]: each d_state group repeated for the heads sharing it
        groups = rearrange(t, "b l (g n) -> b l g n", n=D_STATE)
        return rearrange(torch.repeat_interleave(groups, D_INNER // D_XB, dim=2), "b l g n -> b l (g n)")

    def forward(self, hidden_states, **_):
        z, x, b, c = torch.split(self.in_proj(hidden_states), [D_INNER, D_XB, D_XB, D_INNER], dim=-1)
        dt = self.dt_proj(self.dt_in_proj(hidden_states))
        x = self.conv(rearrange(self.widen(x), "b l d -> b d l"), rearrange(self.conv1d.weight, "d 1 w -> d w"),
                      self.conv1d.bias, activation="silu")
        heads = lambda t: rearrange(t, "b l (h n) -> b h n l", n=D_STATE)  # noqa: E731
        y = self.scan(x, rearrange(dt, "b l d -> b d l"), -torch.exp(self.A_log.float()), heads(self.widen(b)), heads(c),
                      self.D.float(), z=rearrange(z, "b l d -> b d l"), delta_bias=self.dt_proj.bias.float(),
                      delta_softplus=True)
        return self.out_proj(rearrange(y, "b d l -> b l d")), None


def make(out_dir, sources):
    scan = reference_function(sources / "selective_scan_interface.py", "selective_scan_ref")
    conv = reference_function(sources / "causal_conv1d_interface.py", "causal_conv1d_ref")
    torch.manual_seed(4321)
    config = MistralConfig(vocab_size=96, hidden_size=HIDDEN, intermediate_size=160, num_hidden_layers=len(BLOCKS),
                           num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, head_dim=HEAD_DIM,
                           rms_norm_eps=1e-5, max_position_embeddings=256, rope_theta=10000.0, sliding_window=None,
                           tie_word_embeddings=False, initializer_range=0.1)
    config._attn_implementation = "eager"
    model = MistralForCausalLM(config).eval()
    for i, block in enumerate(BLOCKS):
        if block == "m2":
            model.model.layers[i].self_attn = M2Mixer(scan, conv)
    with torch.no_grad():  # every weight away from its initial value: the test must see each one
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif name.endswith(("A_log", ".D")):
                p.add_(0.3 * torch.randn_like(p))
            elif "self_attn" in name and not name.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight",
                                                            "o_proj.weight")):
                p.copy_(0.3 * torch.randn_like(p))
    ids = torch.randint(0, config.vocab_size, (BATCH, LENGTH), generator=torch.Generator().manual_seed(77))
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()

    tensors = {}
    for name, p in model.state_dict().items():
        layer = int(name.split(".")[2]) if name.startswith("model.layers.") else None
        if layer is not None and BLOCKS[layer] == "m2":
            name = name.replace(".self_attn.", ".mixer.")
        tensors[name] = p.contiguous()
    hf = json.loads(config.to_json_string())
    apriel = {k: hf[k] for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                 "num_attention_heads", "num_key_value_heads", "head_dim", "rms_norm_eps",
                                 "max_position_embeddings", "rope_theta", "sliding_window", "tie_word_embeddings",
                                 "hidden_act")}
    apriel.update(model_type="apriel_hybrid_ssm", architectures=["AprielHybridSSMForCausalLM"],
                  hybrid_block_layout=BLOCKS, layer_types=["mamba2" if b == "m2" else "full_attention" for b in BLOCKS],
                  ssm_cfg={"d_state": D_STATE, "d_inner": D_INNER, "d_xb": D_XB, "dt_rank": DT_RANK, "bias": False,
                           "conv_bias": True, "dt_proj_bias": True, "repeat_kv_before_conv": True})
    for layout in ("split", "fused"):
        target = out_dir / f"apriel-{layout}"
        target.mkdir(parents=True, exist_ok=True)
        stored = dict(tensors)
        if layout == "fused":
            for name in [n for n in stored if n.endswith("mixer.dt_in_proj.weight")]:
                in_proj = name.replace("dt_in_proj", "in_proj")
                stored[in_proj] = torch.cat([stored[in_proj], stored.pop(name)]).contiguous()
        save_file(stored, str(target / "model.safetensors"), metadata={"format": "pt"})
        (target / "config.json").write_text(json.dumps(apriel, indent=2) + "\n")
        save_file({"input_ids": ids.contiguous(), "logits": logits.contiguous()}, str(target / "reference.safetensors"))


if __name__ == "__main__":
    make(Path(sys.argv[1]), Path(sys.argv[2]))
