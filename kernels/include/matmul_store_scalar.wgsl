// include/matmul_store_scalar.wgsl - `put4` of the tile kernels for any N: four finished
// elements C[row, col..col+3] (col a multiple of 4 at every call site) as four checked scalar
// `put`s (include/matmul_tile_io.wgsl: through the epilogue, or into the split-K scratch).
// Appended after matmul_tile_io.wgsl; matmul_store_vec4.wgsl is its vec4 twin (N % 4 == 0).

fn put4(row: u32, col: u32, v: vec4<f32>, base: u32) {
    put(row, col, v.x, base);
    put(row, col + 1u, v.y, base);
    put(row, col + 2u, v.z, base);
    put(row, col + 3u, v.w, base);
}
