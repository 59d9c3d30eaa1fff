// attn_fa2_bwd_q.wgsl - FlashAttention-2 backward, step 3: dQ, no atomics.
// For query row i of head (b, h), over the keys j <= i (blocks up to the diagonal only):
//   dS_ij = P_ij (dO_i . v_j - delta_i) with P_ij = exp(scale * q_i . k_j - lse_i)
//   dq_i = scale sum_j dS_ij k_j -> dqkv[b*T + i, h*hd ..]
// One workgroup of 128 per (block of BQ = 16 query rows, b*H + h): grid (ceil(T/16), B*H). Q, dO,
// lse, delta stay in workgroup memory; K and V pass through it 8 keys at a time. Row phase as in
// attn_fa2_common.wgsl (row t / 8, slots t % 8 + 8 k in four vec4). hd <= 128.

var<private> dq0: vec4<f32>;
var<private> dq1: vec4<f32>;
var<private> dq2: vec4<f32>;
var<private> dq3: vec4<f32>;

fn store_slots(base: u32, s: u32, q: u32, v: vec4<f32>) {
    let d = s + 32u * q;
    if (d < p.hd) { dqkv[base + d] = v.x; }
    if (d + 8u < p.hd) { dqkv[base + d + 8u] = v.y; }
    if (d + 16u < p.hd) { dqkv[base + d + 16u] = v.z; }
    if (d + 24u < p.hd) { dqkv[base + d + 24u] = v.w; }
}

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = wg.y / p.H;
    let h = wg.y % p.H;
    let q0 = wg.x * BQ;
    stage_queries(t, b, h, q0);
    let r = t / BKV;
    let s = t % BKV;
    let blocks = (min(q0 + BQ, p.T) - 1u) / BKV + 1u;
    for (var kb = 0u; kb < blocks; kb = kb + 1u) {
        let k0 = kb * BKV;
        workgroupBarrier();  // the previous block's tiles are no longer read
        stage_keys(t, b, h, k0);
        workgroupBarrier();
        score_grads(t, q0, k0);
        workgroupBarrier();
        for (var c = 0u; c < BKV; c = c + 1u) {
            let ds = vec4<f32>(sblk[r * BKV + c]);
            dq0 = fma(ds, k_slots(c, s, 0u), dq0);
            if (p.hd > 32u) { dq1 = fma(ds, k_slots(c, s, 1u), dq1); }
            if (p.hd > 64u) { dq2 = fma(ds, k_slots(c, s, 2u), dq2); }
            if (p.hd > 96u) { dq3 = fma(ds, k_slots(c, s, 3u), dq3); }
        }
    }
    let i = q0 + r;
    if (i < p.T) {
        let base = (b * p.T + i) * 3u * p.C + h * p.hd;
        store_slots(base, s, 0u, dq0 * p.scale);
        store_slots(base, s, 1u, dq1 * p.scale);
        store_slots(base, s, 2u, dq2 * p.scale);
        store_slots(base, s, 3u, dq3 * p.scale);
    }
}
