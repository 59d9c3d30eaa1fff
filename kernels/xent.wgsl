// xent.wgsl - softmax cross-entropy forward and backward in one pass, in place.
// logits [rows, V] in; on return the same buffer holds dlogits = (softmax - onehot) * inv_rows
// (the gradient of the mean loss), and losses[row] = logsumexp(logits) - logits[target].
// One 64-wide workgroup per row (grid folded into (x, y)); invocation i owns columns i, i+64, ...

struct XentParams {
    rows: u32,
    V: u32,
    inv_rows: f32,
}

@group(0) @binding(0) var<uniform> p: XentParams;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read_write> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> losses: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) i: u32) {
    let row = wg_linear(wg, nwg);
    if (row >= p.rows) { return; }
    let base = row * p.V;
    let tgt = targets[row];
    var m = -3.0e38;
    for (var v = i; v < p.V; v = v + WG) { m = max(m, logits[base + v]); }
    let mx = wg_max(m, i);
    var s = 0.0;
    for (var v = i; v < p.V; v = v + WG) { s = s + exp(logits[base + v] - mx); }
    let lse = mx + log(wg_sum(s, i));
    let picked = logits[base + tgt];
    workgroupBarrier();  // every invocation has read logits[target] before any overwrite
    for (var v = i; v < p.V; v = v + WG) {
        var d = exp(logits[base + v] - lse);
        if (v == tgt) { d = d - 1.0; }
        logits[base + v] = d * p.inv_rows;
    }
    if (i == 0u) { losses[row] = lse - picked; }
}
