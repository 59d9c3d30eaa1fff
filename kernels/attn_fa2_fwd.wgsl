// attn_fa2_fwd.wgsl - FlashAttention-2 forward: causal multi-head attention with an online softmax.
// For query row i of head (b, h): out[b*T + i, h*hd ..] = sum_j<=i softmax_j(scale * q_i . k_j) v_j
// and lse[(b*H + h)*T + i] = log sum_j<=i exp(scale * q_i . k_j), saved for the backward.
// One workgroup of 128 per (block of BQ = 16 query rows, b*H + h): grid (ceil(T/16), B*H). The
// Q block stays in workgroup memory; K and V pass through it 8 keys at a time, only up to the
// block's last row (blocks above the diagonal are skipped). Each query row keeps its running
// max m, sum l and output slots in registers (layout in attn_fa2_common.wgsl); nothing of size
// [T, T] is ever stored. hd <= 128.

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;

var<private> o0: vec4<f32>;
var<private> o1: vec4<f32>;
var<private> o2: vec4<f32>;
var<private> o3: vec4<f32>;

fn store_slots(base: u32, s: u32, q: u32, v: vec4<f32>) {
    let d = s + 32u * q;
    if (d < p.hd) { out[base + d] = v.x; }
    if (d + 8u < p.hd) { out[base + d + 8u] = v.y; }
    if (d + 16u < p.hd) { out[base + d + 16u] = v.z; }
    if (d + 24u < p.hd) { out[base + d + 24u] = v.w; }
}

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = wg.y / p.H;
    let h = wg.y % p.H;
    let hd = p.hd;
    let C3 = 3u * p.C;
    let q0 = wg.x * BQ;
    for (var e = t; e < BQ * hd; e = e + 128u) {
        let i = q0 + e / hd;
        var v = 0.0;
        if (i < p.T) { v = qkv[(b * p.T + i) * C3 + h * hd + e % hd]; }
        qs[(e / hd) * QS + e % hd] = v;
    }
    let r = t / BKV;  // query row of this invocation (row phase) and of its score (score phase)
    let c = t % BKV;  // key of its score; also its slot offset s in the row phase
    let i = q0 + r;
    var m = NEG;
    var l = 0.0;
    let blocks = (min(q0 + BQ, p.T) - 1u) / BKV + 1u;  // key blocks up to the last row's diagonal
    for (var kb = 0u; kb < blocks; kb = kb + 1u) {
        let k0 = kb * BKV;
        workgroupBarrier();  // the previous block's tiles are no longer read
        for (var e = t; e < BKV * hd; e = e + 128u) {
            let j = k0 + e / hd;
            var kv = 0.0;
            var vv = 0.0;
            if (j < p.T) {
                let base = (b * p.T + j) * C3 + h * hd + e % hd;
                kv = qkv[base + p.C];
                vv = qkv[base + 2u * p.C];
            }
            ks[(e / hd) * KS + e % hd] = kv;
            vs[(e / hd) * KS + e % hd] = vv;
        }
        workgroupBarrier();
        let j = k0 + c;
        var sc = NEG;
        if (j <= i && j < p.T) { sc = p.scale * dot_qk(r, c, hd); }
        sblk[t] = sc;
        workgroupBarrier();
        var mx = m;
        for (var jj = 0u; jj < BKV; jj = jj + 1u) { mx = max(mx, sblk[r * BKV + jj]); }
        pblk[t] = select(0.0, exp(sc - mx), sc > 0.5 * NEG);
        workgroupBarrier();
        let alpha = exp(m - mx);
        m = mx;
        l = l * alpha;
        o0 = o0 * alpha;
        o1 = o1 * alpha;
        o2 = o2 * alpha;
        o3 = o3 * alpha;
        for (var jj = 0u; jj < BKV; jj = jj + 1u) {
            let pj = pblk[r * BKV + jj];
            l = l + pj;
            o0 = fma(vec4<f32>(pj), v_slots(jj, c, 0u), o0);
            if (hd > 32u) { o1 = fma(vec4<f32>(pj), v_slots(jj, c, 1u), o1); }
            if (hd > 64u) { o2 = fma(vec4<f32>(pj), v_slots(jj, c, 2u), o2); }
            if (hd > 96u) { o3 = fma(vec4<f32>(pj), v_slots(jj, c, 3u), o3); }
        }
    }
    if (i < p.T) {
        let inv = 1.0 / l;
        let base = (b * p.T + i) * p.C + h * hd;
        store_slots(base, c, 0u, o0 * inv);
        store_slots(base, c, 1u, o1 * inv);
        store_slots(base, c, 2u, o2 * inv);
        store_slots(base, c, 3u, o3 * inv);
        if (c == 0u) { lse[wg.y * p.T + i] = m + log(l); }
    }
}
