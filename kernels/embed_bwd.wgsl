// embed_bwd.wgsl - token and position embedding gradients, deterministic and without atomics.
//   dwte[v, c] += sum over positions n with tokens[n] == v of dx[n, c]   (accumulates: the tied
//                 unembedding already stored its part of dwte)
//   dwpe[t, c]  = sum over b of dx[b*T + t, c]
// The host passes the positions grouped by token (a stable counting sort of the batch: order[N]
// and offsets[V+1], order[offsets[v]..offsets[v+1]] are the positions holding token v), so each
// invocation owns one (v, c) or (t, c) output and sums its few inputs in a fixed order.
// One invocation per element of dwte then dwpe ((V + T) * C in all); 256-wide, grid folded.

struct EmbedBwdParams {
    V: u32,
    T: u32,
    B: u32,
    C: u32,
}

@group(0) @binding(0) var<uniform> p: EmbedBwdParams;
@group(0) @binding(1) var<storage, read> dx: array<f32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> offsets: array<u32>;
@group(0) @binding(4) var<storage, read_write> dwte: array<f32>;
@group(0) @binding(5) var<storage, read_write> dwpe: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) i: u32) {
    let idx = wg_linear(wg, nwg) * 256u + i;
    let n_wte = p.V * p.C;
    if (idx < n_wte) {
        let v = idx / p.C;
        let c = idx % p.C;
        var acc = 0.0;
        for (var k = offsets[v]; k < offsets[v + 1u]; k = k + 1u) {
            acc = acc + dx[order[k] * p.C + c];
        }
        dwte[idx] = dwte[idx] + acc;
    } else if (idx < n_wte + p.T * p.C) {
        let j = idx - n_wte;
        let t = j / p.C;
        let c = j % p.C;
        var acc = 0.0;
        for (var bb = 0u; bb < p.B; bb = bb + 1u) {
            acc = acc + dx[(bb * p.T + t) * p.C + c];
        }
        dwpe[j] = acc;
    }
}
