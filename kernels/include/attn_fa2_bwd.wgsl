// include/attn_fa2_bwd.wgsl - bindings and helpers shared by the two FlashAttention-2 backward
// kernels (attn_fa2_bwd_q, attn_fa2_bwd_kv), prepended after attn_fa2_common.wgsl.
// Both recompute P_ij = exp(scale q_i . k_j - lse_i) from the forward's lse and
// dS_ij = P_ij (dO_i . v_j - delta_i): no [T, T] buffer, no atomics.

@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> dqkv: array<f32>;

fn elem(src: u32, n: u32, col: u32) -> f32 {
    if (src == SRC_DO) { return dout[n * p.C + col]; }
    return qkv[n * 3u * p.C + src * p.C + col];
}

// dqkv[base + 4j ..] = v, dims below HD only.
fn put_chunk(base: u32, j: u32, v: vec4<f32>) {
    let d = 4u * j;
    if (d < HD) { dqkv[base + d] = v.x; }
    if (d + 1u < HD) { dqkv[base + d + 1u] = v.y; }
    if (d + 2u < HD) { dqkv[base + d + 2u] = v.z; }
    if (d + 3u < HD) { dqkv[base + d + 3u] = v.w; }
}

// Scores a . x_c and dP b . y_c of tile rows 4g .. 4g+3, added across a row's dim lanes when
// G > 1 through exchange slots 2k, 2k+1 (a barrier inside: call in uniform control flow).
fn group_dots(g: u32, k: u32, t: u32, u: u32) -> array<vec4<f32>, 2> {
    var sc = dots_a(g, u);
    var dp = dots_b(g, u);
    if (G > 1u) {
        share(2u * k, t, sc);
        share(2u * k + 1u, t, dp);
        workgroupBarrier();
        sc = row_sum(2u * k, t);
        dp = row_sum(2u * k + 1u, t);
    }
    return array<vec4<f32>, 2>(sc, dp);
}
