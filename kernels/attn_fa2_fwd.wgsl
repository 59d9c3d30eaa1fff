// attn_fa2_fwd.wgsl - FlashAttention-2 forward: causal multi-head attention with an online softmax.
// For query row i of head (b, h) = bh: out[b*T + i, h*hd ..] = sum_j<=i softmax_j(scale q_i . k_j) v_j
// and lse[bh*T + i] = log sum_j<=i exp(scale q_i . k_j), saved for the backward.
// Grid (B*H, ceil(T / RW)), workgroups of 64; the block with the most keys (the last) of every head
// is dispatched first. Layout as in include/attn_fa2_common.wgsl: the G lanes of query row r hold
// q_i in a0.. and the output accumulator in o0.. (lane u: chunks u + G k); K and V pass through
// xt, yt 16 keys at a time (ST tiles per staged block), only up to the block's last row (tiles
// above the diagonal skipped).
// Per tile: stage K, V | scores of the 16 keys (4 vec4), added across lanes when G > 1 | running
// max m and sum l (kept identically by a row's lanes), o = o * alpha + sum_c p_c v_c.
// Two barriers per staged block (and one more per tile when G > 1; none with the subgroup lanes
// include). RR = 2: a second query row i + 64 / G (o4.., a4.., m2, l2), its scores from the same
// staged chunk reads. Needs HD <= 128; registers: 2 * RR * NC vec4 + 16 RR scores.

@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;

var<private> o0: vec4<f32>;
var<private> o1: vec4<f32>;
var<private> o2: vec4<f32>;
var<private> o3: vec4<f32>;
var<private> o4: vec4<f32>;
var<private> o5: vec4<f32>;
var<private> o6: vec4<f32>;
var<private> o7: vec4<f32>;

fn elem(src: u32, n: u32, col: u32) -> f32 {
    return qkv[n * 3u * p.C + src * p.C + col];
}

fn elem4(src: u32, n: u32, col: u32) -> vec4<f32> {
    return qkv4[(n * 3u * p.C + src * p.C + col) / 4u];
}

// out[base + 4j ..] = v, dims below HD only.
fn put_chunk(base: u32, j: u32, v: vec4<f32>) {
    let d = 4u * j;
    if (d < HD) { out[base + d] = v.x; }
    if (d + 1u < HD) { out[base + d + 1u] = v.y; }
    if (d + 2u < HD) { out[base + d + 2u] = v.z; }
    if (d + 3u < HD) { out[base + d + 3u] = v.w; }
}

// o += the four keys 4g .. 4g+3 of the tile, weighted by w (lane u's chunks).
fn pv(w: vec4<f32>, g: u32, u: u32) {
    let at = 4u * g * CH + u;
    o0 = axpy4y(o0, w, at);
    if (NC > 1u) { o1 = axpy4y(o1, w, at + G); }
    if (NC > 2u) { o2 = axpy4y(o2, w, at + 2u * G); }
    if (NC > 3u) { o3 = axpy4y(o3, w, at + 3u * G); }
    if (NC > 4u) { o4 = axpy4y(o4, w, at + 4u * G); }
    if (NC > 5u) { o5 = axpy4y(o5, w, at + 5u * G); }
    if (NC > 6u) { o6 = axpy4y(o6, w, at + 6u * G); }
    if (NC > 7u) { o7 = axpy4y(o7, w, at + 7u * G); }
}

fn rescale(alpha: f32) {
    o0 = o0 * alpha;
    if (NC > 1u) { o1 = o1 * alpha; }
    if (NC > 2u) { o2 = o2 * alpha; }
    if (NC > 3u) { o3 = o3 * alpha; }
    if (NC > 4u) { o4 = o4 * alpha; }
    if (NC > 5u) { o5 = o5 * alpha; }
    if (NC > 6u) { o6 = o6 * alpha; }
    if (NC > 7u) { o7 = o7 * alpha; }
}

// Scaled scores of keys j0 .. j0+3 for query row i; NEG where j > i (causal).
fn masked(s: vec4<f32>, j0: u32, i: u32) -> vec4<f32> {
    let j = vec4<u32>(j0, j0 + 1u, j0 + 2u, j0 + 3u);
    return select(s * p.scale, vec4<f32>(NEG), j > vec4<u32>(i));
}

// exp(s - mx) where s is not masked, else 0.
fn weights(s: vec4<f32>, mx: f32) -> vec4<f32> {
    return select(vec4<f32>(0.0), exp(s - vec4<f32>(mx)), s > vec4<f32>(0.5 * NEG));
}

var<private> m: f32;  // running max of the row's scaled scores
var<private> l: f32;  // running sum of exp(score - m)

var<private> m2: f32;  // RR = 2: m, l of the second resident row (its output in o4..)
var<private> l2: f32;

// RR = 2: the online softmax update of the second row (m2, l2, o4..; NC <= 4).
fn softmax_step2(s0: vec4<f32>, s1: vec4<f32>, s2: vec4<f32>, s3: vec4<f32>, g0: u32, u: u32) {
    let mx = max(max(m2, max(hmax(s0), hmax(s1))), max(hmax(s2), hmax(s3)));
    let alpha = exp(m2 - mx);
    m2 = mx;
    let w0 = weights(s0, mx);
    let w1 = weights(s1, mx);
    let w2 = weights(s2, mx);
    let w3 = weights(s3, mx);
    l2 = l2 * alpha + ((hsum(w0) + hsum(w1)) + (hsum(w2) + hsum(w3)));
    o4 = o4 * alpha;
    if (NC > 1u) { o5 = o5 * alpha; }
    if (NC > 2u) { o6 = o6 * alpha; }
    if (NC > 3u) { o7 = o7 * alpha; }
    pv_hi(w0, g0, u);
    pv_hi(w1, g0 + 1u, u);
    pv_hi(w2, g0 + 2u, u);
    pv_hi(w3, g0 + 3u, u);
}

// o4.. += the four keys 4g .. 4g+3 of the tile, weighted by w (RR = 2's second row).
fn pv_hi(w: vec4<f32>, g: u32, u: u32) {
    let at = 4u * g * CH + u;
    o4 = axpy4y(o4, w, at);
    if (NC > 1u) { o5 = axpy4y(o5, w, at + G); }
    if (NC > 2u) { o6 = axpy4y(o6, w, at + 2u * G); }
    if (NC > 3u) { o7 = axpy4y(o7, w, at + 3u * G); }
}

// key_tile of both resident rows i, i2 (RR = 2): each tile chunk read once for both scores.
fn key_tile2(t: u32, u: u32, i: u32, i2: u32, g0: u32, k0: u32) {
    let x0 = dots2_a(g0, u);
    let x1 = dots2_a(g0 + 1u, u);
    let x2 = dots2_a(g0 + 2u, u);
    let x3 = dots2_a(g0 + 3u, u);
    var s0 = x0.p;
    var s1 = x1.p;
    var s2 = x2.p;
    var s3 = x3.p;
    var s4 = x0.q;
    var s5 = x1.q;
    var s6 = x2.q;
    var s7 = x3.q;
    if (G > 1u) {
        lane_share(0u, t, s0);
        lane_share(1u, t, s1);
        lane_share(2u, t, s2);
        lane_share(3u, t, s3);
        lane_share(4u, t, s4);
        lane_share(5u, t, s5);
        lane_share(6u, t, s6);
        lane_share(7u, t, s7);
        lane_sync();
        s0 = lane_sum(0u, t, s0);
        s1 = lane_sum(1u, t, s1);
        s2 = lane_sum(2u, t, s2);
        s3 = lane_sum(3u, t, s3);
        s4 = lane_sum(4u, t, s4);
        s5 = lane_sum(5u, t, s5);
        s6 = lane_sum(6u, t, s6);
        s7 = lane_sum(7u, t, s7);
    }
    softmax_step(masked(s0, k0, i), masked(s1, k0 + 4u, i), masked(s2, k0 + 8u, i),
                 masked(s3, k0 + 12u, i), g0, u);
    softmax_step2(masked(s4, k0, i2), masked(s5, k0 + 4u, i2), masked(s6, k0 + 8u, i2),
                  masked(s7, k0 + 12u, i2), g0, u);
}

// The online softmax step over one tile of 16 keys from k0 (score groups g0 .. g0+3 of the
// staged block) for query row i (a barrier inside when G > 1: call in uniform control flow).
fn key_tile(t: u32, u: u32, i: u32, g0: u32, k0: u32) {
    var s0 = dots_a(g0, u);
    var s1 = dots_a(g0 + 1u, u);
    var s2 = dots_a(g0 + 2u, u);
    var s3 = dots_a(g0 + 3u, u);
    if (G > 1u) {
        lane_share(0u, t, s0);
        lane_share(1u, t, s1);
        lane_share(2u, t, s2);
        lane_share(3u, t, s3);
        lane_sync();
        s0 = lane_sum(0u, t, s0);
        s1 = lane_sum(1u, t, s1);
        s2 = lane_sum(2u, t, s2);
        s3 = lane_sum(3u, t, s3);
    }
    softmax_step(masked(s0, k0, i), masked(s1, k0 + 4u, i), masked(s2, k0 + 8u, i),
                 masked(s3, k0 + 12u, i), g0, u);
}

// The online softmax update of the row in m, l, o0.. by its 16 masked scores s0 .. s3 (the
// keys of score groups g0 .. g0+3).
fn softmax_step(s0: vec4<f32>, s1: vec4<f32>, s2: vec4<f32>, s3: vec4<f32>, g0: u32, u: u32) {
    let mx = max(max(m, max(hmax(s0), hmax(s1))), max(hmax(s2), hmax(s3)));
    let alpha = exp(m - mx);
    m = mx;
    let w0 = weights(s0, mx);
    let w1 = weights(s1, mx);
    let w2 = weights(s2, mx);
    let w3 = weights(s3, mx);
    l = l * alpha + ((hsum(w0) + hsum(w1)) + (hsum(w2) + hsum(w3)));
    rescale(alpha);
    pv(w0, g0, u);
    pv(w1, g0 + 1u, u);
    pv(w2, g0 + 2u, u);
    pv(w3, g0 + 3u, u);
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
    load_rows(SRC_Q, 4u, n, n2, h, u);
    m = NEG;
    l = 0.0;
    m2 = NEG;
    l2 = 0.0;
    let tiles = (min(r0 + RW, p.T) - 1u) / TILE + 1u;  // key tiles up to the last row's diagonal
    prefetch(t, SRC_K, SRC_V, b, h, 0u);
    for (var kb = 0u; kb < tiles; kb = kb + ST) {
        workgroupBarrier();  // the previous block and lane shares are no longer read
        stage_block(t, SRC_K, SRC_V, b, h, kb * TILE);
        workgroupBarrier();
        if (kb + ST < tiles) { prefetch(t, SRC_K, SRC_V, b, h, (kb + ST) * TILE); }
        for (var s = 0u; s < ST; s = s + 1u) {
            if (kb + s >= tiles) { break; }
            if (G > 1u && s > 0u) { lane_sync(); }  // the last tile's shares are read
            if (RR > 1u) {
                key_tile2(t, u, i, i2, 4u * s, (kb + s) * TILE);
            } else {
                key_tile(t, u, i, 4u * s, (kb + s) * TILE);
            }
        }
    }
    if (i < p.T) {
        let inv = 1.0 / l;
        let base = n * p.C + h * HD;
        put_chunk(base, u, o0 * inv);
        if (NC > 1u) { put_chunk(base, u + G, o1 * inv); }
        if (NC > 2u) { put_chunk(base, u + 2u * G, o2 * inv); }
        if (NC > 3u) { put_chunk(base, u + 3u * G, o3 * inv); }
        if (NC > 4u) { put_chunk(base, u + 4u * G, o4 * inv); }
        if (NC > 5u) { put_chunk(base, u + 5u * G, o5 * inv); }
        if (NC > 6u) { put_chunk(base, u + 6u * G, o6 * inv); }
        if (NC > 7u) { put_chunk(base, u + 7u * G, o7 * inv); }
        if (u == 0u) { lse[wg.x * p.T + i] = m + log(l); }
    }
    if (RR > 1u && i2 < p.T) {
        let inv = 1.0 / l2;
        let base = n2 * p.C + h * HD;
        put_chunk(base, u, o4 * inv);
        if (NC > 1u) { put_chunk(base, u + G, o5 * inv); }
        if (NC > 2u) { put_chunk(base, u + 2u * G, o6 * inv); }
        if (NC > 3u) { put_chunk(base, u + 3u * G, o7 * inv); }
        if (u == 0u) { lse[wg.x * p.T + i2] = m2 + log(l2); }
    }
}
