// matmul_tiled16.wgsl - baseline matmul: TILE x TILE (16 x 16) output tile per workgroup, one
// output per invocation. Computes C[M, N] = op(A) @ op(B) (+ epilogue); forms and epilogues come
// from matmul_common.wgsl. Invocation (lid.x, lid.y) of workgroup (wg.x, wg.y) owns
// C[wg.y*TILE + lid.y, wg.x*TILE + lid.x]. Grid: (ceil(N/TILE), ceil(M/TILE)). Any M, N, K (edges
// are zero-padded in the loads). Tiles of op(A) and op(B) are staged through workgroup memory,
// TILE along K at a time; each load is arranged so that neighbouring invocations read
// neighbouring addresses in every form.

override TILE: u32 = 16u;

var<workgroup> tile_a: array<f32, TILE * TILE>;  // [m][k]
var<workgroup> tile_b: array<f32, TILE * TILE>;  // [k][n]

@compute @workgroup_size(TILE, TILE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    var acc = 0.0;
    for (var k0 = 0u; k0 < mm.K; k0 = k0 + TILE) {
        if (TRANS_A != 0u) {
            tile_a[lid.x * TILE + lid.y] = load_a(row0 + lid.x, k0 + lid.y);
        } else {
            tile_a[lid.y * TILE + lid.x] = load_a(row0 + lid.y, k0 + lid.x);
        }
        if (TRANS_B != 0u) {
            tile_b[lid.x * TILE + lid.y] = load_b(k0 + lid.x, col0 + lid.y);
        } else {
            tile_b[lid.y * TILE + lid.x] = load_b(k0 + lid.y, col0 + lid.x);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE; kk = kk + 1u) {
            acc = acc + tile_a[lid.y * TILE + kk] * tile_b[kk * TILE + lid.x];
        }
        workgroupBarrier();
    }
    store_c(row0 + lid.y, col0 + lid.x, acc);
}
