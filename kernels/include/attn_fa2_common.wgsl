// include/attn_fa2_common.wgsl - what every FlashAttention-2 kernel (attn_fa2_*) shares, prepended
// after common.wgsl: parameters, row layout, tiles, chunk helpers.
// qkv [B*T, 3C] (columns Q | K | V, head h at h*hd .. h*hd+hd in each), out / dout [B*T, C],
// lse / delta [B*H*T] (one float per query row of each head).
// Layout: a workgroup of FA_WG = 64 invocations keeps RW = RR * 64 / G resident rows (query or key
// rows, by kernel); row r = t / G is held by G lanes, lane u = t % G owning the head_dim chunks
// j = u + G k (k = 0 .. NC-1; chunk j = dims 4j .. 4j+3) of the row's operands in named vec4
// registers. With G = 1 (head_dim <= 32) one invocation holds a whole row: its dot products and
// its softmax need no other invocation. With G > 1 each lane's partial dot products are added
// across the row's lanes in a fixed order, so every lane gets the same bits (deterministic, no
// atomics): the lane-sum functions come from include/attn_fa2_lanes_wg.wgsl (workgroup memory)
// or its twin attn_fa2_lanes_sg.wgsl (subgroup shuffles, the same bits), prepended after this
// file. The other side (keys or queries)
// passes through workgroup memory TILE = 16 rows at a time as vec4 tiles xt, yt [TILE][CH]
// (CH = G * NC chunks per tile row, zero beyond hd), read by a row's lanes as broadcasts.
// Override constants (set per call by the registry from hd): HD = head_dim (1 .. MAX_HD), G = lanes
// per row (1, 2 or 4, G >= ceil(HD / 32) so that NC <= MAX_NC); NC follows from both. ST = tiles
// staged per barrier pair (1, 2 or 4, ST * CH <= 32: the streamed block is ST * TILE rows, its
// tile s read as score groups 4s .. 4s+3); IL = 1: at G = 1 the backward kernels compute and use
// one group of four scores at a time (fewer live registers). PF = how a block is staged: 0 = one
// element per invocation and step; 1 = one vec4 chunk per invocation and step (a vec4 load
// through the aliased view qkv4 / dout4 where HD % 4 == 0, else four scalar loads); 2 = as 1,
// the next block fetched into NPF + NPF vec4 registers while the current one is computed
// (`prefetch` after the block's second barrier, `stage_block` writes it after the next first).
// RR = resident rows per invocation (1 or 2; 2 needs NC <= 4): with 2, invocation t also holds
// row r + FA_WG / G in the upper registers (a4.., b4.., ...), so each chunk read from a tile
// feeds two rows' FMAs; RW = RR * FA_WG / G rows per workgroup.
// Each kernel file provides `elem(src, n, col)`: element col of token n's row of source src, and
// `elem4(src, n, col)`: the vec4 at col (a multiple of 4; only called when HD % 4 == 0).

const MAX_HD: u32 = 128u;
const NEG: f32 = -1.0e30;  // "minus infinity" that keeps exp() and max() free of NaN
const FA_WG: u32 = 64u;    // invocations per workgroup
const TILE: u32 = 16u;     // streamed rows per tile
const MAX_NC: u32 = 8u;    // vec4 chunks per lane
const SRC_Q: u32 = 0u;     // row sources: the Q | K | V column blocks of qkv, and dout
const SRC_K: u32 = 1u;
const SRC_V: u32 = 2u;
const SRC_DO: u32 = 3u;

override HD: u32 = 128u;
override G: u32 = 4u;
override ST: u32 = 1u;
override IL: u32 = 0u;
override NC: u32 = ((HD + 3u) / 4u + G - 1u) / G;  // vec4 chunks per lane
override CH: u32 = G * NC;                          // vec4 chunks per tile row
override RR: u32 = 1u;
override RW: u32 = RR * FA_WG / G;                  // resident rows per workgroup
override PF: u32 = 0u;
override NPF: u32 = (ST * TILE * CH + FA_WG - 1u) / FA_WG;  // chunks per invocation and block

struct AttnParams {
    B: u32,
    T: u32,
    H: u32,
    C: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: AttnParams;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(8) var<storage, read> qkv4: array<vec4<f32>>;  // qkv as vec4 (PF > 0)

var<workgroup> xt: array<vec4<f32>, 512>;   // [ST * TILE][CH] streamed rows (K or Q)
var<workgroup> yt: array<vec4<f32>, 512>;   // [ST * TILE][CH] streamed rows (V or dO)

// Chunk j of head h's row of token n from src, zero at and beyond HD.
fn chunk(src: u32, n: u32, h: u32, j: u32) -> vec4<f32> {
    let d = 4u * j;
    let col = h * HD + d;
    var v = vec4<f32>(0.0);
    if (d < HD) { v.x = elem(src, n, col); }
    if (d + 1u < HD) { v.y = elem(src, n, col + 1u); }
    if (d + 2u < HD) { v.z = elem(src, n, col + 2u); }
    if (d + 3u < HD) { v.w = elem(src, n, col + 3u); }
    return v;
}

// xt <- rows r0 .. r0 + ST * TILE of sx, yt <- the same rows of sy (head h of batch b), by all FA_WG
// invocations, consecutive invocations on consecutive dims; zero beyond T and HD.
fn stage(t: u32, sx: u32, sy: u32, b: u32, h: u32, r0: u32) {
    let dims = 4u * CH;
    for (var e = t; e < ST * TILE * dims; e = e + FA_WG) {
        let c = e / dims;
        let d = e % dims;
        let i = r0 + c;
        var xv = 0.0;
        var yv = 0.0;
        if (i < p.T && d < HD) {
            let n = b * p.T + i;
            xv = elem(sx, n, h * HD + d);
            yv = elem(sy, n, h * HD + d);
        }
        xt[c * CH + d / 4u][d % 4u] = xv;
        yt[c * CH + d / 4u][d % 4u] = yv;
    }
}

// Chunk e (row-major over [ST * TILE][CH]) of the block of rows r0 .. of src, zero beyond T,
// HD and the block: one vec4 load where HD % 4 == 0.
fn block_chunk(src: u32, b: u32, h: u32, r0: u32, e: u32) -> vec4<f32> {
    let i = r0 + e / CH;
    let j = e % CH;
    if (e >= ST * TILE * CH || i >= p.T || 4u * j >= HD) { return vec4<f32>(0.0); }
    if (HD % 4u == 0u) { return elem4(src, b * p.T + i, h * HD + 4u * j); }
    return chunk(src, b * p.T + i, h, j);
}

var<private> px0: vec4<f32>;
var<private> px1: vec4<f32>;
var<private> px2: vec4<f32>;
var<private> px3: vec4<f32>;
var<private> px4: vec4<f32>;
var<private> px5: vec4<f32>;
var<private> px6: vec4<f32>;
var<private> px7: vec4<f32>;
var<private> py0: vec4<f32>;
var<private> py1: vec4<f32>;
var<private> py2: vec4<f32>;
var<private> py3: vec4<f32>;
var<private> py4: vec4<f32>;
var<private> py5: vec4<f32>;
var<private> py6: vec4<f32>;
var<private> py7: vec4<f32>;

// px.., py.. <- invocation t's chunks t + FA_WG k of the block at r0 of sx, sy (PF > 0).
fn fetch(t: u32, sx: u32, sy: u32, b: u32, h: u32, r0: u32) {
    px0 = block_chunk(sx, b, h, r0, t);
    py0 = block_chunk(sy, b, h, r0, t);
    if (NPF > 1u) { px1 = block_chunk(sx, b, h, r0, t + FA_WG); }
    if (NPF > 1u) { py1 = block_chunk(sy, b, h, r0, t + FA_WG); }
    if (NPF > 2u) { px2 = block_chunk(sx, b, h, r0, t + 2u * FA_WG); }
    if (NPF > 2u) { py2 = block_chunk(sy, b, h, r0, t + 2u * FA_WG); }
    if (NPF > 3u) { px3 = block_chunk(sx, b, h, r0, t + 3u * FA_WG); }
    if (NPF > 3u) { py3 = block_chunk(sy, b, h, r0, t + 3u * FA_WG); }
    if (NPF > 4u) { px4 = block_chunk(sx, b, h, r0, t + 4u * FA_WG); }
    if (NPF > 4u) { py4 = block_chunk(sy, b, h, r0, t + 4u * FA_WG); }
    if (NPF > 5u) { px5 = block_chunk(sx, b, h, r0, t + 5u * FA_WG); }
    if (NPF > 5u) { py5 = block_chunk(sy, b, h, r0, t + 5u * FA_WG); }
    if (NPF > 6u) { px6 = block_chunk(sx, b, h, r0, t + 6u * FA_WG); }
    if (NPF > 6u) { py6 = block_chunk(sy, b, h, r0, t + 6u * FA_WG); }
    if (NPF > 7u) { px7 = block_chunk(sx, b, h, r0, t + 7u * FA_WG); }
    if (NPF > 7u) { py7 = block_chunk(sy, b, h, r0, t + 7u * FA_WG); }
}

// xt[e], yt[e] <- chunk e = t + FA_WG k fetched by invocation t, within the block.
fn put_chunks(t: u32) {
    let n = ST * TILE * CH;
    if (t < n) { xt[t] = px0; yt[t] = py0; }
    if (NPF > 1u && t + FA_WG < n) { xt[t + FA_WG] = px1; yt[t + FA_WG] = py1; }
    if (NPF > 2u && t + 2u * FA_WG < n) { xt[t + 2u * FA_WG] = px2; yt[t + 2u * FA_WG] = py2; }
    if (NPF > 3u && t + 3u * FA_WG < n) { xt[t + 3u * FA_WG] = px3; yt[t + 3u * FA_WG] = py3; }
    if (NPF > 4u && t + 4u * FA_WG < n) { xt[t + 4u * FA_WG] = px4; yt[t + 4u * FA_WG] = py4; }
    if (NPF > 5u && t + 5u * FA_WG < n) { xt[t + 5u * FA_WG] = px5; yt[t + 5u * FA_WG] = py5; }
    if (NPF > 6u && t + 6u * FA_WG < n) { xt[t + 6u * FA_WG] = px6; yt[t + 6u * FA_WG] = py6; }
    if (NPF > 7u && t + 7u * FA_WG < n) { xt[t + 7u * FA_WG] = px7; yt[t + 7u * FA_WG] = py7; }
}

// xt, yt <- the block at r0 of sx, sy (between two barriers); PF = 2: from the registers that
// `prefetch` filled during the previous block (or before the loop).
fn stage_block(t: u32, sx: u32, sy: u32, b: u32, h: u32, r0: u32) {
    if (PF == 0u) {
        stage(t, sx, sy, b, h, r0);
        return;
    }
    if (PF == 1u) { fetch(t, sx, sy, b, h, r0); }
    put_chunks(t);
}

// PF = 2: fetch the block at r0 (the next one) into registers; nothing otherwise.
fn prefetch(t: u32, sx: u32, sy: u32, b: u32, h: u32, r0: u32) {
    if (PF == 2u) { fetch(t, sx, sy, b, h, r0); }
}

// acc + a . b as four chained FMAs (a dot() would cost a multiply and an add more).
fn mac(acc: f32, a: vec4<f32>, b: vec4<f32>) -> f32 {
    return fma(a.w, b.w, fma(a.z, b.z, fma(a.y, b.y, fma(a.x, b.x, acc))));
}

fn hmax(v: vec4<f32>) -> f32 {
    return max(max(v.x, v.y), max(v.z, v.w));
}

fn hsum(v: vec4<f32>) -> f32 {
    return (v.x + v.y) + (v.z + v.w);
}

// The resident row's two operands, lane u's chunks u + G k: q (and dO) or k and v, by kernel.
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

// a0.. <- lane u's chunks of token n's row from sa; b0.. <- the same from sb (if sb < 4); with
// RR = 2 (NC <= 4), a4.., b4.. <- the same of token n2's row.
fn load_rows(sa: u32, sb: u32, n: u32, n2: u32, h: u32, u: u32) {
    a0 = chunk(sa, n, h, u);
    if (NC > 1u) { a1 = chunk(sa, n, h, u + G); }
    if (NC > 2u) { a2 = chunk(sa, n, h, u + 2u * G); }
    if (NC > 3u) { a3 = chunk(sa, n, h, u + 3u * G); }
    if (NC > 4u) { a4 = chunk(sa, n, h, u + 4u * G); }
    if (NC > 5u) { a5 = chunk(sa, n, h, u + 5u * G); }
    if (NC > 6u) { a6 = chunk(sa, n, h, u + 6u * G); }
    if (NC > 7u) { a7 = chunk(sa, n, h, u + 7u * G); }
    if (RR > 1u) {
        a4 = chunk(sa, n2, h, u);
        if (NC > 1u) { a5 = chunk(sa, n2, h, u + G); }
        if (NC > 2u) { a6 = chunk(sa, n2, h, u + 2u * G); }
        if (NC > 3u) { a7 = chunk(sa, n2, h, u + 3u * G); }
    }
    if (sb > SRC_DO) { return; }
    b0 = chunk(sb, n, h, u);
    if (NC > 1u) { b1 = chunk(sb, n, h, u + G); }
    if (NC > 2u) { b2 = chunk(sb, n, h, u + 2u * G); }
    if (NC > 3u) { b3 = chunk(sb, n, h, u + 3u * G); }
    if (NC > 4u) { b4 = chunk(sb, n, h, u + 4u * G); }
    if (NC > 5u) { b5 = chunk(sb, n, h, u + 5u * G); }
    if (NC > 6u) { b6 = chunk(sb, n, h, u + 6u * G); }
    if (NC > 7u) { b7 = chunk(sb, n, h, u + 7u * G); }
    if (RR > 1u) {
        b4 = chunk(sb, n2, h, u);
        if (NC > 1u) { b5 = chunk(sb, n2, h, u + G); }
        if (NC > 2u) { b6 = chunk(sb, n2, h, u + 2u * G); }
        if (NC > 3u) { b7 = chunk(sb, n2, h, u + 3u * G); }
    }
}

// s + (v . xt[at], v . xt[at + CH], v . xt[at + 2 CH], v . xt[at + 3 CH]).
fn dot4x(s: vec4<f32>, v: vec4<f32>, at: u32) -> vec4<f32> {
    return vec4<f32>(mac(s.x, v, xt[at]), mac(s.y, v, xt[at + CH]),
                     mac(s.z, v, xt[at + 2u * CH]), mac(s.w, v, xt[at + 3u * CH]));
}

fn dot4y(s: vec4<f32>, v: vec4<f32>, at: u32) -> vec4<f32> {
    return vec4<f32>(mac(s.x, v, yt[at]), mac(s.y, v, yt[at + CH]),
                     mac(s.z, v, yt[at + 2u * CH]), mac(s.w, v, yt[at + 3u * CH]));
}

// Lane u's partial a . x_c for the four tile rows c = 4g .. 4g+3.
fn dots_a(g: u32, u: u32) -> vec4<f32> {
    let at = 4u * g * CH + u;
    var s = dot4x(vec4<f32>(0.0), a0, at);
    if (NC > 1u) { s = dot4x(s, a1, at + G); }
    if (NC > 2u) { s = dot4x(s, a2, at + 2u * G); }
    if (NC > 3u) { s = dot4x(s, a3, at + 3u * G); }
    if (NC > 4u) { s = dot4x(s, a4, at + 4u * G); }
    if (NC > 5u) { s = dot4x(s, a5, at + 5u * G); }
    if (NC > 6u) { s = dot4x(s, a6, at + 6u * G); }
    if (NC > 7u) { s = dot4x(s, a7, at + 7u * G); }
    return s;
}

// Lane u's partial b . y_c for the four tile rows c = 4g .. 4g+3.
fn dots_b(g: u32, u: u32) -> vec4<f32> {
    let at = 4u * g * CH + u;
    var s = dot4y(vec4<f32>(0.0), b0, at);
    if (NC > 1u) { s = dot4y(s, b1, at + G); }
    if (NC > 2u) { s = dot4y(s, b2, at + 2u * G); }
    if (NC > 3u) { s = dot4y(s, b3, at + 3u * G); }
    if (NC > 4u) { s = dot4y(s, b4, at + 4u * G); }
    if (NC > 5u) { s = dot4y(s, b5, at + 5u * G); }
    if (NC > 6u) { s = dot4y(s, b6, at + 6u * G); }
    if (NC > 7u) { s = dot4y(s, b7, at + 7u * G); }
    return s;
}

// acc + w.x y_c + w.y y_(c+1) + w.z y_(c+2) + w.w y_(c+3), c the tile row of chunk index at
// (one chunk of four tile rows, weighted by four scores).
fn axpy4x(acc: vec4<f32>, w: vec4<f32>, at: u32) -> vec4<f32> {
    let r = fma(vec4<f32>(w.x), xt[at], fma(vec4<f32>(w.y), xt[at + CH], acc));
    return fma(vec4<f32>(w.z), xt[at + 2u * CH], fma(vec4<f32>(w.w), xt[at + 3u * CH], r));
}

fn axpy4y(acc: vec4<f32>, w: vec4<f32>, at: u32) -> vec4<f32> {
    let r = fma(vec4<f32>(w.x), yt[at], fma(vec4<f32>(w.y), yt[at + CH], acc));
    return fma(vec4<f32>(w.z), yt[at + 2u * CH], fma(vec4<f32>(w.w), yt[at + 3u * CH], r));
}

// Two resident rows' values side by side (RR = 2): p for the first row, q for the second.
struct Pair {
    p: vec4<f32>,
    q: vec4<f32>,
}

// dot4x for two rows' chunks va, vb at once: each tile chunk read once, used twice.
fn dot4x2(s: Pair, va: vec4<f32>, vb: vec4<f32>, at: u32) -> Pair {
    let x0 = xt[at];
    let x1 = xt[at + CH];
    let x2 = xt[at + 2u * CH];
    let x3 = xt[at + 3u * CH];
    return Pair(vec4<f32>(mac(s.p.x, va, x0), mac(s.p.y, va, x1), mac(s.p.z, va, x2),
                          mac(s.p.w, va, x3)),
                vec4<f32>(mac(s.q.x, vb, x0), mac(s.q.y, vb, x1), mac(s.q.z, vb, x2),
                          mac(s.q.w, vb, x3)));
}

fn dot4y2(s: Pair, va: vec4<f32>, vb: vec4<f32>, at: u32) -> Pair {
    let y0 = yt[at];
    let y1 = yt[at + CH];
    let y2 = yt[at + 2u * CH];
    let y3 = yt[at + 3u * CH];
    return Pair(vec4<f32>(mac(s.p.x, va, y0), mac(s.p.y, va, y1), mac(s.p.z, va, y2),
                          mac(s.p.w, va, y3)),
                vec4<f32>(mac(s.q.x, vb, y0), mac(s.q.y, vb, y1), mac(s.q.z, vb, y2),
                          mac(s.q.w, vb, y3)));
}

// dots_a of both resident rows (RR = 2: a0.. and a4..; NC <= 4).
fn dots2_a(g: u32, u: u32) -> Pair {
    let at = 4u * g * CH + u;
    var s = dot4x2(Pair(vec4<f32>(0.0), vec4<f32>(0.0)), a0, a4, at);
    if (NC > 1u) { s = dot4x2(s, a1, a5, at + G); }
    if (NC > 2u) { s = dot4x2(s, a2, a6, at + 2u * G); }
    if (NC > 3u) { s = dot4x2(s, a3, a7, at + 3u * G); }
    return s;
}

// dots_b of both resident rows (RR = 2: b0.. and b4..; NC <= 4).
fn dots2_b(g: u32, u: u32) -> Pair {
    let at = 4u * g * CH + u;
    var s = dot4y2(Pair(vec4<f32>(0.0), vec4<f32>(0.0)), b0, b4, at);
    if (NC > 1u) { s = dot4y2(s, b1, b5, at + G); }
    if (NC > 2u) { s = dot4y2(s, b2, b6, at + 2u * G); }
    if (NC > 3u) { s = dot4y2(s, b3, b7, at + 3u * G); }
    return s;
}

// axpy4x for two rows' accumulators (acc.p weighted by wa, acc.q by wb): each chunk read once.
fn axpy4x2(acc: Pair, wa: vec4<f32>, wb: vec4<f32>, at: u32) -> Pair {
    let x0 = xt[at];
    let x1 = xt[at + CH];
    let x2 = xt[at + 2u * CH];
    let x3 = xt[at + 3u * CH];
    let ra = fma(vec4<f32>(wa.x), x0, fma(vec4<f32>(wa.y), x1, acc.p));
    let rb = fma(vec4<f32>(wb.x), x0, fma(vec4<f32>(wb.y), x1, acc.q));
    return Pair(fma(vec4<f32>(wa.z), x2, fma(vec4<f32>(wa.w), x3, ra)),
                fma(vec4<f32>(wb.z), x2, fma(vec4<f32>(wb.w), x3, rb)));
}

fn axpy4y2(acc: Pair, wa: vec4<f32>, wb: vec4<f32>, at: u32) -> Pair {
    let y0 = yt[at];
    let y1 = yt[at + CH];
    let y2 = yt[at + 2u * CH];
    let y3 = yt[at + 3u * CH];
    let ra = fma(vec4<f32>(wa.x), y0, fma(vec4<f32>(wa.y), y1, acc.p));
    let rb = fma(vec4<f32>(wb.x), y0, fma(vec4<f32>(wb.y), y1, acc.q));
    return Pair(fma(vec4<f32>(wa.z), y2, fma(vec4<f32>(wa.w), y3, ra)),
                fma(vec4<f32>(wb.z), y2, fma(vec4<f32>(wb.w), y3, rb)));
}
