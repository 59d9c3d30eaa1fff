// include/attn_fa2_bwd.wgsl - bindings and helpers shared by the two FlashAttention-2 backward
// kernels (attn_fa2_bwd_q, attn_fa2_bwd_kv), prepended after attn_fa2_common.wgsl and a lanes include.
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

// The scores (slots 0-3) and dP (slots 4-7) of score groups g0 .. g0+3 (one tile), added across
// a row's lanes when G > 1 (a lane_sync inside: call in uniform control flow).
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

// Lane sums of the eight slots of x (the shares, one lane_sync, the sums).
fn lane_dots(t: u32, x: Dots) -> Dots {
    lane_share(0u, t, x.s0);
    lane_share(1u, t, x.s1);
    lane_share(2u, t, x.s2);
    lane_share(3u, t, x.s3);
    lane_share(4u, t, x.d0);
    lane_share(5u, t, x.d1);
    lane_share(6u, t, x.d2);
    lane_share(7u, t, x.d3);
    lane_sync();
    return Dots(lane_sum(0u, t, x.s0), lane_sum(1u, t, x.s1), lane_sum(2u, t, x.s2),
                lane_sum(3u, t, x.s3), lane_sum(4u, t, x.d0), lane_sum(5u, t, x.d1),
                lane_sum(6u, t, x.d2), lane_sum(7u, t, x.d3));
}

fn tile_dots(t: u32, u: u32, g0: u32) -> Dots {
    let x = Dots(dots_a(g0, u), dots_a(g0 + 1u, u), dots_a(g0 + 2u, u), dots_a(g0 + 3u, u),
                 dots_b(g0, u), dots_b(g0 + 1u, u), dots_b(g0 + 2u, u), dots_b(g0 + 3u, u));
    if (G > 1u) { return lane_dots(t, x); }
    return x;
}

// tile_dots of both resident rows (RR = 2), each tile chunk read once for both; when G > 1 the
// second row's shares reuse the slots (a lane_sync between).
struct Dots2 {
    a: Dots,
    b: Dots,
}

fn tile_dots2(t: u32, u: u32, g0: u32) -> Dots2 {
    let s0 = dots2_a(g0, u);
    let s1 = dots2_a(g0 + 1u, u);
    let s2 = dots2_a(g0 + 2u, u);
    let s3 = dots2_a(g0 + 3u, u);
    let d0 = dots2_b(g0, u);
    let d1 = dots2_b(g0 + 1u, u);
    let d2 = dots2_b(g0 + 2u, u);
    let d3 = dots2_b(g0 + 3u, u);
    var x = Dots2(Dots(s0.p, s1.p, s2.p, s3.p, d0.p, d1.p, d2.p, d3.p),
                  Dots(s0.q, s1.q, s2.q, s3.q, d0.q, d1.q, d2.q, d3.q));
    if (G > 1u) {
        x.a = lane_dots(t, x.a);
        lane_sync();
        x.b = lane_dots(t, x.b);
    }
    return x;
}
