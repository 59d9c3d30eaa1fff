// include/attn_fa2_lanes_sg.wgsl - the lane sums of the fa2 kernels by subgroup shuffles (the
// device feature `subgroup`), prepended after attn_fa2_common.wgsl. The twin of
// attn_fa2_lanes_wg.wgsl with the same functions: `lane_share` and `lane_sync` do nothing,
// `lane_sum` / `lane_total` add the G lanes of a row by a butterfly of shuffles (xor 1, then
// xor 2). Each lane adds in pairs the partials workgroup memory would add, (x0 + x1) + (x2 + x3),
// and float addition commutes, so every lane and both twins get the same bits; no barriers.
// Needs a row's G lanes (consecutive local indices, G <= 4) in one subgroup: subgroups of
// consecutive invocations, at least 4 wide.

const LANE_SHUFFLE: bool = true;
override SG: u32 = 1u;  // the lane-sum source: 1 here (the pipeline cache picks the twin by it)

fn lane_share(k: u32, t: u32, v: vec4<f32>) {}

fn lane_sync() {}

fn lane_sum(k: u32, t: u32, v: vec4<f32>) -> vec4<f32> {
    return lane_total(v);
}

// The sum of v over the G lanes of the calling invocation's row (uniform control flow).
fn lane_total(v: vec4<f32>) -> vec4<f32> {
    if (G == 1u) { return v; }
    let a = v + subgroupShuffleXor(v, 1u);
    if (G == 2u) { return a; }
    return a + subgroupShuffleXor(a, 2u);
}
