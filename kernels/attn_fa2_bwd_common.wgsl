// attn_fa2_bwd_common.wgsl - bindings and staging shared by the two FlashAttention-2 backward
// kernels (attn_fa2_bwd_kv, attn_fa2_bwd_q), prepended after attn_fa2_common.wgsl.
// Inputs: qkv, dout, the forward's lse and attn_fa2_bwd_pre's delta = rowsum(dO * O).
// P is recomputed per block as exp(scale * q.k - lse): no [T, T] buffer exists.

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read> delta: array<f32>;
@group(0) @binding(5) var<storage, read_write> dqkv: array<f32>;

// Q, dO rows q0.. (BQ of them) with their lse and delta, zero beyond T.
fn stage_queries(t: u32, b: u32, h: u32, q0: u32) {
    let hd = p.hd;
    for (var e = t; e < BQ * hd; e = e + 128u) {
        let r = e / hd;
        let d = e % hd;
        let i = q0 + r;
        var qv = 0.0;
        var dv = 0.0;
        if (i < p.T) {
            qv = qkv[(b * p.T + i) * 3u * p.C + h * hd + d];
            dv = dout[(b * p.T + i) * p.C + h * hd + d];
        }
        qs[r * QS + d] = qv;
        dos[r * QS + d] = dv;
    }
    if (t < BQ) {
        let i = q0 + t;
        let bh = b * p.H + h;
        row_lse[t] = select(0.0, lse[bh * p.T + i], i < p.T);
        row_delta[t] = select(0.0, delta[bh * p.T + i], i < p.T);
    }
}

// K, V rows k0.. (BKV of them), zero beyond T.
fn stage_keys(t: u32, b: u32, h: u32, k0: u32) {
    let hd = p.hd;
    for (var e = t; e < BKV * hd; e = e + 128u) {
        let c = e / hd;
        let d = e % hd;
        let j = k0 + c;
        var kv = 0.0;
        var vv = 0.0;
        if (j < p.T) {
            let base = (b * p.T + j) * 3u * p.C + h * hd + d;
            kv = qkv[base + p.C];
            vv = qkv[base + 2u * p.C];
        }
        ks[c * KS + d] = kv;
        vs[c * KS + d] = vv;
    }
}

// Score phase: invocation t stores P and dS = P * (dP - delta) of its (query, key) pair.
fn score_grads(t: u32, q0: u32, k0: u32) {
    let r = t / BKV;
    let c = t % BKV;
    let i = q0 + r;
    let j = k0 + c;
    var pr = 0.0;
    var ds = 0.0;
    if (j <= i && i < p.T) {
        pr = exp(p.scale * dot_qk(r, c, p.hd) - row_lse[r]);
        ds = pr * (dot_dov(r, c, p.hd) - row_delta[r]);
    }
    pblk[t] = pr;
    sblk[t] = ds;
}
