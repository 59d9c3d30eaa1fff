// attn_fa2_bwd_q.wgsl - FlashAttention-2 backward, step 1 of 2: delta and dQ, no atomics.
// For query row i of head (b, h) = bh:
//   delta[bh*T + i] = dO_i . O_i   (= sum_j P_ij dP_ij; attn_fa2_bwd_kv reads it next)
//   dq_i = scale sum_{j<=i} dS_ij k_j -> dqkv[b*T + i, h*hd ..], with P_ij = exp(scale q_i.k_j -
//   lse_i) and dS_ij = P_ij (dO_i . v_j - delta_i) recomputed per key block.
// One workgroup of 128 per (b*H + h, block of ROWS = 32 query rows): grid (B*H, ceil(T/32)),
// the blocks with the most keys (the last) dispatched first. Layout as in attn_fa2_bwd_common:
// the quad of row r holds q_i, dO_i in a0..a7, b0..b7 and dq_i in dq0..dq7 (named vec4
// registers); K and V pass through xt, yt 16 keys at a time, only up to the block's last row
// (blocks above the diagonal are skipped). delta: the quad's shares of dO_i . O_i (O read from
// global memory) are added through sp once, before the key loop. Per key block, 3 barriers:
//   stage K, V | shares of q_i . k_c and dO_i . v_c for the 16 keys | P, dS, dq += dS k_c.
// Registers: 3 sets of NG vec4 (96 floats at hd > 112); hd <= 128.

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

// Chunk j of the attention output at out[base ..], zero at and beyond hd.
fn out_chunk(base: u32, j: u32) -> vec4<f32> {
    let d = 4u * j;
    var v = vec4<f32>(0.0);
    if (d < p.hd) { v.x = out[base + d]; }
    if (d + 1u < p.hd) { v.y = out[base + d + 1u]; }
    if (d + 2u < p.hd) { v.z = out[base + d + 2u]; }
    if (d + 3u < p.hd) { v.w = out[base + d + 3u]; }
    return v;
}

// Member u's share of dO_i . O_i (dO_i in b0..).
fn delta_share(base: u32, u: u32) -> f32 {
    var s = dot(b0, out_chunk(base, u));
    if (NG > 1u) { s = s + dot(b1, out_chunk(base, u + 4u)); }
    if (NG > 2u) { s = s + dot(b2, out_chunk(base, u + 8u)); }
    if (NG > 3u) { s = s + dot(b3, out_chunk(base, u + 12u)); }
    if (NG > 4u) { s = s + dot(b4, out_chunk(base, u + 16u)); }
    if (NG > 5u) { s = s + dot(b5, out_chunk(base, u + 20u)); }
    if (NG > 6u) { s = s + dot(b6, out_chunk(base, u + 24u)); }
    if (NG > 7u) { s = s + dot(b7, out_chunk(base, u + 28u)); }
    return s;
}

// dq += ds * k_c (member u's chunks of key tile row c).
fn accumulate(ds: f32, c: u32, u: u32) {
    let o = c * NCH + u;
    let w = vec4<f32>(ds);
    dq0 = fma(w, xt[o], dq0);
    if (NG > 1u) { dq1 = fma(w, xt[o + 4u], dq1); }
    if (NG > 2u) { dq2 = fma(w, xt[o + 8u], dq2); }
    if (NG > 3u) { dq3 = fma(w, xt[o + 12u], dq3); }
    if (NG > 4u) { dq4 = fma(w, xt[o + 16u], dq4); }
    if (NG > 5u) { dq5 = fma(w, xt[o + 20u], dq5); }
    if (NG > 6u) { dq6 = fma(w, xt[o + 24u], dq6); }
    if (NG > 7u) { dq7 = fma(w, xt[o + 28u], dq7); }
}

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = wg.x / p.H;
    let h = wg.x % p.H;
    let q0 = ((p.T + ROWS - 1u) / ROWS - 1u - wg.y) * ROWS;  // last block first
    let r = t / 4u;
    let u = t % 4u;
    let i = q0 + r;
    let n = b * p.T + i;
    var row_lse = 0.0;
    var share = 0.0;
    if (i < p.T) {
        load_rows(SRC_Q, SRC_DO, n, h, u);
        row_lse = lse[wg.x * p.T + i];
        share = delta_share(n * p.C + h * p.hd, u);
    }
    sp[slot(r, 0u)][u] = share;
    workgroupBarrier();
    let ds4 = sp[slot(r, 0u)];
    let row_delta = (ds4.x + ds4.y) + (ds4.z + ds4.w);
    if (i < p.T && u == 0u) { delta[wg.x * p.T + i] = row_delta; }
    let blocks = (min(q0 + ROWS, p.T) - 1u) / TILE + 1u;  // key blocks up to the diagonal
    for (var kb = 0u; kb < blocks; kb = kb + 1u) {
        let k0 = kb * TILE;
        workgroupBarrier();  // the previous block's tiles and shares (or delta's) are read
        stage(t, SRC_K, SRC_V, b, h, k0);
        workgroupBarrier();
        for (var c = 0u; c < TILE; c = c + 1u) { partials(r, c, u); }
        workgroupBarrier();
        for (var c = 0u; c < TILE; c = c + 1u) {
            let g = pair(r, c, k0 + c <= i && i < p.T, row_lse, row_delta);
            accumulate(g.y, c, u);
        }
    }
    if (i < p.T) {
        let base = n * 3u * p.C + h * p.hd;
        put_chunk(base, u, dq0 * p.scale);
        if (NG > 1u) { put_chunk(base, u + 4u, dq1 * p.scale); }
        if (NG > 2u) { put_chunk(base, u + 8u, dq2 * p.scale); }
        if (NG > 3u) { put_chunk(base, u + 12u, dq3 * p.scale); }
        if (NG > 4u) { put_chunk(base, u + 16u, dq4 * p.scale); }
        if (NG > 5u) { put_chunk(base, u + 20u, dq5 * p.scale); }
        if (NG > 6u) { put_chunk(base, u + 24u, dq6 * p.scale); }
        if (NG > 7u) { put_chunk(base, u + 28u, dq7 * p.scale); }
    }
}
