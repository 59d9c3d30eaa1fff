// layernorm_bwd_dx.wgsl - LayerNorm backward, input gradient.
// With xhat = (x - mean) * rstd and dxhat = dy * g:
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
// ACCUMULATE = 1 adds it into dx (the residual stream's gradient already held there), 0 stores it.
// x, dy, dx [rows, C]; stats [rows, 2] = (mean, rstd) from the forward.
// One 64-wide workgroup per row (grid folded into (x, y)); invocation i owns columns i, i+64, ...

override ACCUMULATE: u32 = 1u;

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

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) i: u32) {
    let row = wg_linear(wg, nwg);
    if (row >= p.rows) { return; }
    let base = row * p.C;
    let mean = stats[2u * row];
    let rstd = stats[2u * row + 1u];
    var s1 = 0.0;
    var s2 = 0.0;
    for (var c = i; c < p.C; c = c + WG) {
        let dxh = dy[base + c] * g[c];
        s1 = s1 + dxh;
        s2 = s2 + dxh * (x[base + c] - mean) * rstd;
    }
    let m1 = wg_sum(s1, i) / f32(p.C);
    let m2 = wg_sum(s2, i) / f32(p.C);
    for (var c = i; c < p.C; c = c + WG) {
        let xh = (x[base + c] - mean) * rstd;
        let v = rstd * (dy[base + c] * g[c] - m1 - xh * m2);
        if (ACCUMULATE != 0u) {
            dx[base + c] = dx[base + c] + v;
        } else {
            dx[base + c] = v;
        }
    }
}
