// include/matmul_stream_k.wgsl - the stream-K schedule, shared by matmul_blocked.wgsl's main_sk
// (which runs it) and the split-K reduces' main_sk (which add its partial tiles). Needs the tile
// constants BM, BN, BK (declared by the including file or its staging) and the uniform mm.
// The T = ceil(M / BM) * ceil(N / BN) tiles' KT = ceil(K / BK) k-tiles each, tile-major, are one
// sequence of T * KT iterations; SKG workgroups (grid (SKG, 1, 1)) take equal runs of
// P = ceil(T * KT / SKG), workgroup g the iterations [g * P, (g + 1) * P). For each tile its run
// touches, a workgroup stores a partial tile into slot g - sk_first(tile) of the scratch
// [slots, M, N]; the reduce adds a tile's sk_slots slots in the order 0, 1, ... (bitwise
// deterministic). kernels.matmul_plan.stream_k_slots is the host's count of the slots.

override SKG: u32 = 0u;  // workgroups (>= 1 wherever a main_sk runs)

fn sk_tiles_n() -> u32 { return (mm.N + BN - 1u) / BN; }

fn sk_tiles() -> u32 { return sk_tiles_n() * ((mm.M + BM - 1u) / BM); }

fn sk_ktiles() -> u32 { return (mm.K + BK - 1u) / BK; }

// P: iterations per workgroup.
fn sk_run() -> u32 { return (sk_tiles() * sk_ktiles() + SKG - 1u) / SKG; }

// The first workgroup whose run touches tile `tile`.
fn sk_first(tile: u32) -> u32 { return tile * sk_ktiles() / sk_run(); }

// Slots holding partial sums of element (row, col): the workgroups its tile's k-tiles span.
fn sk_slots(row: u32, col: u32) -> u32 {
    let tile = (row / BM) * sk_tiles_n() + col / BN;
    return ((tile + 1u) * sk_ktiles() - 1u) / sk_run() - sk_first(tile) + 1u;
}
