// embed_ln_fwd.wgsl - token + position embedding and the first block's LayerNorm, in one dispatch.
// x[n, c] = wte[tokens[n], c] + wpe[n % T, c] (the residual stream, stored), then
// y [rows, C] = LayerNorm(x) with gain g and bias, stats [rows, 2] = (mean, rstd)
// (include/layernorm_row.wgsl). rows = B*T.
// One 64-wide workgroup per row (grid folded into (x, y)); invocation i owns columns i, i+64, ...
// in both halves, so the row it normalises is the one it has just written: no barrier needed.

struct EmbedLnParams {
    rows: u32,
    T: u32,
    C: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: EmbedLnParams;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read> wte: array<f32>;
@group(0) @binding(3) var<storage, read> wpe: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;
@group(0) @binding(5) var<storage, read> g: array<f32>;
@group(0) @binding(6) var<storage, read> bias: array<f32>;
@group(0) @binding(7) var<storage, read_write> y: array<f32>;
@group(0) @binding(8) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) i: u32) {
    let row = wg_linear(wg, nwg);
    if (row >= p.rows) { return; }
    let tok = tokens[row] * p.C;
    let pos = (row % p.T) * p.C;
    let base = row * p.C;
    for (var c = i; c < p.C; c = c + WG) { x[base + c] = wte[tok + c] + wpe[pos + c]; }
    layernorm_row(row, i);
}
