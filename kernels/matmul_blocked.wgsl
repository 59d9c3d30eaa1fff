// matmul_blocked.wgsl - register-blocked matmul, one kernel for every tile shape (override
// constants BM, BN, BK, TM, TN, VEC of include/matmul_tile_core.wgsl) and for split-K (SPLITS).
// Computes C[M, N] = op(A) @ op(B) (+ epilogue); forms and epilogues from matmul_common.wgsl,
// tile staging, k-loop and split-K slices from include/matmul_tile_io.wgsl, the finished tile's
// write (write_tile) from include/matmul_tile_out.wgsl with the output quads' stores of
// include/matmul_store_scalar.wgsl (kernel matmul_blocked, any N) or
// include/matmul_store_vec4.wgsl (kernel matmul_blocked_v4, N % 4 == 0: one vec4 store each),
// or from include/matmul_tile_out_staged.wgsl (kernel matmul_blocked_os, any N: through
// workgroup memory, row-contiguous scalar stores).
// Workgroup (BN / TN, BM / TM); grid (ceil(N / BN), ceil(M / BM), SPLITS). Any M, N, K (VEC = 1
// only where the m- / n-contiguous operands' rows hold whole vec4s: kernels.matmul_rules.vec4_ok).
// SPLITS = 1: the workgroup walks all of K and writes its tile through the epilogue.
// SPLITS > 1: workgroup z walks its k-slice and stores its partial tile (matmul_splitk_reduce,
// or matmul_splitk_reduce_v4 where N % 4 == 0, then adds the slices in a fixed order).
// Entry main_sk (kernel rows *_sk, SKG >= 1, SPLITS >= 2): stream-K, below.

@compute @workgroup_size(WX, WY)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    let s = k_slice(wg.z);
    matmul_tile(m0, n0, s.x, s.y, t);
    write_tile(m0, n0, t, s.z);
}

// Stream-K (entry main_sk, include/matmul_stream_k.wgsl): workgroup g walks its run of the
// tiles' k-tiles and writes a partial tile per tile it touches (SPLITS, at least 2, only sends
// the stores to the scratch).
@compute @workgroup_size(WX, WY)
fn main_sk(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let g = wg.x;
    let tiles_n = sk_tiles_n();
    let kt = sk_ktiles();
    let per = sk_run();
    var it = g * per;
    let end = min(it + per, sk_tiles() * kt);
    loop {
        if (it >= end) { break; }
        let tile = it / kt;
        let k0 = it % kt;
        let k1 = min(kt, k0 + end - it);
        let m0 = (tile / tiles_n) * BM;
        let n0 = (tile % tiles_n) * BN;
        zero_acc();
        matmul_tile(m0, n0, k0 * BK, k1 * BK, t);
        write_tile(m0, n0, t, (g - sk_first(tile)) * mm.M * mm.N);
        workgroupBarrier();  // the staged write's reads of sa are done before the next staging
        it = it + k1 - k0;
    }
}
