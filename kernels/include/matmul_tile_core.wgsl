// include/matmul_tile_core.wgsl - the register-blocked tile core of matmul_blocked, one code path
// parametrised by override constants (prepended after include/matmul_tile_io.wgsl, which stages the
// tiles and runs the k-loop through this core's kstep; BM, BN, BK, VEC, SPLITS, UK are its
// constants):
//   TM x TN  outputs per invocation, each 4 or 8;  the workgroup is (BN / TN, BM / TM) invocations
// Ownership: invocation (tx, ty) owns rows ty*4 + {0..3} (and, when TM = 8, BM/2 + ty*4 + {0..3})
// and columns tx*4 + {0..3} (and, when TN = 8, BN/2 + tx*4 + {0..3}) of the tile: split in halves
// so that per k a warp reads consecutive vec4 of op(B) (no bank conflict) and few of op(A)
// (broadcast). Accumulators are named vec4<f32> (acc<row><l|h>), never an array indexed in a loop;
// the halves a TM/TN of 4 does not use are dead code once the constants are known.

override TM: u32 = 8u;
override TN: u32 = 8u;

override WX: u32 = BN / TN;  // invocations per workgroup row
override WY: u32 = BM / TM;
override NT: u32 = WX * WY;  // invocations per workgroup

var<private> acc0l: vec4<f32>;
var<private> acc0h: vec4<f32>;
var<private> acc1l: vec4<f32>;
var<private> acc1h: vec4<f32>;
var<private> acc2l: vec4<f32>;
var<private> acc2h: vec4<f32>;
var<private> acc3l: vec4<f32>;
var<private> acc3h: vec4<f32>;
var<private> acc4l: vec4<f32>;
var<private> acc4h: vec4<f32>;
var<private> acc5l: vec4<f32>;
var<private> acc5h: vec4<f32>;
var<private> acc6l: vec4<f32>;
var<private> acc6h: vec4<f32>;
var<private> acc7l: vec4<f32>;
var<private> acc7h: vec4<f32>;

// Accumulators back to zero (stream-K: a workgroup's next tile).
fn zero_acc() {
    acc0l = vec4<f32>(0.0); acc0h = vec4<f32>(0.0); acc1l = vec4<f32>(0.0); acc1h = vec4<f32>(0.0);
    acc2l = vec4<f32>(0.0); acc2h = vec4<f32>(0.0); acc3l = vec4<f32>(0.0); acc3h = vec4<f32>(0.0);
    acc4l = vec4<f32>(0.0); acc4h = vec4<f32>(0.0); acc5l = vec4<f32>(0.0); acc5h = vec4<f32>(0.0);
    acc6l = vec4<f32>(0.0); acc6h = vec4<f32>(0.0); acc7l = vec4<f32>(0.0); acc7h = vec4<f32>(0.0);
}

// One k of the outer product: rows a0 (and a1) times columns b0 (and b1).
fn outer(a0: vec4<f32>, a1: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>) {
    acc0l = fma(vec4<f32>(a0.x), b0, acc0l);
    acc1l = fma(vec4<f32>(a0.y), b0, acc1l);
    acc2l = fma(vec4<f32>(a0.z), b0, acc2l);
    acc3l = fma(vec4<f32>(a0.w), b0, acc3l);
    if (TN == 8u) {
        acc0h = fma(vec4<f32>(a0.x), b1, acc0h);
        acc1h = fma(vec4<f32>(a0.y), b1, acc1h);
        acc2h = fma(vec4<f32>(a0.z), b1, acc2h);
        acc3h = fma(vec4<f32>(a0.w), b1, acc3h);
    }
    if (TM == 8u) {
        acc4l = fma(vec4<f32>(a1.x), b0, acc4l);
        acc5l = fma(vec4<f32>(a1.y), b0, acc5l);
        acc6l = fma(vec4<f32>(a1.z), b0, acc6l);
        acc7l = fma(vec4<f32>(a1.w), b0, acc7l);
    }
    if (TM == 8u && TN == 8u) {
        acc4h = fma(vec4<f32>(a1.x), b1, acc4h);
        acc5h = fma(vec4<f32>(a1.y), b1, acc5h);
        acc6h = fma(vec4<f32>(a1.z), b1, acc6h);
        acc7h = fma(vec4<f32>(a1.w), b1, acc7h);
    }
}

// One k-row of the staged tiles (offsets oa, ob of this invocation's first vec4 in it).
fn kstep(oa: u32, ob: u32) {
    var a1 = vec4<f32>(0.0);
    var b1 = vec4<f32>(0.0);
    if (TM == 8u) { a1 = sa[oa + WY]; }
    if (TN == 8u) { b1 = sb[ob + WX]; }
    outer(sa[oa], a1, sb[ob], b1);
}

// (tx, ty) of invocation t (local_invocation_index of the (WX, WY) workgroup): consecutive
// invocations along tx, the one mapping of the k-loop and both writes. (Warps as 8 x 4 blocks of
// (tx, ty), half the shared-memory wavefronts per k, did not pay on the H200 in sessions 9 and
// 12: results/h200/s12/README.md.)
fn lane_xy(t: u32) -> vec2<u32> {
    return vec2<u32>(t % WX, t / WX);
}

fn compute(buf: u32, t: u32) {
    let xy = lane_xy(t);
    let tx = xy.x;
    let ty = xy.y;
    let ba = buf * BK * SA + ty;
    let bb = buf * BK * SB + tx;
    k_rows(ba, bb);
}
