// matmul_tiled16.wgsl - baseline matmul: 16x16 output tile per workgroup, one output per invocation.
// Computes C[M, N] = op(A) @ op(B) (+ epilogue); forms and epilogues come from matmul_common.wgsl.
// Invocation (lid.x, lid.y) of workgroup (wg.x, wg.y) owns C[wg.y*16 + lid.y, wg.x*16 + lid.x].
// Grid: (ceil(N/16), ceil(M/16)). Any M, N, K (edges are zero-padded in the loads).
// Tiles of op(A) and op(B) are staged through workgroup memory, 16 along K at a time; each load
// is arranged so that neighbouring invocations read neighbouring addresses in every form.

const TILE: u32 = 16u;

var<workgroup> tile_a: array<array<f32, 16>, 16>;  // [m][k]
var<workgroup> tile_b: array<array<f32, 16>, 16>;  // [k][n]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    var acc = 0.0;
    for (var k0 = 0u; k0 < mm.K; k0 = k0 + TILE) {
        if (TRANS_A != 0u) {
            tile_a[lid.x][lid.y] = load_a(row0 + lid.x, k0 + lid.y);
        } else {
            tile_a[lid.y][lid.x] = load_a(row0 + lid.y, k0 + lid.x);
        }
        if (TRANS_B != 0u) {
            tile_b[lid.x][lid.y] = load_b(k0 + lid.x, col0 + lid.y);
        } else {
            tile_b[lid.y][lid.x] = load_b(k0 + lid.y, col0 + lid.x);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE; kk = kk + 1u) {
            acc = acc + tile_a[lid.y][kk] * tile_b[kk][lid.x];
        }
        workgroupBarrier();
    }
    store_c(row0 + lid.y, col0 + lid.x, acc);
}
