// layernorm_bwd_dgdb.wgsl - LayerNorm backward, gain and bias gradients (column reductions).
//   dg[c] = sum_rows dy * xhat,   db[c] = sum_rows dy,   xhat = (x - mean) * rstd
// x, dy [rows, C]; stats [rows, 2]; dg, db [C] (stored, not accumulated).
// Workgroup (COLS, LANES) = (4, 64) per 4 columns: invocation (lid.x, lid.y) sums rows lid.y,
// lid.y + 64, ... of column wg.x * 4 + lid.x, then a fixed-order tree over lid.y: deterministic,
// no atomics. Many row lanes and few columns per workgroup keep the serial loop short (rows / 64)
// and give small C more workgroups than a square tile would.
// Grid: (ceil(C/4), 1).
const COLS: u32 = 4u;
const LANES: u32 = 64u;
struct LnParams {
    rows: u32,
    C: u32,
}
@group(0) @binding(0) var<uniform> p: LnParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dg: array<f32>;
@group(0) @binding(5) var<storage, read_write> db: array<f32>;
var<workgroup> part_g: array<array<f32, 4>, 64>;  // [row lane][column]
var<workgroup> part_b: array<array<f32, 4>, 64>;
@compute @workgroup_size(4, 64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let col = wg.x * COLS + lid.x;
    var sg = 0.0;
    var sb = 0.0;
    if (col < p.C) {
        for (var n = lid.y; n < p.rows; n = n + LANES) {
            let d = dy[n * p.C + col];
            let xh = (x[n * p.C + col] - stats[2u * n]) * stats[2u * n + 1u];
            sg = sg + d * xh;
            sb = sb + d;
        }
    }
    part_g[lid.y][lid.x] = sg;
    part_b[lid.y][lid.x] = sb;
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s = s >> 1u) {
        if (lid.y < s) {
            part_g[lid.y][lid.x] = part_g[lid.y][lid.x] + part_g[lid.y + s][lid.x];
            part_b[lid.y][lid.x] = part_b[lid.y][lid.x] + part_b[lid.y + s][lid.x];
        }
        workgroupBarrier();
    }
    if (lid.y == 0u && col < p.C) {
        dg[col] = part_g[0][lid.x];
        db[col] = part_b[0][lid.x];
    }
}
