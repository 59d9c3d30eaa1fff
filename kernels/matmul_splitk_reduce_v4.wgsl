// matmul_splitk_reduce_v4.wgsl - split-K matmul, step 2 of 2, for N % 4 == 0: the vec4 twin of
// matmul_splitk_reduce.wgsl. part [SPLITS, M, N] holds the partial tiles, read as vec4 (part4);
// invocation i (of a 1-D grid of 256-wide workgroups folded into (x, y)) owns the quad
// C[4i / N, 4i % N .. +3] (whole, since N % 4 == 0) and adds its SPLITS partial quads in the order
// z = 0, 1, ..., the same fixed order per element as the scalar reduce (bitwise the same sums),
// then writes it through store_c4 of include/matmul_store_vec4.wgsl (every epilogue, one vec4
// store). Bindings a and b of the shared interface are unused here (a dummy is bound).

override SPLITS: u32 = 2u;

@group(0) @binding(6) var<storage, read> part4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let i = wg_linear(wg, nwg) * 256u + t;
    let mn4 = mm.M * mm.N / 4u;
    if (i >= mn4) { return; }
    var s = part4[i];
    for (var z = 1u; z < SPLITS; z = z + 1u) { s = s + part4[z * mn4 + i]; }
    let e = 4u * i;
    store_c4(e / mm.N, e % mm.N, s);
}

// Entry main_sk (kernel rows *_sk): after matmul_blocked's stream-K (SKG workgroups, tile BM x BN,
// k-tiles of BK), an element adds only its tile's slots, 0 .. (the workgroups its tile's run
// spans - 1), in that order.
override SKG: u32 = 1u;
override BM: u32 = 128u;
override BN: u32 = 128u;
override BK: u32 = 8u;

fn slots(row: u32, col: u32) -> u32 {
    let tiles_n = (mm.N + BN - 1u) / BN;
    let tiles = tiles_n * ((mm.M + BM - 1u) / BM);
    let kt = (mm.K + BK - 1u) / BK;
    let per = (tiles * kt + SKG - 1u) / SKG;
    let tile = (row / BM) * tiles_n + col / BN;
    return ((tile + 1u) * kt - 1u) / per - tile * kt / per + 1u;
}

@compute @workgroup_size(256)
fn main_sk(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let i = wg_linear(wg, nwg) * 256u + t;
    let mn4 = mm.M * mm.N / 4u;
    if (i >= mn4) { return; }
    let e = 4u * i;
    let n = slots(e / mm.N, e % mm.N);  // BN % 4 == 0: the quad's four share a tile
    var s = part4[i];
    for (var z = 1u; z < n; z = z + 1u) { s = s + part4[z * mn4 + i]; }
    store_c4(e / mm.N, e % mm.N, s);
}
