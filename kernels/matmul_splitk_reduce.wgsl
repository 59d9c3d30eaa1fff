// matmul_splitk_reduce.wgsl - split-K matmul, step 2 of 2: C = epilogue(sum_z part[z]).
// part [SPLITS, M, N] holds matmul_splitk's partial tiles; invocation i (of a 1-D grid of
// 256-wide workgroups folded into (x, y)) owns C[i / N, i % N] and adds its SPLITS partials in
// the order z = 0, 1, ... (a fixed order: bitwise deterministic), then writes it through store_c
// of include/matmul_out.wgsl, so every epilogue works as in the one-pass kernels. Bindings a and b of
// the shared interface are unused here (a dummy is bound).

override SPLITS: u32 = 2u;

@group(0) @binding(6) var<storage, read> part: array<f32>;

// Element i of C: the sum of its first n slices, through the epilogue.
fn reduce(i: u32, n: u32) {
    let mn = mm.M * mm.N;
    var s = part[i];
    for (var z = 1u; z < n; z = z + 1u) { s = s + part[z * mn + i]; }
    store_c(i / mm.N, i % mm.N, s);
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let i = wg_linear(wg, nwg) * 256u + t;
    if (i >= mm.M * mm.N) { return; }
    reduce(i, SPLITS);
}

// Entry main_sk (kernel row matmul_splitk_reduce_sk): after matmul_blocked's stream-K with tile
// BM x BN and k-tiles of BK, each element adds its tile's slots (include/matmul_stream_k.wgsl).
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
    if (i >= mm.M * mm.N) { return; }
    reduce(i, sk_slots(i / mm.N, i % mm.N));
}
