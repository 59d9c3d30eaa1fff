// attn_fa2_bwd_kv.wgsl - FlashAttention-2 backward, step 2 of 2: dK and dV, no atomics.
// For key row j of head (b, h) = bh, over the query rows i >= j:
//   P_ij = exp(scale q_i . k_j - lse_i),  dS_ij = P_ij (dO_i . v_j - delta_i)
//   dv_j = sum_i P_ij dO_i -> dqkv[b*T + j, 2C + h*hd ..],  dk_j = scale sum_i dS_ij q_i -> [C + ..]
// with delta written by attn_fa2_bwd_q (dispatched first).
// Grid (B*H, ceil(T / RW)), workgroups of 64, the blocks with the most queries (the
// first) dispatched first. Layout as in include/attn_fa2_common.wgsl: the G lanes of key row r
// hold k_j, v_j in a0.., b0.. and dk_j, dv_j in dk0.., dv0..; Q and dO pass through xt, yt in
// blocks of ST tiles of 16 query rows (with their lse and delta in lt, dt), from the block's first
// row on (tiles above the diagonal skipped). Per block: stage Q, dO, lse, delta; per tile:
// k_j . q_c and v_j . dO_c for the 16 queries (added across lanes when G > 1; IL = 1 at G = 1:
// four at a time) | P, dS, dv += P dO_c, dk += dS q_c. Two barriers per staged block (and one
// more per tile when G > 1, two with RR = 2; none with the subgroup lanes include, where IL = 1
// also applies at G > 1). PF = 2 also prefetches the next block's lse / delta (two floats).
// RR = 2: a second key row j + 64 / G in dk4.., dv4.. (a4.., b4..), each staged chunk read once
// for both rows. Registers: 4 * RR * NC vec4 + 32 RR floats (+ 2 * NPF vec4 + 2 floats at PF = 2).

@group(0) @binding(5) var<storage, read> delta: array<f32>;

var<workgroup> lt: array<vec4<f32>, 16>;  // lse of the staged block's query rows
var<workgroup> dt: array<vec4<f32>, 16>;  // delta of the staged block's query rows

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

// dv += P-weighted dO rows for staged rows 4g .. 4g+3 (lane u's chunks).
fn acc_dv(pw: vec4<f32>, g: u32, u: u32) {
    let at = 4u * g * CH + u;
    dv0 = axpy4y(dv0, pw, at);
    if (NC > 1u) { dv1 = axpy4y(dv1, pw, at + G); }
    if (NC > 2u) { dv2 = axpy4y(dv2, pw, at + 2u * G); }
    if (NC > 3u) { dv3 = axpy4y(dv3, pw, at + 3u * G); }
    if (NC > 4u) { dv4 = axpy4y(dv4, pw, at + 4u * G); }
    if (NC > 5u) { dv5 = axpy4y(dv5, pw, at + 5u * G); }
    if (NC > 6u) { dv6 = axpy4y(dv6, pw, at + 6u * G); }
    if (NC > 7u) { dv7 = axpy4y(dv7, pw, at + 7u * G); }
}

// dk += dS-weighted q rows for staged rows 4g .. 4g+3 (lane u's chunks).
fn acc_dk(sw: vec4<f32>, g: u32, u: u32) {
    let at = 4u * g * CH + u;
    dk0 = axpy4x(dk0, sw, at);
    if (NC > 1u) { dk1 = axpy4x(dk1, sw, at + G); }
    if (NC > 2u) { dk2 = axpy4x(dk2, sw, at + 2u * G); }
    if (NC > 3u) { dk3 = axpy4x(dk3, sw, at + 3u * G); }
    if (NC > 4u) { dk4 = axpy4x(dk4, sw, at + 4u * G); }
    if (NC > 5u) { dk5 = axpy4x(dk5, sw, at + 5u * G); }
    if (NC > 6u) { dk6 = axpy4x(dk6, sw, at + 6u * G); }
    if (NC > 7u) { dk7 = axpy4x(dk7, sw, at + 7u * G); }
}

// P and dS of query rows q0 + 4g' .. + 3 (staged rows 4g ..; g' = g % 4 within the tile from q0)
// for key row j from scores s and dP d; 0 where i < j (causal) or i >= T; then accumulated.
fn kv_group(s: vec4<f32>, d: vec4<f32>, g: u32, q0: u32, j: u32, u: u32) {
    let i = vec4<u32>(q0 + 4u * (g % 4u)) + vec4<u32>(0u, 1u, 2u, 3u);
    let live = (i >= vec4<u32>(j)) & (i < vec4<u32>(p.T));
    let pr = select(vec4<f32>(0.0), exp(s * p.scale - lt[g]), live);
    acc_dv(pr, g, u);
    acc_dk(pr * (d - dt[g]), g, u);
}

// RR = 2: acc_dv / acc_dk of both resident rows (dv0.. and dv4..; NC <= 4), each tile chunk read
// once for both.
fn acc_dv2(pa: vec4<f32>, pb: vec4<f32>, g: u32, u: u32) {
    let at = 4u * g * CH + u;
    var r = axpy4y2(Pair(dv0, dv4), pa, pb, at);
    dv0 = r.p;
    dv4 = r.q;
    if (NC > 1u) { r = axpy4y2(Pair(dv1, dv5), pa, pb, at + G); dv1 = r.p; dv5 = r.q; }
    if (NC > 2u) { r = axpy4y2(Pair(dv2, dv6), pa, pb, at + 2u * G); dv2 = r.p; dv6 = r.q; }
    if (NC > 3u) { r = axpy4y2(Pair(dv3, dv7), pa, pb, at + 3u * G); dv3 = r.p; dv7 = r.q; }
}

fn acc_dk2(sa: vec4<f32>, sb: vec4<f32>, g: u32, u: u32) {
    let at = 4u * g * CH + u;
    var r = axpy4x2(Pair(dk0, dk4), sa, sb, at);
    dk0 = r.p;
    dk4 = r.q;
    if (NC > 1u) { r = axpy4x2(Pair(dk1, dk5), sa, sb, at + G); dk1 = r.p; dk5 = r.q; }
    if (NC > 2u) { r = axpy4x2(Pair(dk2, dk6), sa, sb, at + 2u * G); dk2 = r.p; dk6 = r.q; }
    if (NC > 3u) { r = axpy4x2(Pair(dk3, dk7), sa, sb, at + 3u * G); dk3 = r.p; dk7 = r.q; }
}

// kv_group of both resident rows j (scores s.p, dP d.p) and j2 (s.q, d.q).
fn kv_group2(s: Pair, d: Pair, g: u32, q0: u32, j: u32, j2: u32, u: u32) {
    let i = vec4<u32>(q0 + 4u * (g % 4u)) + vec4<u32>(0u, 1u, 2u, 3u);
    let inside = i < vec4<u32>(p.T);
    let pa = select(vec4<f32>(0.0), exp(s.p * p.scale - lt[g]), (i >= vec4<u32>(j)) & inside);
    let pb = select(vec4<f32>(0.0), exp(s.q * p.scale - lt[g]), (i >= vec4<u32>(j2)) & inside);
    acc_dv2(pa, pb, g, u);
    acc_dk2(pa * (d.p - dt[g]), pb * (d.q - dt[g]), g, u);
}

// Entry e of the staged block's lse (e < ST * TILE) then delta (up to 2 ST TILE) for the query
// rows q0 .. of head bh (clamped to the last row; 0 beyond the entries).
fn row_stat(e: u32, bh: u32, q0: u32) -> f32 {
    let rows = ST * TILE;
    let at = bh * p.T + min(q0 + e % rows, p.T - 1u);
    if (e < rows) { return lse[at]; }
    if (e < 2u * rows) { return delta[at]; }
    return 0.0;
}

fn put_stat(e: u32, v: f32) {
    let rows = ST * TILE;
    let c = e % rows;
    if (e < rows) { lt[c / 4u][c % 4u] = v; } else if (e < 2u * rows) { dt[c / 4u][c % 4u] = v; }
}

// dk (scaled), dv of the resident row in registers from k0 (0 or 4: RR = 2's second row) to
// token n's row of dqkv.
fn put_kv(n: u32, h: u32, u: u32, k0: u32) {
    let bk = n * 3u * p.C + p.C + h * HD;
    let bv = bk + p.C;
    if (k0 == 0u) {
        put_chunk(bk, u, dk0 * p.scale);
        if (NC > 1u) { put_chunk(bk, u + G, dk1 * p.scale); }
        if (NC > 2u) { put_chunk(bk, u + 2u * G, dk2 * p.scale); }
        if (NC > 3u) { put_chunk(bk, u + 3u * G, dk3 * p.scale); }
        if (NC > 4u) { put_chunk(bk, u + 4u * G, dk4 * p.scale); }
        if (NC > 5u) { put_chunk(bk, u + 5u * G, dk5 * p.scale); }
        if (NC > 6u) { put_chunk(bk, u + 6u * G, dk6 * p.scale); }
        if (NC > 7u) { put_chunk(bk, u + 7u * G, dk7 * p.scale); }
        put_chunk(bv, u, dv0);
        if (NC > 1u) { put_chunk(bv, u + G, dv1); }
        if (NC > 2u) { put_chunk(bv, u + 2u * G, dv2); }
        if (NC > 3u) { put_chunk(bv, u + 3u * G, dv3); }
        if (NC > 4u) { put_chunk(bv, u + 4u * G, dv4); }
        if (NC > 5u) { put_chunk(bv, u + 5u * G, dv5); }
        if (NC > 6u) { put_chunk(bv, u + 6u * G, dv6); }
        if (NC > 7u) { put_chunk(bv, u + 7u * G, dv7); }
        return;
    }
    put_chunk(bk, u, dk4 * p.scale);
    if (NC > 1u) { put_chunk(bk, u + G, dk5 * p.scale); }
    if (NC > 2u) { put_chunk(bk, u + 2u * G, dk6 * p.scale); }
    if (NC > 3u) { put_chunk(bk, u + 3u * G, dk7 * p.scale); }
    put_chunk(bv, u, dv4);
    if (NC > 1u) { put_chunk(bv, u + G, dv5); }
    if (NC > 2u) { put_chunk(bv, u + 2u * G, dv6); }
    if (NC > 3u) { put_chunk(bv, u + 3u * G, dv7); }
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = wg.x / p.H;
    let h = wg.x % p.H;
    let r0 = wg.y * RW;
    let u = t % G;
    let j = r0 + t / G;
    let j2 = j + FA_WG / G;  // RR = 2: the second resident row
    let n = b * p.T + min(j, p.T - 1u);  // rows past T compute a copy of the last, unwritten
    let n2 = b * p.T + min(j2, p.T - 1u);
    load_rows(SRC_K, SRC_V, n, n2, h, u);
    let tiles = (p.T + TILE - 1u) / TILE;
    let rows = ST * TILE;
    prefetch(t, SRC_Q, SRC_DO, b, h, r0 / TILE * TILE);
    var l0 = 0.0;
    var l1 = 0.0;
    if (PF == 2u) {
        l0 = row_stat(t, wg.x, r0 / TILE * TILE);
        l1 = row_stat(t + FA_WG, wg.x, r0 / TILE * TILE);
    }
    for (var qb = r0 / TILE; qb < tiles; qb = qb + ST) {
        let q0 = qb * TILE;
        workgroupBarrier();  // the previous block, its lse / delta and lane shares are read
        stage_block(t, SRC_Q, SRC_DO, b, h, q0);
        if (PF == 2u) {
            put_stat(t, l0);
            put_stat(t + FA_WG, l1);
        } else {
            for (var e = t; e < 2u * rows; e = e + FA_WG) { put_stat(e, row_stat(e, wg.x, q0)); }
        }
        workgroupBarrier();
        if (PF == 2u && qb + ST < tiles) {
            prefetch(t, SRC_Q, SRC_DO, b, h, q0 + rows);
            l0 = row_stat(t, wg.x, q0 + rows);
            l1 = row_stat(t + FA_WG, wg.x, q0 + rows);
        }
        for (var s = 0u; s < ST; s = s + 1u) {
            let qt = qb + s;
            if (qt >= tiles) { break; }
            let g0 = 4u * s;
            if (IL == 1u && (G == 1u || LANE_SHUFFLE)) {
                for (var g = 0u; g < 4u; g = g + 1u) {
                    if (RR > 1u) {
                        let x = dots2_a(g0 + g, u);
                        let y = dots2_b(g0 + g, u);
                        kv_group2(Pair(lane_total(x.p), lane_total(x.q)),
                                  Pair(lane_total(y.p), lane_total(y.q)), g0 + g, qt * TILE, j,
                                  j2, u);
                    } else {
                        kv_group(lane_total(dots_a(g0 + g, u)), lane_total(dots_b(g0 + g, u)),
                                 g0 + g, qt * TILE, j, u);
                    }
                }
                continue;
            }
            if (G > 1u && s > 0u) { lane_sync(); }  // the last tile's shares are read
            if (RR > 1u) {
                let x = tile_dots2(t, u, g0);
                kv_group2(Pair(x.a.s0, x.b.s0), Pair(x.a.d0, x.b.d0), g0, qt * TILE, j, j2, u);
                kv_group2(Pair(x.a.s1, x.b.s1), Pair(x.a.d1, x.b.d1), g0 + 1u, qt * TILE, j, j2,
                          u);
                kv_group2(Pair(x.a.s2, x.b.s2), Pair(x.a.d2, x.b.d2), g0 + 2u, qt * TILE, j, j2,
                          u);
                kv_group2(Pair(x.a.s3, x.b.s3), Pair(x.a.d3, x.b.d3), g0 + 3u, qt * TILE, j, j2,
                          u);
                continue;
            }
            let x = tile_dots(t, u, g0);
            kv_group(x.s0, x.d0, g0, qt * TILE, j, u);
            kv_group(x.s1, x.d1, g0 + 1u, qt * TILE, j, u);
            kv_group(x.s2, x.d2, g0 + 2u, qt * TILE, j, u);
            kv_group(x.s3, x.d3, g0 + 3u, qt * TILE, j, u);
        }
    }
    if (j < p.T) { put_kv(n, h, u, 0u); }
    if (RR > 1u && j2 < p.T) { put_kv(n2, h, u, 4u); }
}
