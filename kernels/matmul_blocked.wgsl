// matmul_blocked.wgsl - register-blocked matmul, one kernel for every tile shape (override
// constants BM, BN, BK, TM, TN, VEC of include/matmul_tile_core.wgsl) and for split-K (SPLITS).
// Computes C[M, N] = op(A) @ op(B) (+ epilogue); forms and epilogues from matmul_common.wgsl.
// Workgroup (BN / TN, BM / TM); grid (ceil(N / BN), ceil(M / BM), SPLITS). Any M, N, K (VEC = 1
// only where the contiguous axes are multiples of 4: kernels.matmul_rules.vec4_ok).
// SPLITS = 1: the workgroup walks all of K and writes its tile through store_c (the epilogue).
// SPLITS > 1: workgroup z covers the k-slice [z*chunk, (z+1)*chunk), chunk = ceil(K / SPLITS)
// rounded up to BK, and stores its partial tile, without epilogue, into c seen as the scratch
// [SPLITS, M, N]; matmul_splitk_reduce adds the slices in a fixed order (a slice past K stores
// zeros), so the result is bitwise the same run to run.

fn put(row: u32, col: u32, v: f32, base: u32) {
    if (SPLITS == 1u) {
        store_c(row, col, v);
    } else if (row < mm.M && col < mm.N) {
        c[base + row * mm.N + col] = v;
    }
}

fn put4(row: u32, col: u32, v: vec4<f32>, base: u32) {
    put(row, col, v.x, base);
    put(row, col + 1u, v.y, base);
    put(row, col + 2u, v.z, base);
    put(row, col + 3u, v.w, base);
}

@compute @workgroup_size(WX, WY)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    var k0 = 0u;
    var k1 = mm.K;
    var base = 0u;
    if (SPLITS > 1u) {
        let chunk = ((mm.K + SPLITS - 1u) / SPLITS + BK - 1u) / BK * BK;
        k0 = wg.z * chunk;
        k1 = k0 + chunk;
        base = wg.z * mm.M * mm.N;
    }
    matmul_tile(m0, n0, k0, k1, lid.x, lid.y, t);
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
