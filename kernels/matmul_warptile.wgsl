// matmul_warptile.wgsl - warp-tiled matmul: C[M, N] = op(A) @ op(B) (+ epilogue), every form and
// epilogue of include/matmul_common.wgsl, tile staging (global -> registers -> two workgroup
// buffers, one barrier per k-tile), k-loop and split-K slices of include/matmul_tile_io.wgsl.
// Layouts: nn A [M, K], B [K, N]; nt B [N, K]; tn A [K, M] (the form whose tiles are stored to
// workgroup memory as whole vec4: the fast path; nn / nt also run, or go through a via-tn row).
// Tiling (the CUDA SGEMM warp tiling, cf. cuBLAS's 128x128x8 SIMT kernels): a BM x BN workgroup
// tile is cut into 64 x 64 warp tiles, one per 32 consecutive invocations of a k-group (warp
// w = (t % NW) / 32: rows (w / WN) * 64, columns (w % WN) * 64, WN = BN / 64), so NW = BM * BN /
// 128 invocations per k-group (NT = NW * KS per workgroup, KS below), each owning 8 x 16 = 128
// outputs. Lane l = t % 32 of a warp is (lr, lc) = (l / 4, l % 4) and owns rows lr*4 + {0..3}
// and 32 + lr*4 + {0..3} of its warp tile, columns lc*4 + {0..3} + 16j (j = 0..3). Per k it reads two vec4 of the A tile and four of the B tile from workgroup memory:
// a warp's A reads are 8 consecutive vec4 (one wavefront, each a broadcast to 4 lanes), its B
// reads 4 consecutive vec4 (broadcast to 8 lanes), for 128 FMAs per invocation. Accumulators are
// named vec4 (acc<row><chunk>), never an array indexed in a loop (which a driver may put in
// local memory).
// Dispatch: workgroup (NT); grid (ceil(N / BN), ceil(M / BM), SPLITS). Any M, N, K (VEC = 1 only
// where the contiguous axes are multiples of 4: kernels.matmul_rules.vec4_ok).
// Limits: BM, BN in {64, 128, 256} with NT <= 256; BK a multiple of 4 * KS with BM*BK/4 and
// BK*BN/4 1..4 times NT, i.e. 32*BK/(BN*KS) and 32*BK/(BM*KS) in 1..4; with KS = 2, 4 * NW <=
// 2 * BK * (BM / 4 + 1) and 2 * BK * (BN / 4 + 1) (registry._warptile checks all of these);
// workgroup memory 2*BK*(BM+BN+8)*4 bytes; about 170-200 registers per invocation (128
// accumulators, 6 fragment vec4, QA + QB prefetch vec4).
// SPLITS = 1: the workgroup walks all of K and writes its tile through store_c (the epilogue);
// SPLITS > 1: workgroup z walks its k-slice and stores its partial tile (matmul_splitk_reduce then
// adds the slices in a fixed order).
// Sliced K (KS = 2): twice the invocations, two k-groups of NW = BM * BN / 128 (g = t / NW). All
// NT invocations stage each k-tile; group g multiplies its half of the tile's k-rows into its own
// accumulators. At the end group 1 hands its accumulators to group 0 through the (then idle) tile
// buffers, two rows of chunks per pass (4 * NW vec4 of sa and of sb: registry._warptile checks
// they fit), and group 0 adds them and stores. A narrow grid of few workgroups so keeps twice the
// warps resident per SM without split-K's scratch round trip through memory; the sum is in a
// fixed order (bitwise the same run to run).

override KS: u32 = 1u;  // k-groups per workgroup: 1 or 2
override NW: u32 = BM * BN / 128u;  // invocations per k-group (32 per 64x64 warp tile)
override NT: u32 = NW * KS;  // invocations per workgroup

// Warps along n (WN). A function, not an override: naga 29's override processing panics on this
// kernel with WN declared as one (a handle count mismatch in process_overrides).
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

fn compute(buf: u32, t: u32) {
    let tt = t % NW;
    let lane = tt & 31u;
    let warp = tt >> 5u;
    // vec4 index of this lane's first row / column in a k-row of the tile
    // (and of this k-group's first k-row: group g takes k-rows g * BK / KS onwards)
    let kb = (t / NW) * (BK / KS);
    let ba = (buf * BK + kb) * SA + (warp / warps_n()) * 16u + (lane >> 2u);
    let bb = (buf * BK + kb) * SB + (warp % warps_n()) * 16u + (lane & 3u);
    for (var k = 0u; k < BK / KS; k = k + 1u) {
        let oa = ba + k * SA;
        let ob = bb + k * SB;
        outer(sa[oa], sa[oa + 8u], sb[ob], sb[ob + 4u], sb[ob + 8u], sb[ob + 12u]);
    }
}

// One output row of this lane: its four column chunks, 16 apart.
fn put_row(row: u32, col: u32, v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>,
           base: u32) {
    put4(row, col, v0, base);
    put4(row, col + 16u, v1, base);
    put4(row, col + 32u, v2, base);
    put4(row, col + 48u, v3, base);
}

// Sliced K: rows 2p and 2p + 1 of group 1's accumulators into sa and sb (4 chunks each).
fn give(p: u32, tt: u32) {
    switch p {
        case 0u: { give_rows(tt, acc00, acc01, acc02, acc03, acc10, acc11, acc12, acc13); }
        case 1u: { give_rows(tt, acc20, acc21, acc22, acc23, acc30, acc31, acc32, acc33); }
        case 2u: { give_rows(tt, acc40, acc41, acc42, acc43, acc50, acc51, acc52, acc53); }
        default: { give_rows(tt, acc60, acc61, acc62, acc63, acc70, acc71, acc72, acc73); }
    }
}

fn give_rows(tt: u32, a0: vec4<f32>, a1: vec4<f32>, a2: vec4<f32>, a3: vec4<f32>,
             b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>) {
    sa[tt] = a0;
    sa[NW + tt] = a1;
    sa[2u * NW + tt] = a2;
    sa[3u * NW + tt] = a3;
    sb[tt] = b0;
    sb[NW + tt] = b1;
    sb[2u * NW + tt] = b2;
    sb[3u * NW + tt] = b3;
}

// Sliced K: group 0 adds what group 1 gave in pass p.
fn take(p: u32, tt: u32) {
    let a0 = sa[tt];
    let a1 = sa[NW + tt];
    let a2 = sa[2u * NW + tt];
    let a3 = sa[3u * NW + tt];
    let b0 = sb[tt];
    let b1 = sb[NW + tt];
    let b2 = sb[2u * NW + tt];
    let b3 = sb[3u * NW + tt];
    switch p {
        case 0u: {
            acc00 += a0; acc01 += a1; acc02 += a2; acc03 += a3;
            acc10 += b0; acc11 += b1; acc12 += b2; acc13 += b3;
        }
        case 1u: {
            acc20 += a0; acc21 += a1; acc22 += a2; acc23 += a3;
            acc30 += b0; acc31 += b1; acc32 += b2; acc33 += b3;
        }
        case 2u: {
            acc40 += a0; acc41 += a1; acc42 += a2; acc43 += a3;
            acc50 += b0; acc51 += b1; acc52 += b2; acc53 += b3;
        }
        default: {
            acc60 += a0; acc61 += a1; acc62 += a2; acc63 += a3;
            acc70 += b0; acc71 += b1; acc72 += b2; acc73 += b3;
        }
    }
}

@compute @workgroup_size(NT)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let m0 = wg.y * BM;
    let n0 = wg.x * BN;
    let s = k_slice(wg.z);
    matmul_tile(m0, n0, s.x, s.y, t);  // ends on a barrier: the tile buffers are free
    let g = t / NW;
    let tt = t % NW;
    if (KS > 1u) {
        for (var p = 0u; p < 4u; p = p + 1u) {
            if (g == 1u) { give(p, tt); }
            workgroupBarrier();
            if (g == 0u) { take(p, tt); }
            workgroupBarrier();
        }
    }
    if (g != 0u) { return; }
    let lane = tt & 31u;
    let warp = tt >> 5u;
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
