// include/matmul_tile_out.wgsl - `write_tile` of matmul_blocked (and its v4 twin): each
// invocation writes its own TM x TN finished outputs where it holds them, one put4 per row
// quad (the store include's: four scalar stores, or one vec4). Appended after
// include/matmul_tile_core.wgsl (the accumulators and their ownership);
// include/matmul_tile_out_staged.wgsl is the twin that writes through workgroup memory.

// The workgroup's finished tile at (m0, n0), through put4 (base: the split-K slice's offset).
fn write_tile(m0: u32, n0: u32, t: u32, base: u32) {
    let xy = lane_xy(t);
    let r = m0 + xy.y * 4u;
    let cl = n0 + xy.x * 4u;
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
