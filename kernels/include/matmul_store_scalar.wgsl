// include/matmul_store_scalar.wgsl - `put4` of the tile kernels for any N: four finished
// elements C[row, col..col+3] (col a multiple of 4 at every call site) as four checked scalar
// stores, through the epilogue (store_c of include/matmul_out.wgsl) or into the split-K scratch.
// Appended after matmul_tile_io.wgsl; matmul_store_vec4.wgsl is its vec4 twin (N % 4 == 0).

// One finished element: through the epilogue (SPLITS = 1) or into the split-K scratch.
fn put(row: u32, col: u32, v: f32, base: u32) {
    if (SPLITS == 1u) {
        store_c(row, col, v);
    } else if (row < mm.M && col < mm.N) {
        c[base + row * mm.N + col] = v;
    }
}

// Four of them: C[row, col..col+3].
fn put4(row: u32, col: u32, v: vec4<f32>, base: u32) {
    put(row, col, v.x, base);
    put(row, col + 1u, v.y, base);
    put(row, col + 2u, v.z, base);
    put(row, col + 3u, v.w, base);
}

