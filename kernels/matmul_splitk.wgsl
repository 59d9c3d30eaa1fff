// matmul_splitk.wgsl - split-K matmul, step 1 of 2: partial products over slices of K.
// For the calls with few output tiles and a long K (the weight gradients A^T @ B with K = B*T):
// workgroup (wg.x, wg.y, z) computes the 64x64 tile of op(A) @ op(B) over the k-slice
// [z*chunk, (z+1)*chunk), chunk = ceil(K / SPLITS) rounded up to BK, and STORES it (no epilogue)
// into part[z, M, N] - the buffer bound as c here is the [SPLITS, M, N] scratch, not C.
// matmul_splitk_reduce then sums the SPLITS partials in a fixed order and applies the epilogue,
// so the result is bitwise the same run to run (no atomics).
// Workgroup (16, 16); grid (ceil(N/64), ceil(M/64), SPLITS); tile core from include/matmul_tile4x4.wgsl
// (a slice past K computes zeros and stores them). Any M, N, K; forms from matmul_common.wgsl.

override SPLITS: u32 = 2u;

fn put4(base: u32, row: u32, col: u32, v: vec4<f32>) {
    if (row >= mm.M) { return; }
    let i = base + row * mm.N + col;
    if (col < mm.N) { c[i] = v.x; }
    if (col + 1u < mm.N) { c[i + 1u] = v.y; }
    if (col + 2u < mm.N) { c[i + 2u] = v.z; }
    if (col + 3u < mm.N) { c[i + 3u] = v.w; }
}

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let m0 = wg.y * BM;
    let n0 = wg.x * BM;
    let chunk = ((mm.K + SPLITS - 1u) / SPLITS + BK - 1u) / BK * BK;
    let k0 = wg.z * chunk;
    matmul_4x4(m0, n0, k0, k0 + chunk, lid, t);
    let base = wg.z * mm.M * mm.N;
    let row = m0 + lid.y * 4u;
    let col = n0 + lid.x * 4u;
    put4(base, row, col, acc0);
    put4(base, row + 1u, col, acc1);
    put4(base, row + 2u, col, acc2);
    put4(base, row + 3u, col, acc3);
}
