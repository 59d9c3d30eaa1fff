// include/matmul_lanes_rows.wgsl - `lane_xy` of include/matmul_tile_core.wgsl: consecutive
// invocations along tx, so a warp spans 32 / WX workgroup rows (kernel rows matmul_blocked,
// matmul_blocked_v4). At WX = 32 (b128t84) a warp's two A reads per k are one address each and
// its B read 32 distinct vec4: four shared-memory wavefronts of 128 bytes.

// (tx, ty) of invocation t (local_invocation_index of the (WX, WY) workgroup).
fn lane_xy(t: u32) -> vec2<u32> {
    return vec2<u32>(t % WX, t / WX);
}
