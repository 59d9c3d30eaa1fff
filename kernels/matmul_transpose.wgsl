// matmul_transpose.wgsl - dst = src^T for a row-major src [R, C]: dst is [C, R], row-major.
// Lets an nn or nt matmul run on the tn form's tile path (both operands read along m / n): the
// operand that needs it is transposed into a scratch buffer first (backends/gpu/matmul.py).
// Layouts: src[r * C + c] -> dst[c * R + r], float32.
// Dispatch: workgroup (32, 8); grid (ceil(C / 32), ceil(R / 32), 1). A workgroup moves one 32 x 32
// block through workgroup memory: reads run along c and writes along r, each 32 consecutive
// floats per row of invocations; the block is padded to 33 columns so the transposed reads
// from workgroup memory fall on distinct banks. Each invocation moves 4 elements.
// Limits: any R, C >= 1 (blocks overhanging the matrix skip the elements outside it);
// R, C <= 65535 * 32 (the grid's per-dimension limit).

struct TransposeParams {
    R: u32,
    C: u32,
}

@group(0) @binding(0) var<uniform> tp: TransposeParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

const TILE: u32 = 32u;
const ROWS: u32 = 8u;  // invocation rows; each covers TILE / ROWS rows of the block

var<workgroup> block: array<f32, 1056>;  // [TILE][TILE + 1]

@compute @workgroup_size(32, 8)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
) {
    let r0 = wg.y * TILE;
    let c0 = wg.x * TILE;
    for (var i = 0u; i < TILE; i = i + ROWS) {
        let r = r0 + lid.y + i;
        let c = c0 + lid.x;
        if (r < tp.R && c < tp.C) {
            block[(lid.y + i) * (TILE + 1u) + lid.x] = src[r * tp.C + c];
        }
    }
    workgroupBarrier();
    for (var i = 0u; i < TILE; i = i + ROWS) {
        let c = c0 + lid.y + i;
        let r = r0 + lid.x;
        if (r < tp.R && c < tp.C) {
            dst[c * tp.R + r] = block[lid.x * (TILE + 1u) + lid.y + i];
        }
    }
}
