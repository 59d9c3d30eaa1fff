// matmul_transpose.wgsl - dst = src^T for a row-major src [R, C]: dst is [C, R], row-major.
// Lets an nn or nt matmul run on the tn form's tile path (both operands read along m / n): the
// operand that needs it is transposed into a scratch buffer first (backends/gpu/matmul.py).
// Layouts: src[r * C + c] -> dst[c * R + r], float32; src4 / dst4 are vec4 views of the same
// buffers as src / dst (registry aliases), used only where rows hold whole vec4s.
// Overrides (derived per call by the registry row from R and C; a caller's explicit ones win):
//   VEC_IN  1: src read as vec4 (needs C % 4 == 0); 0: four scalar loads per vec4 position.
//   VEC_OUT 1: dst written as vec4 (needs R % 4 == 0); 0: four scalar stores.
// Dispatch: workgroup 256; grid (ceil(C / 64), ceil(R / 64), 1). A workgroup moves one 64 x 64
// block. Invocation (bx = i % 16, by = i / 16) reads the 4 x 4 register block at rows
// r0 + 4 by + 0..3, columns c0 + 4 bx + 0..3 (per load, 16 consecutive invocations read 256
// consecutive bytes of one src row), transposes it in registers and stores its four columns as vec4s into
// workgroup memory; after one barrier each invocation writes four vec4s of dst rows, 16
// consecutive invocations covering 64 consecutive floats of one dst row. The block is kept as
// [64][16] vec4 with the vec4 column XOR-swizzled by (row / 4) % 8, so the transposed stores
// (8 invocations, rows 4 apart) and the row reads (8 invocations, one row) each hit 8 distinct
// 16-byte bank groups. Positions outside the matrix are neither read nor written.
// Limits: any R, C >= 1 (edge blocks check every vec4 / element against R and C);
// R, C <= 65535 * 64 (the grid's per-dimension limit); the vec4 paths assume the bound views start
// 16-byte aligned (every buffer view of this backend starts at a multiple of 256 bytes).

struct TransposeParams {
    R: u32,
    C: u32,
}

@group(0) @binding(0) var<uniform> tp: TransposeParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> src4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> dst4: array<vec4<f32>>;

override VEC_IN: u32 = 0u;
override VEC_OUT: u32 = 0u;

const TILE: u32 = 64u;
const QUADS: u32 = 16u;  // vec4 columns per block row (TILE / 4)

var<workgroup> block: array<vec4<f32>, 1024>;  // [TILE][QUADS], swizzled (slot)

// Index in ``block`` of vec4 column q of block row ``row``.
fn slot(row: u32, q: u32) -> u32 {
    return row * QUADS + (q ^ ((row >> 2u) & 7u));
}

// src[r, c..c+3]; zeros where outside the matrix (those lanes are never stored).
fn load4(r: u32, c: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (r >= tp.R || c >= tp.C) {
        return v;
    }
    let at = r * tp.C + c;
    if (VEC_IN != 0u) {
        return src4[at >> 2u];
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (c + j < tp.C) {
            v[j] = src[at + j];
        }
    }
    return v;
}

// dst[c, r..r+3] = v, the elements inside the matrix only.
fn store4(c: u32, r: u32, v: vec4<f32>) {
    if (c >= tp.C || r >= tp.R) {
        return;
    }
    let at = c * tp.R + r;
    if (VEC_OUT != 0u) {
        dst4[at >> 2u] = v;
        return;
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (r + j < tp.R) {
            dst[at + j] = v[j];
        }
    }
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
) {
    let r0 = wg.y * TILE;
    let c0 = wg.x * TILE;
    let bx = li % QUADS;
    let by = li / QUADS;
    let r = r0 + 4u * by;
    let c = c0 + 4u * bx;
    let m0 = load4(r, c);
    let m1 = load4(r + 1u, c);
    let m2 = load4(r + 2u, c);
    let m3 = load4(r + 3u, c);
    // column j of the register block = dst row c + j, dst columns r..r+3
    block[slot(4u * bx + 0u, by)] = vec4<f32>(m0.x, m1.x, m2.x, m3.x);
    block[slot(4u * bx + 1u, by)] = vec4<f32>(m0.y, m1.y, m2.y, m3.y);
    block[slot(4u * bx + 2u, by)] = vec4<f32>(m0.z, m1.z, m2.z, m3.z);
    block[slot(4u * bx + 3u, by)] = vec4<f32>(m0.w, m1.w, m2.w, m3.w);
    workgroupBarrier();
    for (var i = 0u; i < TILE; i = i + QUADS) {
        let row = by + i;  // block row = dst row c0 + row
        store4(c0 + row, r0 + 4u * bx, block[slot(row, bx)]);
    }
}
