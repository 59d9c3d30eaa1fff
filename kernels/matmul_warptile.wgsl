// matmul_warptile.wgsl - warp-tiled matmul: C[M, N] = op(A) @ op(B) (+ epilogue), every form and
// epilogue of include/matmul_common.wgsl, tile staging (global -> registers -> two workgroup
// buffers, one barrier per k-tile), k-loop and split-K slices of include/matmul_tile_io.wgsl,
// scalar output stores of include/matmul_store_scalar.wgsl.
// Layouts: nn A [M, K], B [K, N]; nt B [N, K]; tn A [K, M] (every form's tiles are stored to
// workgroup memory as whole vec4; only tn's A and nn / tn's B are also loaded as vec4).
// Tiling (the CUDA SGEMM warp tiling, cf. cuBLAS's 128x128x8 SIMT kernels): a BM x BN workgroup
// tile is cut into 64 x 64 warp tiles, one per 32 consecutive invocations (warp w = t / 32: rows
// (w / WN) * 64, columns (w % WN) * 64, WN = BN / 64), so NT = BM * BN / 128 invocations, each
// owning 8 x 16 = 128 outputs. Lane l = t % 32 of a warp is (lr, lc) = (l / 4, l % 4) and owns
// rows lr*4 + {0..3} and 32 + lr*4 + {0..3} of its warp tile, columns lc*4 + {0..3} + 16j
// (j = 0..3). Per k it reads two vec4 of the A tile and four of the B tile from workgroup memory:
// a warp's A reads are 8 consecutive vec4 (one wavefront, each a broadcast to 4 lanes), its B
// reads 4 consecutive vec4 (broadcast to 8 lanes), for 128 FMAs per invocation. Accumulators are
// named vec4 (acc<row><chunk>), never an array indexed in a loop (which a driver may put in
// local memory).
// Dispatch: workgroup (NT); grid (ceil(N / BN), ceil(M / BM), SPLITS). Any M, N, K (VEC = 1 only
// where the m- / n-contiguous operands' rows hold whole vec4s: kernels.matmul_rules.vec4_ok).
// Limits: BM, BN in {64, 128, 256} with BM * BN <= 128 * 256 (NT <= 256); BK a multiple of 4
// with BM*BK/4 and BK*BN/4 1..4 times NT, i.e. 32*BK/BN and 32*BK/BM in 1..4 (registry._warptile
// checks); workgroup memory 2*BK*(BM+BN+8)*4 bytes; well over 128 registers per invocation (128
// accumulators, 6 fragment vec4, QA + QB prefetch vec4: a shorter BK holds fewer, which on a big
// GPU can fit one more workgroup per multiprocessor; the driver's counts per row are in
// results/h200/s8/README.md). UK: k-rows per pass of include/matmul_tile_io.wgsl's k_rows (a
// power of two up to 16 dividing BK; a UK above 1 slowed w128k4's tn loop on the H200,
// results/h200/s12/README.md, so the timed rows keep 1).
// SPLITS = 1: the workgroup walks all of K and writes its tile through store_c (the epilogue);
// SPLITS > 1: workgroup z walks its k-slice and stores its partial tile (matmul_splitk_reduce,
// or matmul_splitk_reduce_v4 where N % 4 == 0, then adds the slices in a fixed order).

override NT: u32 = BM * BN / 128u;  // invocations per workgroup (32 per 64x64 warp tile)

// Warps along n (WN). A function: written when naga 29 panicked on WN as an override declared
// after the staging's override-sized workgroup arrays; kernels.wgsl.source now puts every
// override first, so one would also do.
fn warps_n() -> u32 { return BN / 64u; }

var<private> acc00: vec4<f32>;
var<private> acc01: vec4<f32>;
var<private> acc02: vec4<f32>;
var<private> acc03: vec4<f32>;
var<private> acc10: vec4<f32>;
var<private> acc11: vec4<f32>;
var<private> acc12: vec4<f32>;
var<private> acc13: vec4<f32>;
var<private> acc20: vec4<f32>;
var<private> acc21: vec4<f32>;
var<private> acc22: vec4<f32>;
var<private> acc23: vec4<f32>;
var<private> acc30: vec4<f32>;
var<private> acc31: vec4<f32>;
var<private> acc32: vec4<f32>;
var<private> acc33: vec4<f32>;
var<private> acc40: vec4<f32>;
var<private> acc41: vec4<f32>;
var<private> acc42: vec4<f32>;
var<private> acc43: vec4<f32>;
var<private> acc50: vec4<f32>;
var<private> acc51: vec4<f32>;
var<private> acc52: vec4<f32>;
var<private> acc53: vec4<f32>;
var<private> acc60: vec4<f32>;
var<private> acc61: vec4<f32>;
var<private> acc62: vec4<f32>;
var<private> acc63: vec4<f32>;
var<private> acc70: vec4<f32>;
var<private> acc71: vec4<f32>;
var<private> acc72: vec4<f32>;
var<private> acc73: vec4<f32>;

// One k of the outer product: rows a0 (lr*4 + 0..3) and a1 (32 + lr*4 + 0..3) times the column
// chunks b0..b3 (lc*4 + 16j).
fn outer(a0: vec4<f32>, a1: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>,
         b3: vec4<f32>) {
    acc00 = fma(vec4<f32>(a0.x), b0, acc00); acc01 = fma(vec4<f32>(a0.x), b1, acc01);
    acc02 = fma(vec4<f32>(a0.x), b2, acc02); acc03 = fma(vec4<f32>(a0.x), b3, acc03);
    acc10 = fma(vec4<f32>(a0.y), b0, acc10); acc11 = fma(vec4<f32>(a0.y), b1, acc11);
    acc12 = fma(vec4<f32>(a0.y), b2, acc12); acc13 = fma(vec4<f32>(a0.y), b3, acc13);
    acc20 = fma(vec4<f32>(a0.z), b0, acc20); acc21 = fma(vec4<f32>(a0.z), b1, acc21);
    acc22 = fma(vec4<f32>(a0.z), b2, acc22); acc23 = fma(vec4<f32>(a0.z), b3, acc23);
    acc30 = fma(vec4<f32>(a0.w), b0, acc30); acc31 = fma(vec4<f32>(a0.w), b1, acc31);
    acc32 = fma(vec4<f32>(a0.w), b2, acc32); acc33 = fma(vec4<f32>(a0.w), b3, acc33);
    acc40 = fma(vec4<f32>(a1.x), b0, acc40); acc41 = fma(vec4<f32>(a1.x), b1, acc41);
    acc42 = fma(vec4<f32>(a1.x), b2, acc42); acc43 = fma(vec4<f32>(a1.x), b3, acc43);
    acc50 = fma(vec4<f32>(a1.y), b0, acc50); acc51 = fma(vec4<f32>(a1.y), b1, acc51);
    acc52 = fma(vec4<f32>(a1.y), b2, acc52); acc53 = fma(vec4<f32>(a1.y), b3, acc53);
    acc60 = fma(vec4<f32>(a1.z), b0, acc60); acc61 = fma(vec4<f32>(a1.z), b1, acc61);
    acc62 = fma(vec4<f32>(a1.z), b2, acc62); acc63 = fma(vec4<f32>(a1.z), b3, acc63);
    acc70 = fma(vec4<f32>(a1.w), b0, acc70); acc71 = fma(vec4<f32>(a1.w), b1, acc71);
    acc72 = fma(vec4<f32>(a1.w), b2, acc72); acc73 = fma(vec4<f32>(a1.w), b3, acc73);
}

// One k-row of the staged tiles (offsets oa, ob of this lane's first vec4 in it).
fn kstep(oa: u32, ob: u32) {
    outer(sa[oa], sa[oa + 8u], sb[ob], sb[ob + 4u], sb[ob + 8u], sb[ob + 12u]);
}

fn compute(buf: u32, t: u32) {
    let lane = t & 31u;
    let warp = t >> 5u;
    // vec4 index of this lane's first row / column in a k-row of the tile
    let ba = buf * BK * SA + (warp / warps_n()) * 16u + (lane >> 2u);
    let bb = buf * BK * SB + (warp % warps_n()) * 16u + (lane & 3u);
    k_rows(ba, bb);
}

// One output row of this lane: its four column chunks, 16 apart.
fn put_row(row: u32, col: u32, v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>,
           base: u32) {
    put4(row, col, v0, base);
    put4(row, col + 16u, v1, base);
    put4(row, col + 32u, v2, base);
    put4(row, col + 48u, v3, base);
}

@compute @workgroup_size(NT)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    let s = k_slice(wg.z);
    matmul_tile(m0, n0, s.x, s.y, t);
    let lane = t & 31u;
    let warp = t >> 5u;
    let r = m0 + (warp / warps_n()) * 64u + (lane >> 2u) * 4u;
    let rh = r + 32u;
    let cl = n0 + (warp % warps_n()) * 64u + (lane & 3u) * 4u;
    put_row(r, cl, acc00, acc01, acc02, acc03, s.z);
    put_row(r + 1u, cl, acc10, acc11, acc12, acc13, s.z);
    put_row(r + 2u, cl, acc20, acc21, acc22, acc23, s.z);
    put_row(r + 3u, cl, acc30, acc31, acc32, acc33, s.z);
    put_row(rh, cl, acc40, acc41, acc42, acc43, s.z);
    put_row(rh + 1u, cl, acc50, acc51, acc52, acc53, s.z);
    put_row(rh + 2u, cl, acc60, acc61, acc62, acc63, s.z);
    put_row(rh + 3u, cl, acc70, acc71, acc72, acc73, s.z);
}
