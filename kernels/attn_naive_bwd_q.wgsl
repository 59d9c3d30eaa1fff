// attn_naive_bwd_q.wgsl - causal attention backward, part 1: score gradients and dQ.
// For query row i of head (b, h), with dO = dout[b*T + i, h*hd ..]:
//   dP_j = dO . v_j,  D = sum_j P_ij dP_j,  dS_ij = scale * P_ij (dP_j - D)   (j <= i)
//   dq_i = sum_j dS_ij k_j  -> dqkv[b*T + i, h*hd + c]
// dS is saved to dscores [B, H, T, T] (only j <= i written; attn_naive_bwd_kv reads only those).
// One 64-wide workgroup per (i, b*H + h): grid (T, B*H). Limits as attn_naive_fwd.
// Parameters (binding 0) and limits: attn_naive_params.wgsl.

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> probs: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read_write> dscores: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<f32>;

var<workgroup> do_row: array<f32, MAX_HD>;
var<workgroup> ds_row: array<f32, MAX_T>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let i = wg.x;
    let b = wg.y / p.H;
    let h = wg.y % p.H;
    let C3 = 3u * p.C;
    let row = b * p.T + i;
    for (var c = t; c < p.hd; c = c + WG) { do_row[c] = dout[row * p.C + h * p.hd + c]; }
    workgroupBarrier();
    let p_base = (wg.y * p.T + i) * p.T;
    var acc = 0.0;
    for (var j = t; j <= i; j = j + WG) {
        let v_base = (b * p.T + j) * C3 + 2u * p.C + h * p.hd;
        var dp = 0.0;
        for (var c = 0u; c < p.hd; c = c + 1u) { dp = dp + do_row[c] * qkv[v_base + c]; }
        ds_row[j] = dp;
        acc = acc + probs[p_base + j] * dp;
    }
    let D = wg_sum(acc, t);
    for (var j = t; j <= i; j = j + WG) {
        let ds = p.scale * probs[p_base + j] * (ds_row[j] - D);
        ds_row[j] = ds;
        dscores[p_base + j] = ds;
    }
    workgroupBarrier();
    for (var c = t; c < p.hd; c = c + WG) {
        var dq = 0.0;
        for (var j = 0u; j <= i; j = j + 1u) {
            dq = dq + ds_row[j] * qkv[(b * p.T + j) * C3 + p.C + h * p.hd + c];
        }
        dqkv[row * C3 + h * p.hd + c] = dq;
    }
}
