// include/matmul_out.wgsl - the scalar output side of the matmuls (appended after
// matmul_common.wgsl): C, and R, AUX of the epilogues, as f32 arrays, and `store_c`, which writes
// one finished element through the epilogue (EPILOGUE, listed in matmul_common.wgsl).
// Bindings r and aux are bound to a dummy when the epilogue does not use them. store_c4
// (include/matmul_store_vec4.wgsl) is store_c's vec4 twin on the same bindings: change both
// together.

@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> r: array<f32>;
@group(0) @binding(5) var<storage, read_write> aux: array<f32>;

// Write one finished output element through the epilogue; outside the matrix it does nothing.
fn store_c(row: u32, col: u32, acc: f32) {
    if (row >= mm.M || col >= mm.N) { return; }
    let i = row * mm.N + col;
    switch EPILOGUE {
        case 1u: { c[i] = acc + r[i]; }
        case 2u: { aux[i] = acc; c[i] = gelu(acc); }
        case 3u: { c[i] = acc * gelu_grad(r[i]); }
        case 4u: { c[i] = c[i] + acc; }
        default: { c[i] = acc; }
    }
}
