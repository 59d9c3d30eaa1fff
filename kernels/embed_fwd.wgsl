// embed_fwd.wgsl - token + position embedding.
// x[n, c] = wte[tokens[n], c] + wpe[n % T, c] for n in 0..B*T, c in 0..C.
// One invocation per output element; 256-wide workgroups, grid folded into (x, y).

struct EmbedParams {
    rows: u32,
    T: u32,
    C: u32,
}

@group(0) @binding(0) var<uniform> p: EmbedParams;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read> wte: array<f32>;
@group(0) @binding(3) var<storage, read> wpe: array<f32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) i: u32) {
    let idx = wg_linear(wg, nwg) * 256u + i;
    if (idx >= p.rows * p.C) { return; }
    let n = idx / p.C;
    let c = idx % p.C;
    x[idx] = wte[tokens[n] * p.C + c] + wpe[(n % p.T) * p.C + c];
}
