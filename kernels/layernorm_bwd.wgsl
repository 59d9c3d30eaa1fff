// layernorm_bwd.wgsl - LayerNorm backward in one dispatch: the input gradient and the gain and bias
// gradients, which do not depend on each other, by two kinds of workgroup in one grid.
// With xhat = (x - mean) * rstd and dxhat = dy * g:
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))   (per row)
//   dg[c] = sum_rows dy * xhat,   db[c] = sum_rows dy                 (per column)
// ACCUMULATE = 1 adds dx into dx (the residual stream's gradient already held there), 0 stores it;
// dg and db are stored.
// x, dy, dx [rows, C]; stats [rows, 2] = (mean, rstd) from the forward; g, dg, db [C].
// 256 invocations per workgroup; w = the linear workgroup index (grid folded into (x, y)).
// Workgroups w < ceil(rows / 4): dx of rows 4w .. 4w + 3, invocation li on row 4w + li / 64 as
//   lane li % 64 owning columns lane, lane + 64, ...; each row's two sums by a fixed-order tree.
// The next ceil(C / 4): dg, db of columns 4w' .. 4w' + 3 (w' = w - ceil(rows / 4)), invocation li
//   as (column li % 4, row lane li / 4) summing rows lane, lane + 64, ..., then a fixed-order tree
//   over the 64 row lanes. Deterministic, no atomics. Grid: fold(ceil(rows / 4) + ceil(C / 4)).

override ACCUMULATE: u32 = 1u;
const LANES: u32 = 64u;  // column lanes per row (dx), row lanes per column (dg, db)
const PER: u32 = 4u;     // rows (dx) or columns (dg, db) per workgroup

struct LnParams {
    rows: u32,
    C: u32,
}

@group(0) @binding(0) var<uniform> p: LnParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> dg: array<f32>;
@group(0) @binding(7) var<storage, read_write> db: array<f32>;

var<workgroup> row_part: array<f32, 256>;           // [row in group * 64 + lane]
var<workgroup> part_g: array<array<f32, 4>, 64>;   // [row lane][column]
var<workgroup> part_b: array<array<f32, 4>, 64>;

// Sum of v over the 64 lanes of row q of the workgroup (the tree order of wg_sum). Call in
// uniform control flow.
fn row_sum(v: f32, q: u32, lane: u32) -> f32 {
    let at = q * LANES;
    row_part[at + lane] = v;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s = s >> 1u) {
        if (lane < s) { row_part[at + lane] = row_part[at + lane] + row_part[at + lane + s]; }
        workgroupBarrier();
    }
    let total = row_part[at];
    workgroupBarrier();
    return total;
}

fn input_grad(w: u32, li: u32) {
    let q = li / LANES;
    let i = li % LANES;
    let row = w * PER + q;
    let live = row < p.rows;
    let base = row * p.C;
    var mean = 0.0;
    var rstd = 0.0;
    var s1 = 0.0;
    var s2 = 0.0;
    if (live) {
        mean = stats[2u * row];
        rstd = stats[2u * row + 1u];
        for (var c = i; c < p.C; c = c + LANES) {
            let dxh = dy[base + c] * g[c];
            s1 = s1 + dxh;
            s2 = s2 + dxh * (x[base + c] - mean) * rstd;
        }
    }
    let m1 = row_sum(s1, q, i) / f32(p.C);
    let m2 = row_sum(s2, q, i) / f32(p.C);
    if (!live) { return; }
    for (var c = i; c < p.C; c = c + LANES) {
        let xh = (x[base + c] - mean) * rstd;
        let v = rstd * (dy[base + c] * g[c] - m1 - xh * m2);
        if (ACCUMULATE != 0u) {
            dx[base + c] = dx[base + c] + v;
        } else {
            dx[base + c] = v;
        }
    }
}

fn gain_bias_grad(w: u32, li: u32) {
    let k = li % PER;      // column in the group
    let lane = li / PER;   // row lane
    let col = w * PER + k;
    var sg = 0.0;
    var sb = 0.0;
    if (col < p.C) {
        for (var n = lane; n < p.rows; n = n + LANES) {
            let d = dy[n * p.C + col];
            let xh = (x[n * p.C + col] - stats[2u * n]) * stats[2u * n + 1u];
            sg = sg + d * xh;
            sb = sb + d;
        }
    }
    part_g[lane][k] = sg;
    part_b[lane][k] = sb;
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s = s >> 1u) {
        if (lane < s) {
            part_g[lane][k] = part_g[lane][k] + part_g[lane + s][k];
            part_b[lane][k] = part_b[lane][k] + part_b[lane + s][k];
        }
        workgroupBarrier();
    }
    if (lane == 0u && col < p.C) {
        dg[col] = part_g[0][k];
        db[col] = part_b[0][k];
    }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let w = wg_linear(wg, nwg);
    let dx_groups = (p.rows + PER - 1u) / PER;
    if (w < dx_groups) {
        input_grad(w, li);
    } else if (w < dx_groups + (p.C + PER - 1u) / PER) {
        gain_bias_grad(w - dx_groups, li);
    }
}
