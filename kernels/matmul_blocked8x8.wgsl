// matmul_blocked8x8.wgsl - register-blocked matmul: 128x128 output tile, 8x8 outputs per invocation.
// Computes C[M, N] = op(A) @ op(B) (+ epilogue); forms and epilogues come from matmul_common.wgsl,
// the tile core (ownership, accumulators, workgroup tiles) from include/matmul_tile8x8.wgsl.
// Workgroup (16, 16); grid (ceil(N/128), ceil(M/128)). Any M, N, K: each invocation fetches 4
// scalars of op(A) and 4 of op(B) per 8-deep k-tile through load_a/load_b (zero outside the
// matrix), neighbouring invocations on neighbouring addresses in every form; the fetch of tile
// t+1 is issued before tile t is computed.

var<private> pa: vec4<f32>;  // this invocation's 4 elements of the next op(A) tile
var<private> pb: vec4<f32>;  // ... and of op(B)

// Element e (0..1023) of the 128x8 op(A) tile as (m, k): k fastest for [M, K], m for [K, M].
fn a_coord(e: u32) -> vec2<u32> {
    if (TRANS_A != 0u) { return vec2<u32>(e & 127u, e >> 7u); }
    return vec2<u32>(e >> 3u, e & 7u);
}

// Element e of the 8x128 op(B) tile as (k, n): n fastest for [K, N], k for [N, K].
fn b_coord(e: u32) -> vec2<u32> {
    if (TRANS_B != 0u) { return vec2<u32>(e & 7u, e >> 3u); }
    return vec2<u32>(e >> 7u, e & 127u);
}

fn fetch_a(m0: u32, k0: u32, e: u32) -> f32 {
    let mk = a_coord(e);
    return load_a(m0 + mk.x, k0 + mk.y);
}

fn fetch_b(k0: u32, n0: u32, e: u32) -> f32 {
    let kn = b_coord(e);
    return load_b(k0 + kn.x, n0 + kn.y);
}

fn stash_a(buf: u32, e: u32, v: f32) {
    let mk = a_coord(e);
    put_a(buf, mk.y, mk.x, v);
}

fn stash_b(buf: u32, e: u32, v: f32) {
    let kn = b_coord(e);
    put_b(buf, kn.x, kn.y, v);
}

fn fetch(m0: u32, n0: u32, k0: u32, t: u32) {
    pa = vec4<f32>(fetch_a(m0, k0, t), fetch_a(m0, k0, t + 256u),
                   fetch_a(m0, k0, t + 512u), fetch_a(m0, k0, t + 768u));
    pb = vec4<f32>(fetch_b(k0, n0, t), fetch_b(k0, n0, t + 256u),
                   fetch_b(k0, n0, t + 512u), fetch_b(k0, n0, t + 768u));
}

fn stash(buf: u32, t: u32) {
    stash_a(buf, t, pa.x);
    stash_a(buf, t + 256u, pa.y);
    stash_a(buf, t + 512u, pa.z);
    stash_a(buf, t + 768u, pa.w);
    stash_b(buf, t, pb.x);
    stash_b(buf, t + 256u, pb.y);
    stash_b(buf, t + 512u, pb.z);
    stash_b(buf, t + 768u, pb.w);
}

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    matmul_8x8(wg, lid, t);
}
