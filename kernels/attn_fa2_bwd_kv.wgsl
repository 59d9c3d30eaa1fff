// attn_fa2_bwd_kv.wgsl - FlashAttention-2 backward, step 2 of 2: dK and dV, no atomics.
// For key row j of head (b, h) = bh, over the query rows i >= j:
//   P_ij = exp(scale q_i . k_j - lse_i),  dS_ij = P_ij (dO_i . v_j - delta_i)
//   dv_j = sum_i P_ij dO_i -> dqkv[b*T + j, 2C + h*hd ..],  dk_j = scale sum_i dS_ij q_i -> [C + ..]
// with delta written by attn_fa2_bwd_q (dispatched first).
// One workgroup of 128 per (b*H + h, block of ROWS = 32 key rows): grid (B*H, ceil(T/32)), the
// blocks with the most queries (the first) dispatched first. Layout as in attn_fa2_bwd_common:
// the quad of key row r holds k_j, v_j in a0..a7, b0..b7 and dk_j, dv_j in dk0..dk7, dv0..dv7
// (named vec4 registers); Q and dO pass through xt, yt 16 query rows at a time, from the block's
// first row on (blocks above the diagonal are skipped); the rows' lse and delta are read from
// global memory, one address for the whole workgroup (cached): the tiles and shares already fill
// 32 KiB of workgroup memory, a common device limit (lavapipe, Apple). Per query block, 3
// barriers:
//   stage Q, dO | shares of q_c . k_j and dO_c . v_j for the 16 queries |
//   P, dS, dv += P dO_c, dk += dS q_c.
// Registers: 4 sets of NG vec4 (128 floats at hd > 112); hd <= 128.

@group(0) @binding(5) var<storage, read> delta: array<f32>;

var<private> dk0: vec4<f32>;
var<private> dk1: vec4<f32>;
var<private> dk2: vec4<f32>;
var<private> dk3: vec4<f32>;
var<private> dk4: vec4<f32>;
var<private> dk5: vec4<f32>;
var<private> dk6: vec4<f32>;
var<private> dk7: vec4<f32>;
var<private> dv0: vec4<f32>;
var<private> dv1: vec4<f32>;
var<private> dv2: vec4<f32>;
var<private> dv3: vec4<f32>;
var<private> dv4: vec4<f32>;
var<private> dv5: vec4<f32>;
var<private> dv6: vec4<f32>;
var<private> dv7: vec4<f32>;

// dv += pr * dO_c, dk += ds * q_c (member u's chunks of query tile row c).
fn accumulate(pr: f32, ds: f32, c: u32, u: u32) {
    let o = c * NCH + u;
    let wp = vec4<f32>(pr);
    let ws = vec4<f32>(ds);
    dv0 = fma(wp, yt[o], dv0);
    dk0 = fma(ws, xt[o], dk0);
    if (NG > 1u) { dv1 = fma(wp, yt[o + 4u], dv1); dk1 = fma(ws, xt[o + 4u], dk1); }
    if (NG > 2u) { dv2 = fma(wp, yt[o + 8u], dv2); dk2 = fma(ws, xt[o + 8u], dk2); }
    if (NG > 3u) { dv3 = fma(wp, yt[o + 12u], dv3); dk3 = fma(ws, xt[o + 12u], dk3); }
    if (NG > 4u) { dv4 = fma(wp, yt[o + 16u], dv4); dk4 = fma(ws, xt[o + 16u], dk4); }
    if (NG > 5u) { dv5 = fma(wp, yt[o + 20u], dv5); dk5 = fma(ws, xt[o + 20u], dk5); }
    if (NG > 6u) { dv6 = fma(wp, yt[o + 24u], dv6); dk6 = fma(ws, xt[o + 24u], dk6); }
    if (NG > 7u) { dv7 = fma(wp, yt[o + 28u], dv7); dk7 = fma(ws, xt[o + 28u], dk7); }
}

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = wg.x / p.H;
    let h = wg.x % p.H;
    let k0 = wg.y * ROWS;
    let r = t / 4u;
    let u = t % 4u;
    let j = k0 + r;
    let n = b * p.T + j;
    if (j < p.T) { load_rows(SRC_K, SRC_V, n, h, u); }
    let blocks = (p.T + TILE - 1u) / TILE;
    for (var qb = k0 / TILE; qb < blocks; qb = qb + 1u) {
        let q0 = qb * TILE;
        workgroupBarrier();  // the previous block's tiles and shares are read
        stage(t, SRC_Q, SRC_DO, b, h, q0);
        workgroupBarrier();
        for (var c = 0u; c < TILE; c = c + 1u) { partials(r, c, u); }
        workgroupBarrier();
        for (var c = 0u; c < TILE; c = c + 1u) {
            let i = q0 + c;
            let at = wg.x * p.T + min(i, p.T - 1u);  // the same for the whole workgroup
            let g = pair(r, c, j <= i && i < p.T, lse[at], delta[at]);
            accumulate(g.x, g.y, c, u);
        }
    }
    if (j < p.T) {
        let base = n * 3u * p.C + h * p.hd;
        let bk = base + p.C;
        let bv = base + 2u * p.C;
        put_chunk(bk, u, dk0 * p.scale);
        put_chunk(bv, u, dv0);
        if (NG > 1u) { put_chunk(bk, u + 4u, dk1 * p.scale); put_chunk(bv, u + 4u, dv1); }
        if (NG > 2u) { put_chunk(bk, u + 8u, dk2 * p.scale); put_chunk(bv, u + 8u, dv2); }
        if (NG > 3u) { put_chunk(bk, u + 12u, dk3 * p.scale); put_chunk(bv, u + 12u, dv3); }
        if (NG > 4u) { put_chunk(bk, u + 16u, dk4 * p.scale); put_chunk(bv, u + 16u, dv4); }
        if (NG > 5u) { put_chunk(bk, u + 20u, dk5 * p.scale); put_chunk(bv, u + 20u, dv5); }
        if (NG > 6u) { put_chunk(bk, u + 24u, dk6 * p.scale); put_chunk(bv, u + 24u, dv6); }
        if (NG > 7u) { put_chunk(bk, u + 28u, dk7 * p.scale); put_chunk(bv, u + 28u, dv7); }
    }
}
