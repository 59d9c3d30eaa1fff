// probe_fma.wgsl - peak probe: fused multiply-add throughput of the device (not a model kernel).
// Every invocation runs `iters` rounds of 8 independent vec4 FMA chains, acc = fma(acc, mul, add)
// (mul, add from the uniform, so nothing folds at compile time), then stores the sum of its 32
// lanes to out[gid] (so nothing is dead code). FLOPs = invocations * iters * 8 * 4 * 2.
// 256-wide workgroups over a 1-D grid folded into (x, y); invocations past n return at once.
// Built trusted (registry): out[gid] is in range for gid < n, and naga's loop-bounding counter in
// the FMA loop would make the probe measure the counter, not the FMA pipes.

struct ProbeParams {
    n: u32,
    iters: u32,
    mul: f32,
    add: f32,
}

@group(0) @binding(0) var<uniform> pp: ProbeParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let gid = wg_linear(wg, nwg) * 256u + t;
    if (gid >= pp.n) { return; }
    let x = f32(gid % 7u);
    var a0 = vec4<f32>(x, x + 1.0, x + 2.0, x + 3.0);
    var a1 = a0 + 4.0;
    var a2 = a0 + 8.0;
    var a3 = a0 + 12.0;
    var a4 = a0 + 16.0;
    var a5 = a0 + 20.0;
    var a6 = a0 + 24.0;
    var a7 = a0 + 28.0;
    let m = vec4<f32>(pp.mul);
    let c = vec4<f32>(pp.add);
    for (var i = 0u; i < pp.iters; i = i + 1u) {
        a0 = fma(a0, m, c);
        a1 = fma(a1, m, c);
        a2 = fma(a2, m, c);
        a3 = fma(a3, m, c);
        a4 = fma(a4, m, c);
        a5 = fma(a5, m, c);
        a6 = fma(a6, m, c);
        a7 = fma(a7, m, c);
    }
    let s = (a0 + a1) + (a2 + a3) + (a4 + a5) + (a6 + a7);
    out[gid] = s.x + s.y + s.z + s.w;
}
