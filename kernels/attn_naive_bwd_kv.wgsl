// attn_naive_bwd_kv.wgsl - causal attention backward, part 2: dK and dV.
// For key row j of head (b, h), summing over the query rows i >= j that see it:
//   dk_j[c] = sum_i dS_ij q_i[c]  -> dqkv[b*T + j, C + h*hd + c]
//   dv_j[c] = sum_i P_ij dO_i[c]  -> dqkv[b*T + j, 2C + h*hd + c]
// dS (already scaled) and P come from attn_naive_bwd_q / attn_naive_fwd, [B, H, T, T].
// One 64-wide workgroup per (j, b*H + h): grid (T, B*H); invocation t owns outputs t, t+64, ...
// of the 2*hd values (dk then dv).
// Parameters (binding 0) and limits: attn_naive_params.wgsl.

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> probs: array<f32>;
@group(0) @binding(3) var<storage, read> dout: array<f32>;
@group(0) @binding(4) var<storage, read> dscores: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let j = wg.x;
    let b = wg.y / p.H;
    let h = wg.y % p.H;
    let C3 = 3u * p.C;
    let bh_base = wg.y * p.T * p.T;
    for (var o = t; o < 2u * p.hd; o = o + 64u) {
        var acc = 0.0;
        if (o < p.hd) {
            for (var i = j; i < p.T; i = i + 1u) {
                acc = acc + dscores[bh_base + i * p.T + j] * qkv[(b * p.T + i) * C3 + h * p.hd + o];
            }
            dqkv[(b * p.T + j) * C3 + p.C + h * p.hd + o] = acc;
        } else {
            let c = o - p.hd;
            for (var i = j; i < p.T; i = i + 1u) {
                acc = acc + probs[bh_base + i * p.T + j] * dout[(b * p.T + i) * p.C + h * p.hd + c];
            }
            dqkv[(b * p.T + j) * C3 + 2u * p.C + h * p.hd + c] = acc;
        }
    }
}
