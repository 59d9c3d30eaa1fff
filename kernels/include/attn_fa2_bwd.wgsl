// include/attn_fa2_bwd.wgsl - bindings and helpers shared by the two FlashAttention-2 backward
// kernels (attn_fa2_bwd_q, attn_fa2_bwd_kv), prepended after attn_fa2_common.wgsl.
// Both recompute P_ij = exp(scale q_i . k_j - lse_i) from the forward's lse and
// dS_ij = P_ij (dO_i . v_j - delta_i): no [T, T] buffer, no atomics.

@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(9) var<storage, read> dout4: array<vec4<f32>>;  // dout as vec4 (PF > 0)

fn elem(src: u32, n: u32, col: u32) -> f32 {
    if (src == SRC_DO) { return dout[n * p.C + col]; }
    return qkv[n * 3u * p.C + src * p.C + col];
}

fn elem4(src: u32, n: u32, col: u32) -> vec4<f32> {
    if (src == SRC_DO) { return dout4[(n * p.C + col) / 4u]; }
    return qkv4[(n * 3u * p.C + src * p.C + col) / 4u];
}

// dqkv[base + 4j ..] = v, dims below HD only.
fn put_chunk(base: u32, j: u32, v: vec4<f32>) {
    let d = 4u * j;
    if (d < HD) { dqkv[base + d] = v.x; }
    if (d + 1u < HD) { dqkv[base + d + 1u] = v.y; }
    if (d + 2u < HD) { dqkv[base + d + 2u] = v.z; }
    if (d + 3u < HD) { dqkv[base + d + 3u] = v.w; }
}

// The scores (slots 0-3) and dP (slots 4-7) of score groups g0 .. g0+3 (one tile), added across a row's lanes when G > 1 (a barrier inside: call in uniform control flow).
struct Dots {
    s0: vec4<f32>,
    s1: vec4<f32>,
    s2: vec4<f32>,
    s3: vec4<f32>,
    d0: vec4<f32>,
    d1: vec4<f32>,
    d2: vec4<f32>,
    d3: vec4<f32>,
}

fn tile_dots(t: u32, u: u32, g0: u32) -> Dots {
    var x = Dots(dots_a(g0, u), dots_a(g0 + 1u, u), dots_a(g0 + 2u, u), dots_a(g0 + 3u, u),
                 dots_b(g0, u), dots_b(g0 + 1u, u), dots_b(g0 + 2u, u), dots_b(g0 + 3u, u));
    if (G > 1u) {
        share(0u, t, x.s0);
        share(1u, t, x.s1);
        share(2u, t, x.s2);
        share(3u, t, x.s3);
        share(4u, t, x.d0);
        share(5u, t, x.d1);
        share(6u, t, x.d2);
        share(7u, t, x.d3);
        workgroupBarrier();
        x = Dots(row_sum(0u, t), row_sum(1u, t), row_sum(2u, t), row_sum(3u, t),
                 row_sum(4u, t), row_sum(5u, t), row_sum(6u, t), row_sum(7u, t));
    }
    return x;
}
