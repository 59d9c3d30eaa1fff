// attn_fa2_bwd_kv.wgsl - FlashAttention-2 backward, step 2: dK and dV, no atomics.
// For key row j of head (b, h), over the query rows i >= j (blocks below the diagonal only):
//   P_ij = exp(scale * q_i . k_j - lse_i),  dS_ij = P_ij (dO_i . v_j - delta_i)
//   dv_j = sum_i P_ij dO_i -> dqkv[b*T + j, 2C + h*hd ..],  dk_j = scale sum_i dS_ij q_i -> [C + ..]
// One workgroup of 128 per (block of BKV = 8 keys, b*H + h): grid (ceil(T/8), B*H). K, V stay
// in workgroup memory; Q, dO, lse, delta pass through it 16 query rows at a time. Row phase:
// invocation t owns key row t / 16 and slots d = t % 16 + 16 k (k = 0..7, two vec4 each for dK
// and dV, k = 4 q + component). hd <= 128.

var<private> dk0: vec4<f32>;
var<private> dk1: vec4<f32>;
var<private> dv0: vec4<f32>;
var<private> dv1: vec4<f32>;

fn q16(r: u32, s: u32, q: u32) -> vec4<f32> {
    let o = r * QS + s + 64u * q;
    return vec4<f32>(qs[o], qs[o + 16u], qs[o + 32u], qs[o + 48u]);
}

fn do16(r: u32, s: u32, q: u32) -> vec4<f32> {
    let o = r * QS + s + 64u * q;
    return vec4<f32>(dos[o], dos[o + 16u], dos[o + 32u], dos[o + 48u]);
}

fn store16(base: u32, s: u32, q: u32, v: vec4<f32>) {
    let d = s + 64u * q;
    if (d < p.hd) { dqkv[base + d] = v.x; }
    if (d + 16u < p.hd) { dqkv[base + d + 16u] = v.y; }
    if (d + 32u < p.hd) { dqkv[base + d + 32u] = v.z; }
    if (d + 48u < p.hd) { dqkv[base + d + 48u] = v.w; }
}

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
    let b = wg.y / p.H;
    let h = wg.y % p.H;
    let k0 = wg.x * BKV;
    stage_keys(t, b, h, k0);
    let jr = t / 16u;
    let s = t % 16u;
    let blocks = (p.T + BQ - 1u) / BQ;
    for (var qb = k0 / BQ; qb < blocks; qb = qb + 1u) {
        let q0 = qb * BQ;
        workgroupBarrier();  // the previous block's tiles are no longer read
        stage_queries(t, b, h, q0);
        workgroupBarrier();
        score_grads(t, q0, k0);
        workgroupBarrier();
        for (var r = 0u; r < BQ; r = r + 1u) {
            let pr = vec4<f32>(pblk[r * BKV + jr]);
            let ds = vec4<f32>(sblk[r * BKV + jr]);
            dv0 = fma(pr, do16(r, s, 0u), dv0);
            dk0 = fma(ds, q16(r, s, 0u), dk0);
            if (p.hd > 64u) {
                dv1 = fma(pr, do16(r, s, 1u), dv1);
                dk1 = fma(ds, q16(r, s, 1u), dk1);
            }
        }
    }
    let j = k0 + jr;
    if (j < p.T) {
        let base = (b * p.T + j) * 3u * p.C + h * p.hd;
        store16(base + p.C, s, 0u, dk0 * p.scale);
        store16(base + p.C, s, 1u, dk1 * p.scale);
        store16(base + 2u * p.C, s, 0u, dv0);
        store16(base + 2u * p.C, s, 1u, dv1);
    }
}
