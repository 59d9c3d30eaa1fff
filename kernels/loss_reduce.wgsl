// loss_reduce.wgsl - mean of the per-row losses, in a fixed order (deterministic).
// loss[0] = sum(losses[0..rows]) * inv_rows. A single 64-wide workgroup; grid (1, 1).

struct ReduceParams {
    rows: u32,
    inv_rows: f32,
}

@group(0) @binding(0) var<uniform> p: ReduceParams;
@group(0) @binding(1) var<storage, read> losses: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) i: u32) {
    var s = 0.0;
    for (var n = i; n < p.rows; n = n + WG) { s = s + losses[n]; }
    let total = wg_sum(s, i);
    if (i == 0u) { loss[0] = total * p.inv_rows; }
}
