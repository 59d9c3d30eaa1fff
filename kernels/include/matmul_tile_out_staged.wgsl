// include/matmul_tile_out_staged.wgsl - `write_tile` of the "o" rows (kernel matmul_blocked_os):
// the finished tile goes out through workgroup memory, so that consecutive invocations store
// consecutive elements of a row of C (a warp store covers 32 consecutive floats, whole 128-byte
// lines where N % 32 == 0) instead of each storing its own quads (on the direct path one warp
// store writes one float in every 16 bytes of a 512-byte span, and a quad takes four). Any M, N:
// each element is one checked scalar store through `put` of include/matmul_store_scalar.wgsl
// (epilogue, or the split-K scratch).
// Appended after include/matmul_tile_core.wgsl. One round per accumulator row j (TM rounds, two
// barriers each): invocation (tx, ty) writes its row quads of rows ty*4 + j%4 (+ BM/2 for j >= 4)
// into the A tile buffer `sa` (free once the k-loop's last barrier has passed), seen as a flat
// f32 slab [WY][4][PL]: column c of slab row y at plane c % 4, word c / 4. A quad is four scalar
// stores, one per plane, consecutive invocations on consecutive words (no bank conflict where a
// warp spans one slab row, WX >= 32; 32 / WX-way where it spans several, as slab rows start 0
// banks apart); then invocation t stores elements t, t + NT, ... (TN of them) of that [WY][BN]
// slab, row by row, its reads on 32 distinct banks per warp (PL = BN/4 + 8 puts plane p 8p banks
// on at BN = 128, 24p at BN = 64). No accumulator is stored as a vec4: builds that did so (a vec4
// slab, the v4 rows' vec4 stores to C) ran a slower k-loop on the H200
// (results/h200/s11/README.md).
// Limits: WY * 4 * PL floats fit in sa's 2 * BK * (BM/4 + 1) vec4: registry._os checks.

override PL: u32 = BN / 4u + 8u;  // floats per plane of a slab row

// Float w of sa seen as a flat f32 array.
fn slab_put(w: u32, v: f32) { sa[w >> 2u][w & 3u] = v; }
fn slab_get(w: u32) -> f32 { return sa[w >> 2u][w & 3u]; }

// Quad v of columns 4q..4q+3 of slab row y, one float per plane.
fn slab_put4(y: u32, q: u32, v: vec4<f32>) {
    let w = y * 4u * PL + q;
    slab_put(w, v.x);
    slab_put(w + PL, v.y);
    slab_put(w + 2u * PL, v.z);
    slab_put(w + 3u * PL, v.w);
}

// One round: accumulator row j of every invocation (lo: columns tx*4.., hi: BN/2 + tx*4..).
fn write_round(j: u32, lo: vec4<f32>, hi: vec4<f32>, m0: u32, n0: u32, t: u32, base: u32) {
    let xy = lane_xy(t);
    let tx = xy.x;
    let ty = xy.y;
    workgroupBarrier();  // every read of sa (the k-loop's, the previous round's) is done
    slab_put4(ty, tx, lo);
    if (TN == 8u) { slab_put4(ty, WX + tx, hi); }
    workgroupBarrier();
    let row0 = m0 + (j & 3u) + (j >> 2u) * (BM / 2u);
    for (var i = 0u; i < TN; i = i + 1u) {
        let e = t + i * NT;
        let y = e / BN;
        let col = e % BN;
        let v = slab_get(y * 4u * PL + (col & 3u) * PL + (col >> 2u));
        put(row0 + y * 4u, n0 + col, v, base);
    }
}

// The workgroup's finished tile at (m0, n0); call in uniform control flow (barriers).
fn write_tile(m0: u32, n0: u32, t: u32, base: u32) {
    write_round(0u, acc0l, acc0h, m0, n0, t, base);
    write_round(1u, acc1l, acc1h, m0, n0, t, base);
    write_round(2u, acc2l, acc2h, m0, n0, t, base);
    write_round(3u, acc3l, acc3h, m0, n0, t, base);
    if (TM == 8u) {
        write_round(4u, acc4l, acc4h, m0, n0, t, base);
        write_round(5u, acc5l, acc5h, m0, n0, t, base);
        write_round(6u, acc6l, acc6h, m0, n0, t, base);
        write_round(7u, acc7l, acc7h, m0, n0, t, base);
    }
}
