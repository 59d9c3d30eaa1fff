// attn_fa2_bwd_pre.wgsl - FlashAttention-2 backward, step 1: delta = rowsum(dO * O) per query row,
// delta[(b*H + h)*T + i] = sum_c dout[b*T + i, h*hd + c] * out[b*T + i, h*hd + c]
// (= sum_j P_ij dP_ij, the softmax backward's row term). One invocation per (b, h, i); 64-wide
// workgroups over a 1-D grid folded into (x, y).

@group(0) @binding(1) var<storage, read> out: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read_write> delta: array<f32>;

@compute @workgroup_size(64)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let row = wg_linear(wg, nwg) * 64u + t;  // (b*H + h)*T + i
    if (row >= p.B * p.H * p.T) { return; }
    let bh = row / p.T;
    let i = row % p.T;
    let base = ((bh / p.H) * p.T + i) * p.C + (bh % p.H) * p.hd;
    var s = 0.0;
    for (var d = 0u; d < p.hd; d = d + 1u) { s = fma(dout[base + d], out[base + d], s); }
    delta[row] = s;
}
