// include/matmul_lanes_blocks.wgsl - `lane_xy` of include/matmul_tile_core.wgsl with each warp an
// 8 x 4 block of (tx, ty): per k its A reads are 4 distinct vec4 and its B reads 8, one
// shared-memory wavefront apiece (half the wavefronts of matmul_lanes_rows at WX = 32). Needs
// WX % 8 == 0 and WY % 4 == 0 (the tile rows check).

fn lane_xy(t: u32) -> vec2<u32> {
    let w = t >> 5u;
    let l = t & 31u;
    return vec2<u32>((w % (WX / 8u)) * 8u + (l & 7u), (w / (WX / 8u)) * 4u + (l >> 3u));
}
