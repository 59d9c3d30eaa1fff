// attn_fa2_bwd_q.wgsl - FlashAttention-2 backward, step 1 of 2: delta and dQ, no atomics.
// For query row i of head (b, h) = bh:
//   delta[bh*T + i] = dO_i . O_i   (= sum_j P_ij dP_ij; attn_fa2_bwd_kv reads it next)
//   dq_i = scale sum_{j<=i} dS_ij k_j -> dqkv[b*T + i, h*hd ..], with P_ij = exp(scale q_i.k_j -
//   lse_i) and dS_ij = P_ij (dO_i . v_j - delta_i) recomputed per key tile.
// Grid (B*H, ceil(T / RW)), workgroups of 64, the blocks with the most keys (the last) dispatched
// first. Layout as in include/attn_fa2_common.wgsl: the G lanes of query row r hold q_i, dO_i in
// a0.., b0.. and dq_i in dq0..; K and V pass through xt, yt 16 keys at a time, only up to the
// block's last row (tiles above the diagonal skipped), ST tiles per staged block. delta: the
// lanes' shares of dO_i . O_i (O read from global memory) are added once, before the key loop. Per tile: stage K, V |
// q_i . k_c and dO_i . v_c for the 16 keys (added across lanes when G > 1) | P, dS,
// dq += dS k_c (IL = 1 at G = 1, or any G with the subgroup lanes include: one group of four
// keys at a time). Two barriers per staged block (and one more per tile when G > 1, two with
// RR = 2; none with subgroup lanes). RR = 2: a second query row i + 64 / G in dq4.. (a4.., b4..),
// each staged chunk read once for both rows. Registers: 3 * RR * NC vec4 + 32 RR floats.

@group(0) @binding(5) var<storage, read> out: array<f32>;
@group(0) @binding(6) var<storage, read_write> delta: array<f32>;

var<private> dq0: vec4<f32>;
var<private> dq1: vec4<f32>;
var<private> dq2: vec4<f32>;
var<private> dq3: vec4<f32>;
var<private> dq4: vec4<f32>;
var<private> dq5: vec4<f32>;
var<private> dq6: vec4<f32>;
var<private> dq7: vec4<f32>;

// Chunk j of the attention output at out[base ..], zero at and beyond HD.
fn out_chunk(base: u32, j: u32) -> vec4<f32> {
    let d = 4u * j;
    var v = vec4<f32>(0.0);
    if (d < HD) { v.x = out[base + d]; }
    if (d + 1u < HD) { v.y = out[base + d + 1u]; }
    if (d + 2u < HD) { v.z = out[base + d + 2u]; }
    if (d + 3u < HD) { v.w = out[base + d + 3u]; }
    return v;
}

// Lane u's share of dO_i . O_i (dO_i in b0.., or b4.. from k0 = 4: RR = 2's second row).
fn delta_share(base: u32, u: u32, k0: u32) -> f32 {
    if (k0 == 4u) {
        var s2 = mac(0.0, b4, out_chunk(base, u));
        if (NC > 1u) { s2 = mac(s2, b5, out_chunk(base, u + G)); }
        if (NC > 2u) { s2 = mac(s2, b6, out_chunk(base, u + 2u * G)); }
        if (NC > 3u) { s2 = mac(s2, b7, out_chunk(base, u + 3u * G)); }
        return s2;
    }
    var s = mac(0.0, b0, out_chunk(base, u));
    if (NC > 1u) { s = mac(s, b1, out_chunk(base, u + G)); }
    if (NC > 2u) { s = mac(s, b2, out_chunk(base, u + 2u * G)); }
    if (NC > 3u) { s = mac(s, b3, out_chunk(base, u + 3u * G)); }
    if (NC > 4u) { s = mac(s, b4, out_chunk(base, u + 4u * G)); }
    if (NC > 5u) { s = mac(s, b5, out_chunk(base, u + 5u * G)); }
    if (NC > 6u) { s = mac(s, b6, out_chunk(base, u + 6u * G)); }
    if (NC > 7u) { s = mac(s, b7, out_chunk(base, u + 7u * G)); }
    return s;
}

// dq += the four keys 4g .. 4g+3 of the tile, weighted by w (lane u's chunks).
fn acc_dq(w: vec4<f32>, g: u32, u: u32) {
    let at = 4u * g * CH + u;
    dq0 = axpy4x(dq0, w, at);
    if (NC > 1u) { dq1 = axpy4x(dq1, w, at + G); }
    if (NC > 2u) { dq2 = axpy4x(dq2, w, at + 2u * G); }
    if (NC > 3u) { dq3 = axpy4x(dq3, w, at + 3u * G); }
    if (NC > 4u) { dq4 = axpy4x(dq4, w, at + 4u * G); }
    if (NC > 5u) { dq5 = axpy4x(dq5, w, at + 5u * G); }
    if (NC > 6u) { dq6 = axpy4x(dq6, w, at + 6u * G); }
    if (NC > 7u) { dq7 = axpy4x(dq7, w, at + 7u * G); }
}

// RR = 2: acc_dq of both resident rows (dq0.. weighted by wa, dq4.. by wb; NC <= 4), each tile
// chunk read once for both.
fn acc_dq2(wa: vec4<f32>, wb: vec4<f32>, g: u32, u: u32) {
    let at = 4u * g * CH + u;
    var r = axpy4x2(Pair(dq0, dq4), wa, wb, at);
    dq0 = r.p;
    dq4 = r.q;
    if (NC > 1u) { r = axpy4x2(Pair(dq1, dq5), wa, wb, at + G); dq1 = r.p; dq5 = r.q; }
    if (NC > 2u) { r = axpy4x2(Pair(dq2, dq6), wa, wb, at + 2u * G); dq2 = r.p; dq6 = r.q; }
    if (NC > 3u) { r = axpy4x2(Pair(dq3, dq7), wa, wb, at + 3u * G); dq3 = r.p; dq7 = r.q; }
}

// dS of keys j0 .. j0+3 for query row i from scores s and dP d; 0 where j > i (causal).
fn dscores(s: vec4<f32>, d: vec4<f32>, j0: u32, i: u32, row_lse: f32, row_delta: f32)
    -> vec4<f32> {
    let j = vec4<u32>(j0, j0 + 1u, j0 + 2u, j0 + 3u);
    let pr = exp(s * p.scale - vec4<f32>(row_lse));
    return select(pr * (d - vec4<f32>(row_delta)), vec4<f32>(0.0), j > vec4<u32>(i));
}

// dq (scaled) of the resident row in registers from k0 (0 or 4: RR = 2's second row) to token
// n's row of dqkv.
fn put_dq(n: u32, h: u32, u: u32, k0: u32) {
    let base = n * 3u * p.C + h * HD;
    if (k0 == 4u) {
        put_chunk(base, u, dq4 * p.scale);
        if (NC > 1u) { put_chunk(base, u + G, dq5 * p.scale); }
        if (NC > 2u) { put_chunk(base, u + 2u * G, dq6 * p.scale); }
        if (NC > 3u) { put_chunk(base, u + 3u * G, dq7 * p.scale); }
        return;
    }
    put_chunk(base, u, dq0 * p.scale);
    if (NC > 1u) { put_chunk(base, u + G, dq1 * p.scale); }
    if (NC > 2u) { put_chunk(base, u + 2u * G, dq2 * p.scale); }
    if (NC > 3u) { put_chunk(base, u + 3u * G, dq3 * p.scale); }
    if (NC > 4u) { put_chunk(base, u + 4u * G, dq4 * p.scale); }
    if (NC > 5u) { put_chunk(base, u + 5u * G, dq5 * p.scale); }
    if (NC > 6u) { put_chunk(base, u + 6u * G, dq6 * p.scale); }
    if (NC > 7u) { put_chunk(base, u + 7u * G, dq7 * p.scale); }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = wg.x / p.H;
    let h = wg.x % p.H;
    let r0 = ((p.T + RW - 1u) / RW - 1u - wg.y) * RW;  // last block first
    let u = t % G;
    let i = r0 + t / G;
    let i2 = i + FA_WG / G;  // RR = 2: the second resident row
    let n = b * p.T + min(i, p.T - 1u);  // rows past T compute a copy of the last, unwritten
    let n2 = b * p.T + min(i2, p.T - 1u);
    load_rows(SRC_Q, SRC_DO, n, n2, h, u);
    let row_lse = lse[wg.x * p.T + min(i, p.T - 1u)];
    let lse2 = lse[wg.x * p.T + min(i2, p.T - 1u)];
    var row_delta = delta_share(n * p.C + h * HD, u, 0u);
    var delta2 = 0.0;
    if (RR > 1u) { delta2 = delta_share(n2 * p.C + h * HD, u, 4u); }
    if (G > 1u) {
        let v = vec4<f32>(row_delta, delta2, 0.0, 0.0);
        lane_share(0u, t, v);
        lane_sync();
        let sum = lane_sum(0u, t, v);
        row_delta = sum.x;
        delta2 = sum.y;
    }
    if (i < p.T && u == 0u) { delta[wg.x * p.T + i] = row_delta; }
    if (RR > 1u && i2 < p.T && u == 0u) { delta[wg.x * p.T + i2] = delta2; }
    let last = min(r0 + RW, p.T) - 1u;  // the block's last row
    let tiles = last / TILE + 1u;  // key tiles up to the last row's diagonal
    prefetch(t, SRC_K, SRC_V, b, h, 0u);
    for (var kb = 0u; kb < tiles; kb = kb + ST) {
        workgroupBarrier();  // the previous block and lane shares are no longer read
        stage_block(t, SRC_K, SRC_V, b, h, kb * TILE);
        workgroupBarrier();
        if (kb + ST < tiles) { prefetch(t, SRC_K, SRC_V, b, h, (kb + ST) * TILE); }
        for (var s = 0u; s < ST; s = s + 1u) {
            let kt = kb + s;
            if (kt >= tiles) { break; }
            let k0 = kt * TILE;
            let g0 = 4u * s;
            if (IL == 1u && (G == 1u || LANE_SHUFFLE)) {
                for (var g = 0u; g < 4u; g = g + 1u) {
                    if (RR > 1u) {
                        let x = dots2_a(g0 + g, u);
                        let y = dots2_b(g0 + g, u);
                        acc_dq2(dscores(lane_total(x.p), lane_total(y.p), k0 + 4u * g, i,
                                        row_lse, row_delta),
                                dscores(lane_total(x.q), lane_total(y.q), k0 + 4u * g, i2, lse2,
                                        delta2), g0 + g, u);
                    } else {
                        acc_dq(dscores(lane_total(dots_a(g0 + g, u)),
                                       lane_total(dots_b(g0 + g, u)), k0 + 4u * g, i, row_lse,
                                       row_delta), g0 + g, u);
                    }
                }
                continue;
            }
            if (G > 1u && s > 0u) { lane_sync(); }  // the last tile's shares are read
            if (RR > 1u) {
                let x = tile_dots2(t, u, g0);
                acc_dq2(dscores(x.a.s0, x.a.d0, k0, i, row_lse, row_delta),
                        dscores(x.b.s0, x.b.d0, k0, i2, lse2, delta2), g0, u);
                acc_dq2(dscores(x.a.s1, x.a.d1, k0 + 4u, i, row_lse, row_delta),
                        dscores(x.b.s1, x.b.d1, k0 + 4u, i2, lse2, delta2), g0 + 1u, u);
                acc_dq2(dscores(x.a.s2, x.a.d2, k0 + 8u, i, row_lse, row_delta),
                        dscores(x.b.s2, x.b.d2, k0 + 8u, i2, lse2, delta2), g0 + 2u, u);
                acc_dq2(dscores(x.a.s3, x.a.d3, k0 + 12u, i, row_lse, row_delta),
                        dscores(x.b.s3, x.b.d3, k0 + 12u, i2, lse2, delta2), g0 + 3u, u);
                continue;
            }
            let x = tile_dots(t, u, g0);
            acc_dq(dscores(x.s0, x.d0, k0, i, row_lse, row_delta), g0, u);
            acc_dq(dscores(x.s1, x.d1, k0 + 4u, i, row_lse, row_delta), g0 + 1u, u);
            acc_dq(dscores(x.s2, x.d2, k0 + 8u, i, row_lse, row_delta), g0 + 2u, u);
            acc_dq(dscores(x.s3, x.d3, k0 + 12u, i, row_lse, row_delta), g0 + 3u, u);
        }
    }
    if (i < p.T) { put_dq(n, h, u, 0u); }
    if (RR > 1u && i2 < p.T) { put_dq(n2, h, u, 4u); }
}
