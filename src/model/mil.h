#pragma once
// Mamba-in-Llama (MIL) initialisation: a Mamba mixer that starts from the
// attention it replaces, as Apriel-H1 builds each stage's new Mamba layers.
#include <cstdint>

#include "model/attention.h"
#include "model/causal_lm.h"
#include "model/mamba.h"

namespace hybridize::model {

// SSM widths that let MIL copy attention weights: d_inner = heads * head_dim
// (C from q_proj), d_xb = kv_heads * head_dim (x from v_proj, B from k_proj).
io::SsmConfig mil_ssm_config(const io::TransformerConfig& config, int64_t d_state = 16);

// Copies q/k/v/o into the mixer: in_proj rows [z | x | B | C | dt] get
// x <- v_proj, B <- k_proj, C <- q_proj; out_proj <- o_proj. z, dt, the conv,
// A_log and D keep their fresh initialisation. Throws naming the ssm_cfg key
// when the widths do not match the attention's.
void mil_initialize(Mamba& mamba, const Attention& attention);

// The student of a distillation stage: `source` (the teacher or the previous
// stage's student) rebuilt with `layout`. Layers that become Mamba where the
// source has attention are MIL-initialised from it (fresh parts drawn from
// `seed` + layer); every other parameter, norms and MLPs of converted layers
// included, is copied from the source. The source's config must carry the SSM
// settings (see mil_ssm_config) when `layout` has Mamba layers.
CausalLM derive_hybrid(CausalLMImpl& source, const Layout& layout, const io::SsmConfig& ssm, uint64_t seed);

}  // namespace hybridize::model
