// matmul_common.wgsl - the interface every matmul variant shares, prepended by the registry.
// C[M, N] = op(A) @ op(B) with K the inner size, then an epilogue, for the three forms a backward
// pass needs, chosen by override constants (no copied files):
//   nn: A stored [M, K], B stored [K, N]           (A @ B)
//   nt: A stored [M, K], B stored [N, K]  TRANS_B  (A @ B^T)
//   tn: A stored [K, M], B stored [K, N]  TRANS_A  (A^T @ B)
// Epilogues (EPILOGUE), applied by the invocation that owns C[row, col]:
//   0 store      C = acc
//   1 add        C = acc + R            (residual add fused into the projection)
//   2 gelu       AUX = acc; C = gelu(acc)  (MLP up-projection keeps its pre-activation)
//   3 gelu_bwd   C = acc * gelu'(R)     (R is the saved pre-activation)
//   4 accumulate C = C + acc            (gradient accumulation)
// The output side (bindings 3..5: c, r, aux; the epilogues) is include/matmul_out.wgsl, or, for
// the vec4-store tile kernels, include/matmul_store_vec4.wgsl (the same bindings seen as vec4).

override TRANS_A: u32 = 0u;
override TRANS_B: u32 = 0u;
override EPILOGUE: u32 = 0u;

struct MatmulParams {
    M: u32,
    N: u32,
    K: u32,
}

@group(0) @binding(0) var<uniform> mm: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;

// op(A)[row, k], zero outside the matrix (tiles may overhang).
fn load_a(row: u32, k: u32) -> f32 {
    if (row >= mm.M || k >= mm.K) { return 0.0; }
    if (TRANS_A != 0u) { return a[k * mm.M + row]; }
    return a[row * mm.K + k];
}

// op(B)[k, col], zero outside the matrix.
fn load_b(k: u32, col: u32) -> f32 {
    if (k >= mm.K || col >= mm.N) { return 0.0; }
    if (TRANS_B != 0u) { return b[col * mm.K + k]; }
    return b[k * mm.N + col];
}
