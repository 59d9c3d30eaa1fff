// layernorm_row.wgsl - LayerNorm of one row by one 64-wide workgroup (include-only).
// The including kernel declares the uniform p (rows, C, eps) and the bindings x (read, or
// read_write), g, bias, y, stats. Invocation i reads and writes only columns i, i + 64, ... of the
// row, so a kernel that has just written those columns of x itself may call it without a barrier.
// y = (x - mean) * rstd * g + bias; stats[row] = (mean, rstd), rstd = 1 / sqrt(var + eps), biased
// variance (as torch). Call in uniform control flow (it reduces across the workgroup).

fn layernorm_row(row: u32, i: u32) {
    let base = row * p.C;
    var s = 0.0;
    for (var c = i; c < p.C; c = c + WG) { s = s + x[base + c]; }
    let mean = wg_sum(s, i) / f32(p.C);
    var q = 0.0;
    for (var c = i; c < p.C; c = c + WG) {
        let d = x[base + c] - mean;
        q = q + d * d;
    }
    let rstd = inverseSqrt(wg_sum(q, i) / f32(p.C) + p.eps);
    for (var c = i; c < p.C; c = c + WG) {
        y[base + c] = (x[base + c] - mean) * rstd * g[c] + bias[c];
    }
    if (i == 0u) {
        stats[2u * row] = mean;
        stats[2u * row + 1u] = rstd;
    }
}
