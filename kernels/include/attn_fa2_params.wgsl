// attn_fa2_params.wgsl - the parameters (binding 0) and constants every FlashAttention-2 kernel
// (attn_fa2_*) shares, prepended after common.wgsl.
// qkv [B*T, 3C] (columns Q | K | V, head h at h*hd .. h*hd+hd in each), out / dout [B*T, C],
// lse / delta [B*H*T] (one float per query row of each head). hd <= MAX_HD = 128.

const MAX_HD: u32 = 128u;
const NEG: f32 = -1.0e30;  // "minus infinity" that keeps exp() and max() free of NaN

struct AttnParams {
    B: u32,
    T: u32,
    H: u32,
    hd: u32,
    C: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: AttnParams;
