// probe_copy.wgsl - peak probe: device memory copy bandwidth (not a model kernel).
// dst[i] = src[i] for i < n4, as vec4<f32> (16 bytes per invocation and direction); bytes moved
// = 2 * 16 * n4. 256-wide workgroups over a 1-D grid folded into (x, y).

struct CopyParams {
    n4: u32,
}

@group(0) @binding(0) var<uniform> cp: CopyParams;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    let i = wg_linear(wg, nwg) * 256u + t;
    if (i < cp.n4) { dst[i] = src[i]; }
}
