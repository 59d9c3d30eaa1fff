// attn_fa2_common.wgsl - shared by the FlashAttention-2 backward kernels (attn_fa2_bwd_kv/_q),
// prepended after attn_fa2_params.wgsl: block sizes, the workgroup tiles and their helpers.
// qkv [B*T, 3C] (columns Q | K | V, head h at h*hd .. h*hd+hd in each), out / dout [B*T, C],
// lse / delta [B*H*T] (one float per query row of each head).
// Blocks: BQ = 16 query rows x BKV = 8 key rows; workgroups of 128 invocations.
//   score phase: invocation t computes the pair (query row t / 8, key t % 8) of the block;
//   row phase:   invocation t owns query row t / 8 and the head_dim slots d = t % 8 + 8 k,
//                k = 0..15 (hd <= MAX_HD = 128), in four vec4 accumulators (k = 4 q + component).
// Tiles are row-major with padded strides: QS = 132 (the 4 query rows a warp reads sit on distinct
// banks), KS = 129 (odd: the 8 keys of a warp sit on distinct banks).

const BQ: u32 = 16u;
const BKV: u32 = 8u;
const QS: u32 = 132u;
const KS: u32 = 129u;

var<workgroup> qs: array<f32, 2112>;   // [BQ][QS]  query rows
var<workgroup> dos: array<f32, 2112>;  // [BQ][QS]  dO rows (backward)
var<workgroup> ks: array<f32, 1032>;   // [BKV][KS] key rows
var<workgroup> vs: array<f32, 1032>;   // [BKV][KS] value rows
var<workgroup> sblk: array<f32, 128>;  // [BQ][BKV] scores (forward) / dS (backward)
var<workgroup> pblk: array<f32, 128>;  // [BQ][BKV] probabilities
var<workgroup> row_lse: array<f32, 16>;
var<workgroup> row_delta: array<f32, 16>;

fn dot_qk(r: u32, c: u32, hd: u32) -> f32 {
    var s = 0.0;
    for (var d = 0u; d < hd; d = d + 1u) { s = fma(qs[r * QS + d], ks[c * KS + d], s); }
    return s;
}

fn dot_dov(r: u32, c: u32, hd: u32) -> f32 {
    var s = 0.0;
    for (var d = 0u; d < hd; d = d + 1u) { s = fma(dos[r * QS + d], vs[c * KS + d], s); }
    return s;
}

// Slots 4q..4q+3 (d = s + 32 q + 8 {0..3}) of key row j of the V / K tile.
fn v_slots(j: u32, s: u32, q: u32) -> vec4<f32> {
    let o = j * KS + s + 32u * q;
    return vec4<f32>(vs[o], vs[o + 8u], vs[o + 16u], vs[o + 24u]);
}

fn k_slots(j: u32, s: u32, q: u32) -> vec4<f32> {
    let o = j * KS + s + 32u * q;
    return vec4<f32>(ks[o], ks[o + 8u], ks[o + 16u], ks[o + 24u]);
}
