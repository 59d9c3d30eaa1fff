// matmul_splitk_reduce_v4.wgsl - split-K matmul, step 2 of 2, for N % 4 == 0: the vec4 twin of
// matmul_splitk_reduce.wgsl. part [SPLITS, M, N] holds the partial tiles, read as vec4 (part4);
// invocation i (of a 1-D grid of 256-wide workgroups folded into (x, y)) owns the quad
// C[4i / N, 4i % N .. +3] (whole, since N % 4 == 0) and adds its SPLITS partial quads in the order
// z = 0, 1, ..., the same fixed order per element as the scalar reduce (bitwise the same sums),
// then writes it through store_c4 of include/matmul_store_vec4.wgsl (every epilogue, one vec4
// store). Bindings a and b of the shared interface are unused here (a dummy is bound).

override SPLITS: u32 = 2u;

@group(0) @binding(6) var<storage, read> part4: array<vec4<f32>>;

// Quad i of C (elements 4i .. 4i + 3): the sum of its first n slices, through the epilogue.
fn reduce(i: u32, n: u32) {
    let mn4 = mm.M * mm.N / 4u;
    var s = part4[i];
    for (var z = 1u; z < n; z = z + 1u) { s = s + part4[z * mn4 + i]; }
    let e = 4u * i;
    store_c4(e / mm.N, e % mm.N, s);
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let i = wg_linear(wg, nwg) * 256u + t;
    if (i >= mm.M * mm.N / 4u) { return; }
    reduce(i, SPLITS);
}

// Entry main_sk (kernel row matmul_splitk_reduce_v4_sk): after matmul_blocked's stream-K with tile
// BM x BN (BN % 4 == 0: a quad's four elements share a tile) and k-tiles of BK, each quad adds its
// tile's slots (include/matmul_stream_k.wgsl).
override BM: u32 = 128u;
override BN: u32 = 128u;
override BK: u32 = 8u;

@compute @workgroup_size(256)
fn main_sk(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let i = wg_linear(wg, nwg) * 256u + t;
    if (i >= mm.M * mm.N / 4u) { return; }
    reduce(i, sk_slots(4u * i / mm.N, 4u * i % mm.N));
}
