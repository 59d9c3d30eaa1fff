// include/matmul_store_vec4.wgsl - the vec4 output side for N % 4 == 0 only: `store_c4` (every
// epilogue on one quad), used by matmul_splitk_reduce_v4, and `put4` of the tile kernels' "v4"
// rows (the registry's rows accept no other N and fall back to their scalar twin): four finished
// elements C[row, col..col+3], col a multiple of 4 at every call site, so col < N implies
// col + 3 < N and the quad is one aligned vec4 of C, of R, of AUX and of the split-K scratch
// [S, M, N] (base = z*M*N is a multiple of 4): one bounds check, one vec4 store.
// In place of matmul_out.wgsl (and, in a tile kernel, after matmul_tile_io.wgsl in place of
// matmul_store_scalar.wgsl): the output bindings 3..5 are declared here as vec4 arrays (c4, r4,
// aux4: registry aliases of the views bound as c, r, aux), so a kernel binds no more buffers than
// its scalar twin (a tile kernel 7 storage bindings, within WebGPU's default limit of 8) and no
// buffer twice. For the tile rows: their stores are cheaper, yet the kernel ran slower than its
// scalar twin on the H200 at long K (results/h200/s7/README.md; it holds more registers:
// results/h200/s8/README.md), so these rows are candidates beside their twins.

@group(0) @binding(3) var<storage, read_write> c4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> r4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> aux4: array<vec4<f32>>;

// The vec4 twin of matmul_out.wgsl's store_c (the same epilogues, element for element): C[row,
// col..col+3] for row < M and col + 3 < N (the caller checks).
fn store_c4(row: u32, col: u32, acc: vec4<f32>) {
    let i = (row * mm.N + col) >> 2u;
    switch EPILOGUE {
        case 1u: { c4[i] = acc + r4[i]; }
        case 2u: {
            aux4[i] = acc;
            c4[i] = vec4<f32>(gelu(acc.x), gelu(acc.y), gelu(acc.z), gelu(acc.w));
        }
        case 3u: {
            let u = r4[i];
            let g = vec4<f32>(gelu_grad(u.x), gelu_grad(u.y), gelu_grad(u.z), gelu_grad(u.w));
            c4[i] = acc * g;
        }
        case 4u: { c4[i] = c4[i] + acc; }
        default: { c4[i] = acc; }
    }
}

fn put4(row: u32, col: u32, v: vec4<f32>, base: u32) {
    if (row >= mm.M || col >= mm.N) { return; }
    if (SPLITS == 1u) {
        store_c4(row, col, v);
    } else {
        c4[(base + row * mm.N + col) >> 2u] = v;
    }
}
