// attn_naive_params.wgsl - the parameters (binding 0) and limits the naive attention kernels
// (attn_naive_fwd, attn_naive_bwd_q, attn_naive_bwd_kv) share, prepended after common.wgsl.
// qkv [B*T, 3C] (columns Q | K | V, head h at h*hd .. h*hd+hd in each); probs and dscores
// [B, H, T, T]. A score row and a q / dO row live in workgroup memory: T <= MAX_T, hd <= MAX_HD
// (the registry refuses larger configs).

const MAX_T: u32 = 1024u;
const MAX_HD: u32 = 256u;

struct AttnParams {
    T: u32,
    H: u32,
    hd: u32,
    C: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: AttnParams;
