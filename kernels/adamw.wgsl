// adamw.wgsl - one AdamW step over the flat parameter buffer, exactly as torch.optim.AdamW:
//   p *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= step_size * m / (sqrt(v) / sqrt_bc2 + eps),  step_size = lr / (1 - b1^t),
//   sqrt_bc2 = sqrt(1 - b2^t)  (bias corrections computed on the host in float64 each step).
// params, grads, m, v: flat [n] in the canonical order (padding between tensors stays 0).
// One invocation per element; 256-wide workgroups, grid folded into (x, y).

struct AdamParams {
    n: u32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    weight_decay: f32,
    step_size: f32,
    sqrt_bc2: f32,
}

@group(0) @binding(0) var<uniform> p: AdamParams;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) i: u32) {
    let idx = wg_linear(wg, nwg) * 256u + i;
    if (idx >= p.n) { return; }
    let g = grads[idx];
    let w = params[idx] * (1.0 - p.lr * p.weight_decay);
    let m1 = p.beta1 * m[idx] + (1.0 - p.beta1) * g;
    let v1 = p.beta2 * v[idx] + (1.0 - p.beta2) * g * g;
    m[idx] = m1;
    v[idx] = v1;
    params[idx] = w - p.step_size * m1 / (sqrt(v1) / p.sqrt_bc2 + p.eps);
}
