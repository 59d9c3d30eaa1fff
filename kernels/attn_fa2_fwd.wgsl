// attn_fa2_fwd.wgsl - FlashAttention-2 forward: causal multi-head attention with an online softmax.
// For query row i of head (b, h): out[b*T + i, h*hd ..] = sum_j<=i softmax_j(scale * q_i . k_j) v_j
// and lse[(b*H + h)*T + i] = log sum_j<=i exp(scale * q_i . k_j), saved for the backward.
// One workgroup of 128 per (block of BQ = 32 query rows, b*H + h): grid (ceil(T/32), B*H).
// Invocation t owns query row r = t / 4 of the block and, as member u = t % 4 of that row's quad,
// the head_dim chunks j = u + 4 k (k = 0..7; chunk j = dims 4j..4j+3), so the quad covers hd <= 128:
// its q and output chunks live in eight named vec4 registers each (q0..q7, o0..o7). K and V pass
// through workgroup memory BKV = 16 keys at a time, loaded by all 128 invocations together, only
// up to the block's last row (blocks above the diagonal are skipped). Per key block:
//   scores: each member dots its q chunks with the 16 keys' same chunks and stores the 16
//           partials; after one barrier each member adds its row's 4 partials per key (in a
//           fixed order, so all four get the same score) - no [T, T] buffer, no atomics;
//   softmax + PV: running max m and sum l per row (kept identically by the 4 members), then
//           o_k = o_k * alpha + sum_c p_c v_c[chunk u + 4k].
// Three barriers per 16 keys. Chunk groups k with 16 k >= hd are skipped (uniform branches);
// dims hd..16 ceil(hd/16) are zero in the tiles and registers.

const BQ: u32 = 32u;
const BKV: u32 = 16u;
const NCH: u32 = 32u;  // vec4 chunks per tile row (MAX_HD / 4)
const SPS: u32 = 17u;  // vec4 per row of partial scores: 16 + 1 padding (a warp's 8 rows on
                       // distinct banks)

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;

var<workgroup> kt: array<vec4<f32>, 512>;  // [BKV][NCH] key rows
var<workgroup> vt: array<vec4<f32>, 512>;  // [BKV][NCH] value rows
var<workgroup> sp: array<vec4<f32>, 544>;  // [BQ][SPS] the 4 members' partial scores

var<private> q0: vec4<f32>;
var<private> q1: vec4<f32>;
var<private> q2: vec4<f32>;
var<private> q3: vec4<f32>;
var<private> q4: vec4<f32>;
var<private> q5: vec4<f32>;
var<private> q6: vec4<f32>;
var<private> q7: vec4<f32>;
var<private> o0: vec4<f32>;
var<private> o1: vec4<f32>;
var<private> o2: vec4<f32>;
var<private> o3: vec4<f32>;
var<private> o4: vec4<f32>;
var<private> o5: vec4<f32>;
var<private> o6: vec4<f32>;
var<private> o7: vec4<f32>;

// Chunk j (dims 4j..4j+3) of the row starting at qkv[base], zero at and beyond hd.
fn chunk(base: u32, j: u32) -> vec4<f32> {
    let d = 4u * j;
    var v = vec4<f32>(0.0);
    if (d < p.hd) { v.x = qkv[base + d]; }
    if (d + 1u < p.hd) { v.y = qkv[base + d + 1u]; }
    if (d + 2u < p.hd) { v.z = qkv[base + d + 2u]; }
    if (d + 3u < p.hd) { v.w = qkv[base + d + 3u]; }
    return v;
}

fn put_chunk(base: u32, j: u32, v: vec4<f32>) {
    let d = 4u * j;
    if (d < p.hd) { out[base + d] = v.x; }
    if (d + 1u < p.hd) { out[base + d + 1u] = v.y; }
    if (d + 2u < p.hd) { out[base + d + 2u] = v.z; }
    if (d + 3u < p.hd) { out[base + d + 3u] = v.w; }
}

// This member's partial q . k_c over its chunks.
fn partial_score(c: u32, u: u32) -> f32 {
    let o = c * NCH + u;
    let hd = p.hd;
    var s = dot(q0, kt[o]);
    if (hd > 16u) { s = s + dot(q1, kt[o + 4u]); }
    if (hd > 32u) { s = s + dot(q2, kt[o + 8u]); }
    if (hd > 48u) { s = s + dot(q3, kt[o + 12u]); }
    if (hd > 64u) { s = s + dot(q4, kt[o + 16u]); }
    if (hd > 80u) { s = s + dot(q5, kt[o + 20u]); }
    if (hd > 96u) { s = s + dot(q6, kt[o + 24u]); }
    if (hd > 112u) { s = s + dot(q7, kt[o + 28u]); }
    return s;
}

fn accumulate_pv(pc: f32, c: u32, u: u32) {
    let o = c * NCH + u;
    let hd = p.hd;
    let w = vec4<f32>(pc);
    o0 = fma(w, vt[o], o0);
    if (hd > 16u) { o1 = fma(w, vt[o + 4u], o1); }
    if (hd > 32u) { o2 = fma(w, vt[o + 8u], o2); }
    if (hd > 48u) { o3 = fma(w, vt[o + 12u], o3); }
    if (hd > 64u) { o4 = fma(w, vt[o + 16u], o4); }
    if (hd > 80u) { o5 = fma(w, vt[o + 20u], o5); }
    if (hd > 96u) { o6 = fma(w, vt[o + 24u], o6); }
    if (hd > 112u) { o7 = fma(w, vt[o + 28u], o7); }
}

// Score of (row r, key c) from the 4 partials, in a fixed order; NEG where masked.
fn score(r: u32, c: u32, i: u32, j: u32) -> f32 {
    if (j > i || j >= p.T) { return NEG; }
    let v = sp[r * SPS + c];
    return p.scale * ((v.x + v.y) + (v.z + v.w));
}

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = wg.y / p.H;
    let h = wg.y % p.H;
    let hd = p.hd;
    let C3 = 3u * p.C;
    let q0r = wg.x * BQ;
    let r = t / 4u;
    let u = t % 4u;
    let i = q0r + r;
    if (i < p.T) {
        let base = (b * p.T + i) * C3 + h * hd;
        q0 = chunk(base, u);
        q1 = chunk(base, u + 4u);
        q2 = chunk(base, u + 8u);
        q3 = chunk(base, u + 12u);
        q4 = chunk(base, u + 16u);
        q5 = chunk(base, u + 20u);
        q6 = chunk(base, u + 24u);
        q7 = chunk(base, u + 28u);
    }
    let hdp = (hd + 15u) / 16u * 16u;  // dims staged per key row (zero beyond hd)
    var m = NEG;
    var l = 0.0;
    let blocks = (min(q0r + BQ, p.T) - 1u) / BKV + 1u;  // key blocks up to the last row's diagonal
    for (var kb = 0u; kb < blocks; kb = kb + 1u) {
        let k0 = kb * BKV;
        workgroupBarrier();  // the previous block's tiles and partials are no longer read
        for (var e = t; e < BKV * hdp; e = e + 128u) {
            let c = e / hdp;
            let d = e % hdp;
            let j = k0 + c;
            var kv = 0.0;
            var vv = 0.0;
            if (j < p.T && d < hd) {
                let base = (b * p.T + j) * C3 + h * hd + d;
                kv = qkv[base + p.C];
                vv = qkv[base + 2u * p.C];
            }
            kt[c * NCH + d / 4u][d % 4u] = kv;
            vt[c * NCH + d / 4u][d % 4u] = vv;
        }
        workgroupBarrier();
        for (var c = 0u; c < BKV; c = c + 1u) { sp[r * SPS + c][u] = partial_score(c, u); }
        workgroupBarrier();
        var mx = m;
        for (var c = 0u; c < BKV; c = c + 1u) { mx = max(mx, score(r, c, i, k0 + c)); }
        let alpha = exp(m - mx);
        m = mx;
        l = l * alpha;
        o0 = o0 * alpha;
        o1 = o1 * alpha;
        o2 = o2 * alpha;
        o3 = o3 * alpha;
        o4 = o4 * alpha;
        o5 = o5 * alpha;
        o6 = o6 * alpha;
        o7 = o7 * alpha;
        for (var c = 0u; c < BKV; c = c + 1u) {
            let sc = score(r, c, i, k0 + c);
            let pc = select(0.0, exp(sc - mx), sc > 0.5 * NEG);
            l = l + pc;
            accumulate_pv(pc, c, u);
        }
    }
    if (i < p.T) {
        let inv = 1.0 / l;
        let base = (b * p.T + i) * p.C + h * hd;
        put_chunk(base, u, o0 * inv);
        put_chunk(base, u + 4u, o1 * inv);
        put_chunk(base, u + 8u, o2 * inv);
        put_chunk(base, u + 12u, o3 * inv);
        put_chunk(base, u + 16u, o4 * inv);
        put_chunk(base, u + 20u, o5 * inv);
        put_chunk(base, u + 24u, o6 * inv);
        put_chunk(base, u + 28u, o7 * inv);
        if (u == 0u) { lse[wg.y * p.T + i] = m + log(l); }
    }
}
