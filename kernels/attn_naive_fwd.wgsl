// attn_naive_fwd.wgsl - causal multi-head attention forward, scores materialised.
// qkv [B*T, 3C]: columns Q | K | V, head h at columns h*hd .. h*hd+hd inside each.
//   P[b, h, i, :] = softmax_j<=i (scale * q_i . k_j)   saved to probs [B, H, T, T] (0 above diag)
//   out[b*T + i, h*hd + c] = sum_j P[b, h, i, j] * v_j[c]                out [B*T, C]
// One 64-wide workgroup per (query row i, b*H + h): grid (T, B*H). The score row lives in
// workgroup memory, so T <= MAX_T and hd <= MAX_HD (the registry refuses larger configs).
// Parameters (binding 0) and limits: attn_naive_params.wgsl.

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;

var<workgroup> q_row: array<f32, MAX_HD>;
var<workgroup> s_row: array<f32, MAX_T>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let i = wg.x;
    let b = wg.y / p.H;
    let h = wg.y % p.H;
    let C3 = 3u * p.C;
    let q_base = (b * p.T + i) * C3 + h * p.hd;
    for (var c = t; c < p.hd; c = c + WG) { q_row[c] = qkv[q_base + c]; }
    workgroupBarrier();
    var m = -3.0e38;
    for (var j = t; j <= i; j = j + WG) {
        let k_base = (b * p.T + j) * C3 + p.C + h * p.hd;
        var s = 0.0;
        for (var c = 0u; c < p.hd; c = c + 1u) { s = s + q_row[c] * qkv[k_base + c]; }
        s = s * p.scale;
        s_row[j] = s;
        m = max(m, s);
    }
    let mx = wg_max(m, t);
    var l = 0.0;
    for (var j = t; j <= i; j = j + WG) {
        let e = exp(s_row[j] - mx);
        s_row[j] = e;
        l = l + e;
    }
    let inv = 1.0 / wg_sum(l, t);
    let p_base = (wg.y * p.T + i) * p.T;
    for (var j = t; j < p.T; j = j + WG) {
        if (j <= i) {
            let pr = s_row[j] * inv;
            s_row[j] = pr;
            probs[p_base + j] = pr;
        } else {
            probs[p_base + j] = 0.0;
        }
    }
    workgroupBarrier();
    for (var c = t; c < p.hd; c = c + WG) {
        var o = 0.0;
        for (var j = 0u; j <= i; j = j + 1u) {
            o = o + s_row[j] * qkv[(b * p.T + j) * C3 + 2u * p.C + h * p.hd + c];
        }
        out[(b * p.T + i) * p.C + h * p.hd + c] = o;
    }
}
