// include/attn_fa2_lanes_wg.wgsl - the lane sums of the fa2 kernels through workgroup memory (no
// device feature needed), prepended after attn_fa2_common.wgsl. The twin of
// attn_fa2_lanes_sg.wgsl: the same functions, the same sums in the same order (same bits).
// A kernel adds a row's G lane partials by `lane_share` (each slot k < 8), one `lane_sync`, then
// `lane_sum` per slot; a `lane_sync` before the slots are shared again. Slots [8][FA_WG] vec4,
// slot-major (no bank conflicts). `lane_total` (an immediate sum) exists only at G = 1 here.

const LANE_SHUFFLE: bool = false;
override SG: u32 = 0u;  // the lane-sum source: 0 here (the pipeline cache picks the twin by it)

var<workgroup> xch: array<vec4<f32>, 512>;  // [8][FA_WG] lane shares, slot-major

// Lane t's partial v into exchange slot k (read back by lane_sum after a lane_sync).
fn lane_share(k: u32, t: u32, v: vec4<f32>) {
    xch[k * FA_WG + t] = v;
}

// The shares are written (before lane_sum) or read (before they are written again).
fn lane_sync() {
    workgroupBarrier();
}

// Sum of slot k over the G lanes of invocation t's row, in lane order.
fn lane_sum(k: u32, t: u32, v: vec4<f32>) -> vec4<f32> {
    let a = k * FA_WG + t / G * G;
    if (G == 2u) { return xch[a] + xch[a + 1u]; }
    if (G == 4u) { return (xch[a] + xch[a + 1u]) + (xch[a + 2u] + xch[a + 3u]); }
    return xch[a];
}

// v itself: called only where G == 1 (LANE_SHUFFLE is false).
fn lane_total(v: vec4<f32>) -> vec4<f32> {
    return v;
}
