// include/matmul_tile8x8.wgsl - the 128x128-tile, 8x8-per-invocation core shared by matmul_blocked8x8
// and matmul_vec4 (prepended after matmul_common.wgsl; the two differ only in their global loads).
// Workgroup (16, 16) computes C[wg.y*128 .., wg.x*128 ..]; invocation (tx, ty) owns rows
// ty*4 + {0..3} and 64 + ty*4 + {0..3} and columns tx*4 + {0..3} and 64 + tx*4 + {0..3} of the
// tile: split in two halves so that per k a warp reads 16 consecutive vec4 of op(B) (no bank
// conflict) and 2 vec4 of op(A) (broadcast). The 64 accumulators are sixteen named vec4<f32>
// (acc<row><l|h>, l/h = low/high column half), never an array indexed in a loop, which NVIDIA may
// put in local memory.
// Workgroup memory: op(A) and op(B) tiles of BK = 8 k-rows stored k-major ([k][m], [k][n]) as
// vec4 with one vec4 of padding per k-row (stride 132 floats: the transposing stores of a warp
// land on distinct banks); two buffers, so tile t+1 is stored while tile t is computed and one
// barrier per tile suffices. The kernel files provide fetch/stash (global -> registers -> tile).

const BM: u32 = 128u;
const BK: u32 = 8u;
const SROW: u32 = 33u;   // vec4 per k-row: 32 + 1 padding
const SBUF: u32 = 264u;  // BK * SROW: one buffer

var<workgroup> sa: array<vec4<f32>, 528>;  // [2][BK][SROW]  op(A) tile, k-major
var<workgroup> sb: array<vec4<f32>, 528>;  // [2][BK][SROW]  op(B) tile, k-major

var<private> acc0l: vec4<f32>;
var<private> acc0h: vec4<f32>;
var<private> acc1l: vec4<f32>;
var<private> acc1h: vec4<f32>;
var<private> acc2l: vec4<f32>;
var<private> acc2h: vec4<f32>;
var<private> acc3l: vec4<f32>;
var<private> acc3h: vec4<f32>;
var<private> acc4l: vec4<f32>;
var<private> acc4h: vec4<f32>;
var<private> acc5l: vec4<f32>;
var<private> acc5h: vec4<f32>;
var<private> acc6l: vec4<f32>;
var<private> acc6h: vec4<f32>;
var<private> acc7l: vec4<f32>;
var<private> acc7h: vec4<f32>;

// op(A)[m, k] of the tile into buffer buf (scalar store: the transposing case).
fn put_a(buf: u32, k: u32, m: u32, v: f32) {
    sa[buf * SBUF + k * SROW + (m >> 2u)][m & 3u] = v;
}

// op(B)[k, n] of the tile into buffer buf.
fn put_b(buf: u32, k: u32, n: u32, v: f32) {
    sb[buf * SBUF + k * SROW + (n >> 2u)][n & 3u] = v;
}

// One k of the outer product: rows a0 (ty*4..), a1 (64 + ty*4..) times columns b0, b1.
fn outer8x8(a0: vec4<f32>, a1: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>) {
    acc0l = fma(vec4<f32>(a0.x), b0, acc0l);
    acc0h = fma(vec4<f32>(a0.x), b1, acc0h);
    acc1l = fma(vec4<f32>(a0.y), b0, acc1l);
    acc1h = fma(vec4<f32>(a0.y), b1, acc1h);
    acc2l = fma(vec4<f32>(a0.z), b0, acc2l);
    acc2h = fma(vec4<f32>(a0.z), b1, acc2h);
    acc3l = fma(vec4<f32>(a0.w), b0, acc3l);
    acc3h = fma(vec4<f32>(a0.w), b1, acc3h);
    acc4l = fma(vec4<f32>(a1.x), b0, acc4l);
    acc4h = fma(vec4<f32>(a1.x), b1, acc4h);
    acc5l = fma(vec4<f32>(a1.y), b0, acc5l);
    acc5h = fma(vec4<f32>(a1.y), b1, acc5h);
    acc6l = fma(vec4<f32>(a1.z), b0, acc6l);
    acc6h = fma(vec4<f32>(a1.z), b1, acc6h);
    acc7l = fma(vec4<f32>(a1.w), b0, acc7l);
    acc7h = fma(vec4<f32>(a1.w), b1, acc7h);
}

fn compute(buf: u32, tx: u32, ty: u32) {
    let base = buf * SBUF;
    for (var k = 0u; k < BK; k = k + 1u) {
        let o = base + k * SROW;
        outer8x8(sa[o + ty], sa[o + 16u + ty], sb[o + tx], sb[o + 16u + tx]);
    }
}

fn store4(row: u32, col: u32, v: vec4<f32>) {
    store_c(row, col, v.x);
    store_c(row, col + 1u, v.y);
    store_c(row, col + 2u, v.z);
    store_c(row, col + 3u, v.w);
}

fn store_block(m0: u32, n0: u32, tx: u32, ty: u32) {
    let r = m0 + ty * 4u;
    let rh = r + 64u;
    let cl = n0 + tx * 4u;
    let ch = cl + 64u;
    store4(r, cl, acc0l);
    store4(r, ch, acc0h);
    store4(r + 1u, cl, acc1l);
    store4(r + 1u, ch, acc1h);
    store4(r + 2u, cl, acc2l);
    store4(r + 2u, ch, acc2h);
    store4(r + 3u, cl, acc3l);
    store4(r + 3u, ch, acc3h);
    store4(rh, cl, acc4l);
    store4(rh, ch, acc4h);
    store4(rh + 1u, cl, acc5l);
    store4(rh + 1u, ch, acc5h);
    store4(rh + 2u, cl, acc6l);
    store4(rh + 2u, ch, acc6h);
    store4(rh + 3u, cl, acc7l);
    store4(rh + 3u, ch, acc7h);
}

// The whole tile: fetch/stash come from the kernel file (global loads -> registers -> tiles).
fn matmul_8x8(wg: vec3<u32>, lid: vec3<u32>, t: u32) {
    let m0 = wg.y * BM;
    let n0 = wg.x * BM;
    let tiles = (mm.K + BK - 1u) / BK;
    if (tiles > 0u) {
        fetch(m0, n0, 0u, t);
        stash(0u, t);
    }
    workgroupBarrier();
    for (var i = 0u; i < tiles; i = i + 1u) {
        let more = i + 1u < tiles;
        if (more) { fetch(m0, n0, (i + 1u) * BK, t); }
        compute(i & 1u, lid.x, lid.y);
        if (more) { stash((i + 1u) & 1u, t); }
        workgroupBarrier();
    }
    store_block(m0, n0, lid.x, lid.y);
}
