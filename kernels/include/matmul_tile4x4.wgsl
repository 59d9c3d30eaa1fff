// include/matmul_tile4x4.wgsl - the 64x64-tile, 4x4-per-invocation core shared by matmul_blocked4x4
// and matmul_splitk (prepended after matmul_common.wgsl; the two differ only in the k range they
// cover and where the finished block goes).
// Workgroup (16, 16) computes a 64x64 tile of C; invocation (tx, ty) owns the 4x4 block at rows
// ty*4 + {0..3}, columns tx*4 + {0..3} of the tile, held in four vec4<f32> accumulators named
// one per row (never an array indexed in a loop: NVIDIA may put that in local memory).
// Global loads go through load_a/load_b (scalar, zero outside the matrix), arranged so
// neighbouring invocations read neighbouring addresses.
// Workgroup memory: op(A) and op(B) tiles of BK = 16 k-rows stored k-major ([k][m], [k][n]) as
// vec4 with one vec4 of padding per k-row, two buffers (tile t+1 is stored while tile t is
// computed, one barrier per tile). An invocation reads one vec4 of each per k.

const BM: u32 = 64u;
const BK: u32 = 16u;
const SROW: u32 = 17u;   // vec4 per k-row: 16 + 1 padding
const SBUF: u32 = 272u;  // BK * SROW: one buffer

var<workgroup> sa: array<vec4<f32>, 544>;  // [2][BK][SROW]  op(A) tile, k-major
var<workgroup> sb: array<vec4<f32>, 544>;  // [2][BK][SROW]  op(B) tile, k-major

var<private> acc0: vec4<f32>;
var<private> acc1: vec4<f32>;
var<private> acc2: vec4<f32>;
var<private> acc3: vec4<f32>;
var<private> pa: vec4<f32>;  // the next tile's 4 elements of op(A) owned by this invocation
var<private> pb: vec4<f32>;  // ... and of op(B)

// Element e (0..1023) of a 64x16 tile as (m, k): k fastest when A is [M, K], m fastest when [K, M].
fn a_coord(e: u32) -> vec2<u32> {
    if (TRANS_A != 0u) { return vec2<u32>(e & 63u, e >> 6u); }
    return vec2<u32>(e >> 4u, e & 15u);
}

// Element e of a 16x64 op(B) tile as (k, n): n fastest when B is [K, N], k fastest when [N, K].
fn b_coord(e: u32) -> vec2<u32> {
    if (TRANS_B != 0u) { return vec2<u32>(e & 15u, e >> 4u); }
    return vec2<u32>(e >> 6u, e & 63u);
}

fn fetch_a(m0: u32, k0: u32, e: u32) -> f32 {
    let mk = a_coord(e);
    return load_a(m0 + mk.x, k0 + mk.y);
}

fn fetch_b(k0: u32, n0: u32, e: u32) -> f32 {
    let kn = b_coord(e);
    return load_b(k0 + kn.x, n0 + kn.y);
}

fn put_a(buf: u32, e: u32, v: f32) {
    let mk = a_coord(e);
    sa[buf * SBUF + mk.y * SROW + (mk.x >> 2u)][mk.x & 3u] = v;
}

fn put_b(buf: u32, e: u32, v: f32) {
    let kn = b_coord(e);
    sb[buf * SBUF + kn.x * SROW + (kn.y >> 2u)][kn.y & 3u] = v;
}

fn fetch(m0: u32, n0: u32, k0: u32, t: u32) {
    pa = vec4<f32>(fetch_a(m0, k0, t), fetch_a(m0, k0, t + 256u),
                   fetch_a(m0, k0, t + 512u), fetch_a(m0, k0, t + 768u));
    pb = vec4<f32>(fetch_b(k0, n0, t), fetch_b(k0, n0, t + 256u),
                   fetch_b(k0, n0, t + 512u), fetch_b(k0, n0, t + 768u));
}

fn stash(buf: u32, t: u32) {
    put_a(buf, t, pa.x);
    put_a(buf, t + 256u, pa.y);
    put_a(buf, t + 512u, pa.z);
    put_a(buf, t + 768u, pa.w);
    put_b(buf, t, pb.x);
    put_b(buf, t + 256u, pb.y);
    put_b(buf, t + 512u, pb.z);
    put_b(buf, t + 768u, pb.w);
}

fn compute(buf: u32, tx: u32, ty: u32) {
    let base = buf * SBUF;
    for (var k = 0u; k < BK; k = k + 1u) {
        let av = sa[base + k * SROW + ty];
        let bv = sb[base + k * SROW + tx];
        acc0 = fma(vec4<f32>(av.x), bv, acc0);
        acc1 = fma(vec4<f32>(av.y), bv, acc1);
        acc2 = fma(vec4<f32>(av.z), bv, acc2);
        acc3 = fma(vec4<f32>(av.w), bv, acc3);
    }
}

fn store4(row: u32, col: u32, v: vec4<f32>) {
    store_c(row, col, v.x);
    store_c(row, col + 1u, v.y);
    store_c(row, col + 2u, v.z);
    store_c(row, col + 3u, v.w);
}

// Accumulate op(A)[m0.., k0..k1) @ op(B)[k0..k1), n0..] into acc0..acc3. k1 - k0 must be a
// multiple of BK unless k1 >= K (loads beyond K read zero). Call in uniform control flow.
fn matmul_4x4(m0: u32, n0: u32, k0: u32, k1: u32, lid: vec3<u32>, t: u32) {
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
        compute(i & 1u, lid.x, lid.y);
        if (more) { stash((i + 1u) & 1u, t); }
        workgroupBarrier();
    }
}
