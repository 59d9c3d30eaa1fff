// attn_fa2_fwd.wgsl - FlashAttention-2 forward: causal multi-head attention with an online softmax.
// For query row i of head (b, h) = bh: out[b*T + i, h*hd ..] = sum_j<=i softmax_j(scale q_i . k_j) v_j
// and lse[bh*T + i] = log sum_j<=i exp(scale q_i . k_j), saved for the backward.
// Grid (B*H, ceil(T / RW)), workgroups of 64; the block with the most keys (the last) of every head
// is dispatched first. Layout as in include/attn_fa2_common.wgsl: the G dim lanes of query row r
// hold q_i in a0.. and an output accumulator in o0.. (lane u: chunks u + G k); K and V pass
// through xt, yt 16 keys at a time, only up to the block's last row (tiles above the diagonal
// skipped). Per group of 4 keys a split lane takes: scores (added across dim lanes when G > 1),
// its running max m and sum l (rescaling o only when m grows), o += sum_c p_c v_c. At the end the
// S split lanes' states are merged once: M = max m_s, l = sum l_s e^(m_s - M), o likewise.
// Two barriers per tile (plus one per group when G > 1). Registers: 2 * NC vec4 + 4 scores.

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

var<workgroup> ml: array<vec2<f32>, 64>;  // (m, l) of every invocation, for the split-lane merge

fn elem(src: u32, n: u32, col: u32) -> f32 {
    return qkv[n * 3u * p.C + src * p.C + col];
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

// o0.. -> exchange slots 0 .. NC-1 (for the split-lane merge).
fn stash_o(t: u32) {
    share(0u, t, o0);
    if (NC > 1u) { share(1u, t, o1); }
    if (NC > 2u) { share(2u, t, o2); }
    if (NC > 3u) { share(3u, t, o3); }
    if (NC > 4u) { share(4u, t, o4); }
    if (NC > 5u) { share(5u, t, o5); }
    if (NC > 6u) { share(6u, t, o6); }
    if (NC > 7u) { share(7u, t, o7); }
}

// o0.. <- the split lanes' accumulators weighted by f.
fn gather_o(t: u32, f: vec4<f32>) {
    o0 = split_sum(0u, t, f);
    if (NC > 1u) { o1 = split_sum(1u, t, f); }
    if (NC > 2u) { o2 = split_sum(2u, t, f); }
    if (NC > 3u) { o3 = split_sum(3u, t, f); }
    if (NC > 4u) { o4 = split_sum(4u, t, f); }
    if (NC > 5u) { o5 = split_sum(5u, t, f); }
    if (NC > 6u) { o6 = split_sum(6u, t, f); }
    if (NC > 7u) { o7 = split_sum(7u, t, f); }
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

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = wg.x / p.H;
    let h = wg.x % p.H;
    let r0 = ((p.T + RW - 1u) / RW - 1u - wg.y) * RW;  // last block first
    let u = t % G;
    let sl = (t / G) % S;
    let i = r0 + t / (G * S);
    let n = b * p.T + min(i, p.T - 1u);  // rows past T compute a copy of the last, unwritten
    load_rows(SRC_Q, 4u, n, h, u);
    var m = NEG;
    var l = 0.0;
    let tiles = (min(r0 + RW, p.T) - 1u) / TILE + 1u;  // key tiles up to the last row's diagonal
    for (var kt = 0u; kt < tiles; kt = kt + 1u) {
        let k0 = kt * TILE;
        workgroupBarrier();  // the previous tile and lane shares are no longer read
        stage(t, SRC_K, SRC_V, b, h, k0);
        workgroupBarrier();
        for (var k = 0u; k < GROUPS; k = k + 1u) {
            let g = sl + k * S;
            var sc = dots_a(g, u);
            if (G > 1u) {
                share(k, t, sc);
                workgroupBarrier();
                sc = row_sum(k, t);
            }
            sc = masked(sc, k0 + 4u * g, i);
            let mx = max(m, hmax(sc));
            if (mx > m) {
                let alpha = exp(m - mx);
                l = l * alpha;
                rescale(alpha);
                m = mx;
            }
            let w = weights(sc, m);
            l = l + hsum(w);
            pv(w, g, u);
        }
    }
    if (S > 1u) {
        workgroupBarrier();  // tiles and lane shares are no longer read
        ml[t] = vec2<f32>(m, l);
        stash_o(t);
        workgroupBarrier();
        if (sl == 0u) {
            var ms = vec4<f32>(NEG);
            var ls = vec4<f32>(0.0);
            for (var q = 0u; q < S; q = q + 1u) {
                let v = ml[t + q * G];
                ms[q] = v.x;
                ls[q] = v.y;
            }
            m = hmax(ms);
            let f = select(vec4<f32>(0.0), exp(ms - vec4<f32>(m)), ms > vec4<f32>(0.5 * NEG));
            l = hsum(ls * f);
            gather_o(t, f);
        }
    }
    if (i < p.T && sl == 0u) {
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
}
