// matmul_splitk_reduce.wgsl - split-K matmul, step 2 of 2: C = epilogue(sum_z part[z]).
// part [SPLITS, M, N] holds matmul_splitk's partial tiles; invocation i (of a 1-D grid of
// 256-wide workgroups folded into (x, y)) owns C[i / N, i % N] and adds its SPLITS partials in
// the order z = 0, 1, ... (a fixed order: bitwise deterministic), then writes it through store_c
// of include/matmul_out.wgsl, so every epilogue works as in the one-pass kernels. Bindings a and b of
// the shared interface are unused here (a dummy is bound).

override SPLITS: u32 = 2u;

@group(0) @binding(6) var<storage, read> part: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let i = wg_linear(wg, nwg) * 256u + t;
    let mn = mm.M * mm.N;
    if (i >= mn) { return; }
    var s = part[i];
    for (var z = 1u; z < SPLITS; z = z + 1u) { s = s + part[z * mn + i]; }
    store_c(i / mm.N, i % mm.N, s);
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
    let mn = mm.M * mm.N;
    if (i >= mn) { return; }
    let n = slots(i / mm.N, i % mm.N);
    var s = part[i];
    for (var z = 1u; z < n; z = z + 1u) { s = s + part[z * mn + i]; }
    store_c(i / mm.N, i % mm.N, s);
}
