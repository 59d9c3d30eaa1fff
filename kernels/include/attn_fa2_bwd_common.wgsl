// attn_fa2_bwd_common.wgsl - shared by the FlashAttention-2 backward kernels (attn_fa2_bwd_q,
// attn_fa2_bwd_kv), prepended after attn_fa2_params.wgsl: bindings, tiles, registers, helpers.
// Both kernels have the forward's shape (attn_fa2_fwd.wgsl): 128 invocations own ROWS = 32
// resident rows, row r = t / 4 held by a quad whose member u = t % 4 keeps the head_dim chunks
// j = u + 4 k (k = 0..NG-1, chunk j = dims 4j..4j+3) of the row's two operands in named vec4
// registers a0..a7, b0..b7. The other side passes through workgroup memory TILE = 16 rows at a
// time as two vec4 tiles xt, yt [TILE][NCH]:
//   dQ kernel    (attn_fa2_bwd_q):  a = q_i, b = dO_i (query rows);  xt = K, yt = V (key rows)
//   dK/dV kernel (attn_fa2_bwd_kv): a = k_j, b = v_j (key rows);     xt = Q, yt = dO (query rows)
// Either way a . x is the score q . k and b . y is dP = dO . v: `partials` stores each member's
// share of both for one tile row, and after a barrier `pair` adds the quad's four shares in a
// fixed order (all four members get the same bits) and recomputes P = exp(scale q.k - lse) and
// dS = P (dP - delta) from the forward's lse: no [T, T] buffer, no atomics.
// NG = ceil(hd / 16) chunk groups (override, set per call by the registry from hd; 1..8, so
// hd <= MAX_HD = 128); chunk groups k >= NG are never touched, dims hd..16 NG are zero in tiles
// and registers. Workgroup memory: xt, yt, sp, dp, 8 KiB each = 32 KiB.

override NG: u32 = 8u;

const ROWS: u32 = 32u;  // resident rows per workgroup (a quad each)
const TILE: u32 = 16u;  // streamed rows per tile
const NCH: u32 = 32u;   // vec4 chunks per tile row (MAX_HD / 4)
const SRC_Q: u32 = 0u;  // row sources: the Q | K | V column blocks of qkv, and dout
const SRC_K: u32 = 1u;
const SRC_V: u32 = 2u;
const SRC_DO: u32 = 3u;

@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read> dout: array<f32>;
@group(0) @binding(3) var<storage, read> lse: array<f32>;
@group(0) @binding(4) var<storage, read_write> dqkv: array<f32>;

var<workgroup> xt: array<vec4<f32>, 512>;  // [TILE][NCH] q or k rows
var<workgroup> yt: array<vec4<f32>, 512>;  // [TILE][NCH] dO or v rows
var<workgroup> sp: array<vec4<f32>, 512>;  // [ROWS][TILE] the 4 members' shares of a . x
var<workgroup> dp: array<vec4<f32>, 512>;  // [ROWS][TILE] the 4 members' shares of b . y

var<private> a0: vec4<f32>;
var<private> a1: vec4<f32>;
var<private> a2: vec4<f32>;
var<private> a3: vec4<f32>;
var<private> a4: vec4<f32>;
var<private> a5: vec4<f32>;
var<private> a6: vec4<f32>;
var<private> a7: vec4<f32>;
var<private> b0: vec4<f32>;
var<private> b1: vec4<f32>;
var<private> b2: vec4<f32>;
var<private> b3: vec4<f32>;
var<private> b4: vec4<f32>;
var<private> b5: vec4<f32>;
var<private> b6: vec4<f32>;
var<private> b7: vec4<f32>;

// Element (token n, column col within the head block) of source src.
fn elem(src: u32, n: u32, col: u32) -> f32 {
    if (src == SRC_DO) { return dout[n * p.C + col]; }
    return qkv[n * 3u * p.C + src * p.C + col];
}

// Chunk j of head h's row of token n from src, zero at and beyond hd.
fn chunk(src: u32, n: u32, h: u32, j: u32) -> vec4<f32> {
    let d = 4u * j;
    let col = h * p.hd + d;
    var v = vec4<f32>(0.0);
    if (d < p.hd) { v.x = elem(src, n, col); }
    if (d + 1u < p.hd) { v.y = elem(src, n, col + 1u); }
    if (d + 2u < p.hd) { v.z = elem(src, n, col + 2u); }
    if (d + 3u < p.hd) { v.w = elem(src, n, col + 3u); }
    return v;
}

// dqkv[base + 4j ..] = v, dims below hd only.
fn put_chunk(base: u32, j: u32, v: vec4<f32>) {
    let d = 4u * j;
    if (d < p.hd) { dqkv[base + d] = v.x; }
    if (d + 1u < p.hd) { dqkv[base + d + 1u] = v.y; }
    if (d + 2u < p.hd) { dqkv[base + d + 2u] = v.z; }
    if (d + 3u < p.hd) { dqkv[base + d + 3u] = v.w; }
}

// a0.. <- member u's chunks of token n's row from sa, b0.. <- the same from sb.
fn load_rows(sa: u32, sb: u32, n: u32, h: u32, u: u32) {
    a0 = chunk(sa, n, h, u);
    b0 = chunk(sb, n, h, u);
    if (NG > 1u) { a1 = chunk(sa, n, h, u + 4u); b1 = chunk(sb, n, h, u + 4u); }
    if (NG > 2u) { a2 = chunk(sa, n, h, u + 8u); b2 = chunk(sb, n, h, u + 8u); }
    if (NG > 3u) { a3 = chunk(sa, n, h, u + 12u); b3 = chunk(sb, n, h, u + 12u); }
    if (NG > 4u) { a4 = chunk(sa, n, h, u + 16u); b4 = chunk(sb, n, h, u + 16u); }
    if (NG > 5u) { a5 = chunk(sa, n, h, u + 20u); b5 = chunk(sb, n, h, u + 20u); }
    if (NG > 6u) { a6 = chunk(sa, n, h, u + 24u); b6 = chunk(sb, n, h, u + 24u); }
    if (NG > 7u) { a7 = chunk(sa, n, h, u + 28u); b7 = chunk(sb, n, h, u + 28u); }
}

// xt <- rows r0 .. r0 + TILE of sx, yt <- the same rows of sy (head h of batch b), by all 128
// invocations; zero beyond T and hd.
fn stage(t: u32, sx: u32, sy: u32, b: u32, h: u32, r0: u32) {
    let hdp = 16u * NG;
    for (var e = t; e < TILE * hdp; e = e + 128u) {
        let c = e / hdp;
        let d = e % hdp;
        let i = r0 + c;
        var xv = 0.0;
        var yv = 0.0;
        if (i < p.T && d < p.hd) {
            let n = b * p.T + i;
            xv = elem(sx, n, h * p.hd + d);
            yv = elem(sy, n, h * p.hd + d);
        }
        xt[c * NCH + d / 4u][d % 4u] = xv;
        yt[c * NCH + d / 4u][d % 4u] = yv;
    }
}

// Where the shares of (resident row r, tile row c) live in sp / dp: row r's 16 slots rotated by
// r, so a warp's 8 rows hit distinct banks for the same c (no padding: workgroup memory is full).
fn slot(r: u32, c: u32) -> u32 {
    return r * TILE + ((c + r) & (TILE - 1u));
}

// Member u's shares of a . x_c and b . y_c for resident row r and tile row c.
fn partials(r: u32, c: u32, u: u32) {
    let o = c * NCH + u;
    var s = dot(a0, xt[o]);
    var d = dot(b0, yt[o]);
    if (NG > 1u) { s = s + dot(a1, xt[o + 4u]); d = d + dot(b1, yt[o + 4u]); }
    if (NG > 2u) { s = s + dot(a2, xt[o + 8u]); d = d + dot(b2, yt[o + 8u]); }
    if (NG > 3u) { s = s + dot(a3, xt[o + 12u]); d = d + dot(b3, yt[o + 12u]); }
    if (NG > 4u) { s = s + dot(a4, xt[o + 16u]); d = d + dot(b4, yt[o + 16u]); }
    if (NG > 5u) { s = s + dot(a5, xt[o + 20u]); d = d + dot(b5, yt[o + 20u]); }
    if (NG > 6u) { s = s + dot(a6, xt[o + 24u]); d = d + dot(b6, yt[o + 24u]); }
    if (NG > 7u) { s = s + dot(a7, xt[o + 28u]); d = d + dot(b7, yt[o + 28u]); }
    let k = slot(r, c);
    sp[k][u] = s;
    dp[k][u] = d;
}

// (P, dS) of resident row r and tile row c from the quad's shares; (0, 0) where masked.
fn pair(r: u32, c: u32, live: bool, row_lse: f32, row_delta: f32) -> vec2<f32> {
    let k = slot(r, c);
    let s = sp[k];
    let d = dp[k];
    let pr = select(0.0, exp(p.scale * ((s.x + s.y) + (s.z + s.w)) - row_lse), live);
    return vec2<f32>(pr, pr * (((d.x + d.y) + (d.z + d.w)) - row_delta));
}
