// matmul_vec4.wgsl - register-blocked matmul with vec4<f32> global loads: 128x128 output tile,
// 8x8 outputs per invocation (the core of include/matmul_tile8x8.wgsl), one vec4 of op(A) and one of
// op(B) fetched per invocation per 8-deep k-tile, the fetch of tile t+1 issued before tile t is
// computed. Forms and epilogues come from matmul_common.wgsl. Grid (ceil(N/128), ceil(M/128)).
// a4 / b4 are the same buffers as a / b seen as vec4 (the registry binds them as aliases), so
// every row of A and B that is read along its contiguous axis must hold a multiple of 4 floats:
//   nn: K % 4 == 0 and N % 4 == 0;  nt: K % 4 == 0;  tn: M % 4 == 0 and N % 4 == 0.
// The registry's shape rule sends other calls to blocked8x8 and the step records the fallback.
// With those multiples a vec4 lies entirely inside or entirely outside the matrix, so edge tiles
// need only a whole-vec4 test (zero outside).

@group(0) @binding(6) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> b4: array<vec4<f32>>;

var<private> pa: vec4<f32>;  // this invocation's vec4 of the next op(A) tile
var<private> pb: vec4<f32>;  // ... and of op(B)

// [M, K]: invocation t reads row t/2, k-quad t%2 (4 consecutive k).
// [K, M]: invocation t reads k-row t/32, m-quad t%32 (4 consecutive m).
fn fetch_a(m0: u32, k0: u32, t: u32) -> vec4<f32> {
    if (TRANS_A != 0u) {
        let k = k0 + (t >> 5u);
        let m = m0 + (t & 31u) * 4u;
        if (k >= mm.K || m >= mm.M) { return vec4<f32>(0.0); }
        return a4[(k * mm.M + m) >> 2u];
    }
    let m = m0 + (t >> 1u);
    let k = k0 + (t & 1u) * 4u;
    if (k >= mm.K || m >= mm.M) { return vec4<f32>(0.0); }
    return a4[(m * mm.K + k) >> 2u];
}

// [K, N]: invocation t reads k-row t/32, n-quad t%32.  [N, K]: row n = t/2, k-quad t%2.
fn fetch_b(k0: u32, n0: u32, t: u32) -> vec4<f32> {
    if (TRANS_B != 0u) {
        let n = n0 + (t >> 1u);
        let k = k0 + (t & 1u) * 4u;
        if (k >= mm.K || n >= mm.N) { return vec4<f32>(0.0); }
        return b4[(n * mm.K + k) >> 2u];
    }
    let k = k0 + (t >> 5u);
    let n = n0 + (t & 31u) * 4u;
    if (k >= mm.K || n >= mm.N) { return vec4<f32>(0.0); }
    return b4[(k * mm.N + n) >> 2u];
}

fn fetch(m0: u32, n0: u32, k0: u32, t: u32) {
    pa = fetch_a(m0, k0, t);
    pb = fetch_b(k0, n0, t);
}

fn stash(buf: u32, t: u32) {
    if (TRANS_A != 0u) {
        sa[buf * SBUF + (t >> 5u) * SROW + (t & 31u)] = pa;
    } else {
        let m = t >> 1u;
        let k = (t & 1u) * 4u;
        put_a(buf, k, m, pa.x);
        put_a(buf, k + 1u, m, pa.y);
        put_a(buf, k + 2u, m, pa.z);
        put_a(buf, k + 3u, m, pa.w);
    }
    if (TRANS_B != 0u) {
        let n = t >> 1u;
        let k = (t & 1u) * 4u;
        put_b(buf, k, n, pb.x);
        put_b(buf, k + 1u, n, pb.y);
        put_b(buf, k + 2u, n, pb.z);
        put_b(buf, k + 3u, n, pb.w);
    } else {
        sb[buf * SBUF + (t >> 5u) * SROW + (t & 31u)] = pb;
    }
}

@compute @workgroup_size(16, 16)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(local_invocation_id) lid: vec3<u32>,
    @builtin(local_invocation_index) t: u32,
) {
    matmul_8x8(wg, lid, t);
}
