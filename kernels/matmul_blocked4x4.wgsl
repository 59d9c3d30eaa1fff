// matmul_blocked4x4.wgsl - register-blocked matmul: 64x64 output tile, 4x4 outputs per invocation.
// Computes C[M, N] = op(A) @ op(B) (+ epilogue); forms and epilogues come from matmul_common.wgsl,
// the tile core (ownership, accumulators, workgroup tiles) from include/matmul_tile4x4.wgsl.
// Workgroup (16, 16); grid (ceil(N/64), ceil(M/64)); invocation (tx, ty) of workgroup (wg.x, wg.y)
// owns C[wg.y*64 + ty*4 + {0..3}, wg.x*64 + tx*4 + {0..3}]. Any M, N, K.

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let m0 = wg.y * BM;
    let n0 = wg.x * BM;
    matmul_4x4(m0, n0, 0u, mm.K, lid, t);
    let row = m0 + lid.y * 4u;
    let col = n0 + lid.x * 4u;
    store4(row, col, acc0);
    store4(row + 1u, col, acc1);
    store4(row + 2u, col, acc2);
    store4(row + 3u, col, acc3);
}
