// include/matmul_tile_io.wgsl - the staging every register-tiled matmul core shares (prepended
// after matmul_common.wgsl, before the core: include/matmul_tile_core.wgsl, matmul_warptile.wgsl):
//   BM x BN  output tile of a workgroup;  BK  k-rows per workgroup tile (a multiple of 4)
//   VEC      1: global loads as vec4 through the aliases a4 / b4 where an operand's tile quads
//            run along its contiguous axis (tn A; nn / tn B: M, N a multiple of 4), 0: scalar
//   SPLITS   1: one pass over K; > 1: workgroup z covers one k-slice and stores a partial tile
//   UK       k-rows per pass of k_rows, written out in this source (1, 2, 4, 8 or 16, dividing
//            BK: registry.check_matmul_row): how far the loop is unrolled is then the source's
//            choice, not the driver's, which on the H200 rolled it differently from build to
//            build (a row may set UK per form: registry.MatmulVariant.form_constants)
// The core declares NT (invocations per workgroup), `fn compute(buf: u32, t: u32)` (one
// workgroup tile's k-rows into its accumulators) and `fn kstep(oa: u32, ob: u32)` (one k-row
// from the A / B tiles' vec4 indices oa, ob), which compute runs through k_rows below. Needs
// BM*BK/4 and BK*BN/4 to be 1..4 times NT.
// Global -> registers -> workgroup memory: the A tile is BM*BK/4 quads of 4 consecutive m at one
// k, the B tile BK*BN/4 quads of 4 consecutive n; invocation t loads quads t, t + NT, ... (at
// most 4 of each, held in pa0..pa3 / pb0..pb3) for tile i+1 before computing tile i. Where the
// operand is stored with m (n) contiguous a quad is one vec4 (or four scalar) loads of a row;
// where it is K-contiguous (nn / nt A, nt B) a quad is four scalar loads from four rows at one
// k, consecutive invocations on consecutive k (so a warp's loads cover BK k-contiguous floats
// of each row it touches). Either way a quad is one vec4 store: the tiles are stored k-major
// ([k][m], [k][n]) as vec4 rows padded by one vec4. (Staging K-contiguous operands in quads along
// k, then four scalar stores each, was slower in every row measured: results/h200/s11/README.md.)
// Two buffers, one barrier per tile.
// Output: the kernel's store include (matmul_store_scalar or matmul_store_vec4, appended after
// this file) defines `put4`, which writes four finished elements of a row.
// Split-K (SPLITS > 1): workgroup z covers the k-slice [z*chunk, (z+1)*chunk), chunk =
// ceil(K / SPLITS) rounded up to BK, and stores its partial tile, without epilogue, into c seen as
// the scratch [SPLITS, M, N]; matmul_splitk_reduce (its vec4 twin where N % 4 == 0) adds the
// slices in a fixed order (a slice past K stores zeros), so the result is bitwise the same run to
// run.

override BM: u32 = 128u;
override BN: u32 = 128u;
override BK: u32 = 8u;
override VEC: u32 = 0u;
override SPLITS: u32 = 1u;
override UK: u32 = 1u;

override SA: u32 = BM / 4u + 1u;  // vec4 per k-row of the A tile, padding included
override SB: u32 = BN / 4u + 1u;
override QA: u32 = BM * BK / 4u / NT;  // quads of A per invocation per tile
override QB: u32 = BK * BN / 4u / NT;

@group(0) @binding(6) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> b4: array<vec4<f32>>;

var<workgroup> sa: array<vec4<f32>, 2u * BK * SA>;  // [2][BK][SA]  op(A) tiles, k-major
var<workgroup> sb: array<vec4<f32>, 2u * BK * SB>;  // [2][BK][SB]  op(B) tiles, k-major

var<private> pa0: vec4<f32>;
var<private> pa1: vec4<f32>;
var<private> pa2: vec4<f32>;
var<private> pa3: vec4<f32>;
var<private> pb0: vec4<f32>;
var<private> pb1: vec4<f32>;
var<private> pb2: vec4<f32>;
var<private> pb3: vec4<f32>;

// Quad q of the A tile as (m, k) of its first element: consecutive q along m for [K, M]
// storage (vec4 rows of A), along k for [M, K] (each quad four rows of A at one k).
fn quad_a(q: u32) -> vec2<u32> {
    if (TRANS_A != 0u) { return vec2<u32>((q % (BM / 4u)) * 4u, q / (BM / 4u)); }
    return vec2<u32>((q / BK) * 4u, q % BK);
}

// Quad q of the B tile as (k, n): consecutive q along n for [K, N] storage, along k for [N, K].
fn quad_b(q: u32) -> vec2<u32> {
    if (TRANS_B == 0u) { return vec2<u32>(q / (BN / 4u), (q % (BN / 4u)) * 4u); }
    return vec2<u32>(q % BK, (q / BK) * 4u);
}

// op(A)[m..m+3, k], zero outside: one vec4 (VEC) or four scalar loads.
fn fetch_a(m: u32, k: u32) -> vec4<f32> {
    if (VEC != 0u && TRANS_A != 0u) {
        if (m >= mm.M || k >= mm.K) { return vec4<f32>(0.0); }
        return a4[(k * mm.M + m) >> 2u];
    }
    return vec4<f32>(load_a(m, k), load_a(m + 1u, k), load_a(m + 2u, k), load_a(m + 3u, k));
}

// op(B)[k, n..n+3], zero outside.
fn fetch_b(k: u32, n: u32) -> vec4<f32> {
    if (VEC != 0u && TRANS_B == 0u) {
        if (k >= mm.K || n >= mm.N) { return vec4<f32>(0.0); }
        return b4[(k * mm.N + n) >> 2u];
    }
    return vec4<f32>(load_b(k, n), load_b(k, n + 1u), load_b(k, n + 2u), load_b(k, n + 3u));
}

fn load_quad_a(m0: u32, k0: u32, q: u32) -> vec4<f32> {
    let mk = quad_a(q);
    return fetch_a(m0 + mk.x, k0 + mk.y);
}

fn load_quad_b(k0: u32, n0: u32, q: u32) -> vec4<f32> {
    let kn = quad_b(q);
    return fetch_b(k0 + kn.x, n0 + kn.y);
}

fn put_quad_a(base: u32, q: u32, v: vec4<f32>) {
    let mk = quad_a(q);
    sa[base + mk.y * SA + (mk.x >> 2u)] = v;
}

fn put_quad_b(base: u32, q: u32, v: vec4<f32>) {
    let kn = quad_b(q);
    sb[base + kn.x * SB + (kn.y >> 2u)] = v;
}

// Registers <- global memory: this invocation's quads of the tiles at k0.
fn fetch(m0: u32, n0: u32, k0: u32, t: u32) {
    pa0 = load_quad_a(m0, k0, t);
    if (QA > 1u) { pa1 = load_quad_a(m0, k0, t + NT); }
    if (QA > 2u) { pa2 = load_quad_a(m0, k0, t + 2u * NT); }
    if (QA > 3u) { pa3 = load_quad_a(m0, k0, t + 3u * NT); }
    pb0 = load_quad_b(k0, n0, t);
    if (QB > 1u) { pb1 = load_quad_b(k0, n0, t + NT); }
    if (QB > 2u) { pb2 = load_quad_b(k0, n0, t + 2u * NT); }
    if (QB > 3u) { pb3 = load_quad_b(k0, n0, t + 3u * NT); }
}

// Workgroup buffer buf <- registers.
fn stash(buf: u32, t: u32) {
    let ba = buf * BK * SA;
    let bb = buf * BK * SB;
    put_quad_a(ba, t, pa0);
    if (QA > 1u) { put_quad_a(ba, t + NT, pa1); }
    if (QA > 2u) { put_quad_a(ba, t + 2u * NT, pa2); }
    if (QA > 3u) { put_quad_a(ba, t + 3u * NT, pa3); }
    put_quad_b(bb, t, pb0);
    if (QB > 1u) { put_quad_b(bb, t + NT, pb1); }
    if (QB > 2u) { put_quad_b(bb, t + 2u * NT, pb2); }
    if (QB > 3u) { put_quad_b(bb, t + 3u * NT, pb3); }
}

// The BK k-rows of one staged tile through the core's kstep, UK per pass; ba, bb: the vec4
// index of the invocation's first A / B operands in the tile's first k-row (k-row k at
// ba + k * SA, bb + k * SB).
fn k_rows(ba: u32, bb: u32) {
    for (var k = 0u; k < BK; k = k + UK) {
        let oa = ba + k * SA;
        let ob = bb + k * SB;
        kstep(oa, ob);
        if (UK > 1u) { kstep(oa + SA, ob + SB); }
        if (UK > 2u) {
            kstep(oa + 2u * SA, ob + 2u * SB);
            kstep(oa + 3u * SA, ob + 3u * SB);
        }
        if (UK > 4u) {
            kstep(oa + 4u * SA, ob + 4u * SB);
            kstep(oa + 5u * SA, ob + 5u * SB);
            kstep(oa + 6u * SA, ob + 6u * SB);
            kstep(oa + 7u * SA, ob + 7u * SB);
        }
        if (UK > 8u) {
            kstep(oa + 8u * SA, ob + 8u * SB);
            kstep(oa + 9u * SA, ob + 9u * SB);
            kstep(oa + 10u * SA, ob + 10u * SB);
            kstep(oa + 11u * SA, ob + 11u * SB);
            kstep(oa + 12u * SA, ob + 12u * SB);
            kstep(oa + 13u * SA, ob + 13u * SB);
            kstep(oa + 14u * SA, ob + 14u * SB);
            kstep(oa + 15u * SA, ob + 15u * SB);
        }
    }
}

// Accumulate op(A)[m0.., k0..k1) @ op(B)[k0..k1), n0..] through the core's compute; k1 - k0 a
// multiple of BK unless k1 >= K (loads beyond K read zero). Call in uniform control flow.
fn matmul_tile(m0: u32, n0: u32, k0: u32, k1: u32, t: u32) {
    let kend = min(k1, mm.K);
    var tiles = 0u;
    if (kend > k0) { tiles = (kend - k0 + BK - 1u) / BK; }
    if (tiles > 0u) {
        fetch(m0, n0, k0, t);
        stash(0u, t);
    }
    workgroupBarrier();
    for (var i = 0u; i < tiles; i = i + 1u) {
        let more = i + 1u < tiles;
        if (more) { fetch(m0, n0, k0 + (i + 1u) * BK, t); }
        compute(i & 1u, t);
        if (more) { stash((i + 1u) & 1u, t); }
        workgroupBarrier();
    }
}

// Workgroup z's k-range and output base: (k0, k1, base) with base the offset of its partial tile
// in the split-K scratch (0 when SPLITS = 1).
fn k_slice(z: u32) -> vec3<u32> {
    if (SPLITS == 1u) { return vec3<u32>(0u, mm.K, 0u); }
    let chunk = ((mm.K + SPLITS - 1u) / SPLITS + BK - 1u) / BK * BK;
    return vec3<u32>(z * chunk, z * chunk + chunk, z * mm.M * mm.N);
}
