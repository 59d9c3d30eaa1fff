// matmul_blocked.wgsl - register-blocked matmul, one kernel for every tile shape (override
// constants BM, BN, BK, TM, TN, VEC of include/matmul_tile_core.wgsl) and for split-K (SPLITS).
// Computes C[M, N] = op(A) @ op(B) (+ epilogue); forms and epilogues from matmul_common.wgsl,
// tile staging, k-loop and split-K slices from include/matmul_tile_io.wgsl, the output quads'
// stores from include/matmul_store_scalar.wgsl (kernel matmul_blocked, any N) or
// include/matmul_store_vec4.wgsl (kernel matmul_blocked_v4, N % 4 == 0: one vec4 store each).
// Workgroup (BN / TN, BM / TM); grid (ceil(N / BN), ceil(M / BM), SPLITS). Any M, N, K (VEC = 1
// only where the contiguous axes are multiples of 4: kernels.matmul_rules.vec4_ok).
// SPLITS = 1: the workgroup walks all of K and writes its tile through the epilogue.
// SPLITS > 1: workgroup z walks its k-slice and stores its partial tile (matmul_splitk_reduce,
// or matmul_splitk_reduce_v4 where N % 4 == 0, then adds the slices in a fixed order).

@compute @workgroup_size(WX, WY)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    let s = k_slice(wg.z);
    let base = s.z;
    matmul_tile(m0, n0, s.x, s.y, t);
    let r = m0 + lid.y * 4u;
    let cl = n0 + lid.x * 4u;
    let rh = r + BM / 2u;
    let ch = cl + BN / 2u;
    put4(r, cl, acc0l, base);
    put4(r + 1u, cl, acc1l, base);
    put4(r + 2u, cl, acc2l, base);
    put4(r + 3u, cl, acc3l, base);
    if (TN == 8u) {
        put4(r, ch, acc0h, base);
        put4(r + 1u, ch, acc1h, base);
        put4(r + 2u, ch, acc2h, base);
        put4(r + 3u, ch, acc3h, base);
    }
    if (TM == 8u) {
        put4(rh, cl, acc4l, base);
        put4(rh + 1u, cl, acc5l, base);
        put4(rh + 2u, cl, acc6l, base);
        put4(rh + 3u, cl, acc7l, base);
    }
    if (TM == 8u && TN == 8u) {
        put4(rh, ch, acc4h, base);
        put4(rh + 1u, ch, acc5h, base);
        put4(rh + 2u, ch, acc6h, base);
        put4(rh + 3u, ch, acc7h, base);
    }
}
