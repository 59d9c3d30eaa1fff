// common.wgsl - shared helpers prepended (by kernels/registry.py) to every kernel.
// Holds: the 64-wide workgroup reductions (deterministic tree order), GELU (tanh form) and its
// derivative, and the linear workgroup index used with 2-D grids (a 1-D grid is capped at 65535
// workgroups per dimension, so large launches are folded into (x, y)).

const WG: u32 = 64u;                       // width of the reducing kernels' workgroups
const GELU_K: f32 = 0.7978845608028654;    // sqrt(2 / pi)
const GELU_A: f32 = 0.044715;

var<workgroup> red: array<f32, 64>;

// Sum of v over the 64 invocations; every invocation gets the total. Call in uniform control flow.
fn wg_sum(v: f32, i: u32) -> f32 {
    red[i] = v;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s = s >> 1u) {
        if (i < s) { red[i] = red[i] + red[i + s]; }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
}

// Maximum of v over the 64 invocations; every invocation gets it. Call in uniform control flow.
fn wg_max(v: f32, i: u32) -> f32 {
    red[i] = v;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s = s >> 1u) {
        if (i < s) { red[i] = max(red[i], red[i + s]); }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
}

fn gelu(u: f32) -> f32 {
    let t = tanh(GELU_K * (u + GELU_A * u * u * u));
    return 0.5 * u * (1.0 + t);
}

// d gelu(u) / du for the tanh form.
fn gelu_grad(u: f32) -> f32 {
    let t = tanh(GELU_K * (u + GELU_A * u * u * u));
    let dt = (1.0 - t * t) * GELU_K * (1.0 + 3.0 * GELU_A * u * u);
    return 0.5 * (1.0 + t) + 0.5 * u * dt;
}

// Linear index of this workgroup in a grid folded into (x, y).
fn wg_linear(wg: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wg.x + wg.y * nwg.x;
}
