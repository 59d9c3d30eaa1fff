// layernorm_fwd.wgsl - LayerNorm forward over the last axis with gain and bias.
// x [rows, C] -> y [rows, C] = (x - mean) * rstd * g + bias; stats [rows, 2] = (mean, rstd) saved
// for the backward (include/layernorm_row.wgsl).
// One 64-wide workgroup per row (grid folded into (x, y)); invocation i owns columns i, i+64, ...

struct LnParams {
    rows: u32,
    C: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: LnParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) i: u32) {
    let row = wg_linear(wg, nwg);
    if (row >= p.rows) { return; }
    layernorm_row(row, i);
}
