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
// Bindings r and aux are bound to a dummy when the epilogue does not use them. store_c4
// (include/matmul_store_vec4.wgsl) is store_c's vec4 twin: change both together.

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
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> r: array<f32>;
@group(0) @binding(5) var<storage, read_write> aux: array<f32>;

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

// Write one finished output element through the epilogue; outside the matrix it does nothing.
fn store_c(row: u32, col: u32, acc: f32) {
    if (row >= mm.M || col >= mm.N) { return; }
    let i = row * mm.N + col;
    switch EPILOGUE {
        case 1u: { c[i] = acc + r[i]; }
        case 2u: { aux[i] = acc; c[i] = gelu(acc); }
        case 3u: { c[i] = acc * gelu_grad(r[i]); }
        case 4u: { c[i] = c[i] + acc; }
        default: { c[i] = acc; }
    }
}
