//! Host kernels for inference on the CPU: the building blocks of
//! [`HostBert`](crate::host_model::HostBert), also used by the burn module on burn's CPU
//! backend (`host_kernels`), where burn's own ops are slow.
//!
//! - [`gelu`]: burn's GELU on the CPU backend is five element-wise passes, one of them libm's
//!   scalar `erff`; on `[B, S, 1536]` activations it cost as much as the matrix product before
//!   it. Here it is one pass with a branch-free `erf` that the compiler vectorises.
//! - [`attention`]: burn's fused attention on the CPU backend spends most of its time in scalar
//!   `exp` calls of the softmax and in copies that split the heads. Here each (sequence, head)
//!   pair is two `gemm` calls on strided views of the projections (no copies) and a
//!   vectorised softmax that skips padded keys.
//! - LayerNorm and row-parallel helpers for the host engine.
//!
//! The tensor versions read their inputs back (a move on the CPU backend), work split over
//! all cores, and upload the result: they leave burn's autodiff graph, so the trainer keeps
//! burn's ops.

use burn::tensor::{DType, Tensor, TensorData};

/// `x`'s values on the host. The caller has checked that `x` is f32; on the CPU backend this is
/// a move, not a copy, because `x` is not shared.
fn into_host<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.into_data()
        .try_into_vec::<f32>()
        .expect("f32 tensor data (dtype checked by the caller)")
}

/// Exact (erf) GELU of `x [B, S, N]` computed on the host; see the module docs. Tensors that
/// are not f32 (never the case for this crate's models) go to burn's op.
pub fn gelu(x: Tensor<3>) -> Tensor<3> {
    if x.dtype() != DType::F32 {
        return burn::tensor::activation::gelu(x);
    }
    let (dims, device) = (x.dims(), x.device());
    let mut values = into_host(x);
    gelu_in_place(&mut values);
    Tensor::from_data(TensorData::new(values, dims), &device)
}

/// Multi-head scaled dot-product attention on the host.
///
/// `q`, `k`, `v`: `[B, S, H]` as the projections produce them (head `h` is columns
/// `h·d .. (h+1)·d`, `d = H / heads`); `key_valid`: `[B·S]`, false for padded keys, which get
/// no weight. Returns the context `[B, S, H]` in the same layout (heads already merged), or
/// the inputs back if they are not f32 or the shapes do not fit (the caller then uses burn).
pub fn attention(
    q: Tensor<3>,
    k: Tensor<3>,
    v: Tensor<3>,
    heads: usize,
    key_valid: &[bool],
) -> Result<Tensor<3>, Box<[Tensor<3>; 3]>> {
    let dims @ [b, s, h] = q.dims();
    let fits = heads > 0
        && h % heads == 0
        && key_valid.len() == b * s
        && [&q, &k, &v]
            .iter()
            .all(|t| t.dtype() == DType::F32 && t.dims() == dims);
    if !fits {
        return Err(Box::new([q, k, v]));
    }
    let device = q.device();
    let (q, k, v) = (into_host(q), into_host(k), into_host(v));
    let context = attention_host(&q, &k, &v, dims, heads, key_valid);
    Ok(Tensor::from_data(TensorData::new(context, dims), &device))
}

/// [`attention`] on host slices (all `[B, S, H]` row-major).
pub fn attention_host(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    dims @ [b, s, h]: [usize; 3],
    heads: usize,
    key_valid: &[bool],
) -> Vec<f32> {
    let mut out = vec![0.0f32; b * s * h];
    attention_strided([q, k, v], h, dims, heads, key_valid, &mut out);
    out
}

/// Multi-head attention over the packed projections of [`crate::host_model`]: `qkv` is
/// `[B·S, 3H]`, each row `[q | k | v]`; the context `[B·S, H]` (heads merged) goes to `out`.
pub fn attention_packed(
    qkv: &[f32],
    dims @ [_, _, h]: [usize; 3],
    heads: usize,
    key_valid: &[bool],
    out: &mut [f32],
) {
    let (q, k, v) = (
        qkv,
        &qkv[h.min(qkv.len())..],
        &qkv[(2 * h).min(qkv.len())..],
    );
    attention_strided([q, k, v], 3 * h, dims, heads, key_valid, out);
}

/// The attention kernel: `q`, `k`, `v` are views whose rows (one per token, `row_stride`
/// apart) start with the `H` values of that projection; `out` is `[B·S, H]`.
///
/// One task per sequence: for each head, scores `[S, S]` = one `gemm` on strided views (no
/// copies), a vectorised softmax that skips padded keys, and a second `gemm` that writes the
/// head's `[S, d]` block straight into `out`.
fn attention_strided(
    [q, k, v]: [&[f32]; 3],
    row_stride: usize,
    [_, s, h]: [usize; 3],
    heads: usize,
    key_valid: &[bool],
    out: &mut [f32],
) {
    let d = h / heads;
    let scale = 1.0 / (d as f32).sqrt();
    let sequence = |seq: usize, out: &mut [f32]| {
        let rows = seq * s * row_stride..;
        let (q, k, v) = (&q[rows.clone()], &k[rows.clone()], &v[rows]);
        let valid: Vec<f32> = key_valid[seq * s..(seq + 1) * s]
            .iter()
            .map(|&ok| if ok { 1.0 } else { 0.0 })
            .collect();
        if !valid.contains(&1.0) {
            out.fill(0.0); // no real key (cannot happen for tokenized text): attend to nothing
            return;
        }
        let mut scores = vec![0.0f32; s * s];
        for head in 0..heads {
            let col = head * d;
            // scores = scale · Q_sh [S, d] · K_shᵀ [d, S]
            strided_matmul(
                [s, s, d],
                (&mut scores, s),
                (&q[col..], row_stride, 1),
                (&k[col..], 1, row_stride),
                Product::scaled(scale),
            );
            with_wide_simd(
                &mut scores,
                #[inline(always)]
                |scores| {
                    for row in scores.chunks_exact_mut(s) {
                        softmax_masked(row, &valid);
                    }
                },
            );
            // context_sh = P [S, S] · V_sh [S, d], written into its columns of `out`
            strided_matmul(
                [s, d, s],
                (&mut out[col..], h),
                (&scores, s, 1),
                (&v[col..], row_stride, 1),
                Product::scaled(1.0),
            );
        }
    };
    for_each_chunk(out, s * h, sequence);
}

/// In-place softmax of one row of scores over the keys with `valid = 1` (others get 0), of
/// which there must be at least one. A NaN score makes the row NaN.
#[inline(always)]
fn softmax_masked(row: &mut [f32], valid: &[f32]) {
    let max = lanes_fold(
        row.iter()
            .zip(valid)
            .map(|(&x, &ok)| if ok > 0.0 { x } else { f32::NEG_INFINITY }),
        f32::NEG_INFINITY,
        max_or_first,
    );
    for (x, &ok) in row.iter_mut().zip(valid) {
        *x = exp_non_positive(min_or_first(*x - max, 0.0)) * ok;
    }
    let inverse = 1.0 / lanes_fold(row.iter().copied(), 0.0, |a, b| a + b);
    for x in row.iter_mut() {
        *x *= inverse;
    }
}

/// Folds with 8 independent accumulators, so that the compiler can keep them in one vector
/// register (a single running accumulator would serialise on floating-point ordering).
#[inline(always)]
fn lanes_fold(values: impl Iterator<Item = f32>, init: f32, op: impl Fn(f32, f32) -> f32) -> f32 {
    let mut lanes = [init; 8];
    for (i, x) in values.enumerate() {
        lanes[i % 8] = op(lanes[i % 8], x);
    }
    lanes.into_iter().fold(init, op)
}

/// `b` if `b > a`, else `a` (so `a` when `b` is NaN). Unlike `f32::max`, this is one
/// instruction in WebAssembly (`f32x4.pmax`); `f32::max` is emulated there, which keeps loops
/// over it from vectorising (a softmax over 139 × 139 scores took 4× as long with it in V8).
#[inline(always)]
fn max_or_first(a: f32, b: f32) -> f32 {
    if b > a { b } else { a }
}

/// `b` if `b < a`, else `a` (so `a` when `b` is NaN): `f32x4.pmin` in WebAssembly.
#[inline(always)]
fn min_or_first(a: f32, b: f32) -> f32 {
    if b < a { b } else { a }
}

/// How [`strided_matmul`] combines the product with `dst` and whether it may use all cores.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Product {
    /// The product is multiplied by this.
    pub scale: f32,
    /// Add to `dst`'s current values instead of overwriting them.
    pub accumulate: bool,
    /// Split this one product over all cores (for large products; small ones run inside
    /// already parallel tasks).
    pub parallel: bool,
}

impl Product {
    pub(crate) fn scaled(scale: f32) -> Self {
        Self {
            scale,
            accumulate: false,
            parallel: false,
        }
    }
}

/// `dst [m, n] (row stride dst_rs) (+)= scale · lhs [m, k] · rhs [k, n]`, operands given as
/// `(slice, row stride, column stride)` starting at element (0, 0).
///
/// # Panics
/// If a view reaches past its slice (a bug in the caller, checked before the unsafe call).
pub(crate) fn strided_matmul(
    [m, n, k]: [usize; 3],
    (dst, dst_rs): (&mut [f32], usize),
    (lhs, lhs_rs, lhs_cs): (&[f32], usize, usize),
    (rhs, rhs_rs, rhs_cs): (&[f32], usize, usize),
    product: Product,
) {
    if m == 0 || n == 0 {
        return;
    }
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(last(m, n, dst_rs, 1) < dst.len(), "dst view out of bounds");
    if k == 0 {
        if !product.accumulate {
            for row in 0..m {
                dst[row * dst_rs..row * dst_rs + n].fill(0.0);
            }
        }
        return;
    }
    assert!(
        last(m, k, lhs_rs, lhs_cs) < lhs.len(),
        "lhs view out of bounds"
    );
    assert!(
        last(k, n, rhs_rs, rhs_cs) < rhs.len(),
        "rhs view out of bounds"
    );
    #[cfg(not(target_family = "wasm"))]
    let parallelism = if product.parallel {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    #[cfg(target_family = "wasm")]
    let parallelism = {
        let _ = product.parallel; // one thread in the browser
        gemm::Parallelism::None
    };
    // SAFETY: every element the three strided views address lies inside its slice (asserted
    // above), `dst` is exclusively borrowed and does not overlap the operands, and gemm reads
    // `dst` only with `read_dst = true`, when it holds initialised values.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            product.accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            product.scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// `v ← v · ½ · (1 + erf(v / √2))` for every element, over all cores natively.
pub fn gelu_in_place(values: &mut [f32]) {
    for_row_groups(values, 1, |_, chunk| gelu_chunk(chunk));
}

fn gelu_chunk(chunk: &mut [f32]) {
    with_wide_simd(
        chunk,
        #[inline(always)]
        |chunk| {
            for v in chunk.iter_mut() {
                let x = *v;
                *v = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
            }
        },
    );
}

/// Applies `kernel(first_row, rows)` to consecutive groups of whole rows of `data` (rows of
/// `row_len` values), over all cores natively. Groups hold about 16k values: large enough to
/// amortise scheduling, small enough to balance.
pub(crate) fn for_row_groups(
    data: &mut [f32],
    row_len: usize,
    kernel: impl Fn(usize, &mut [f32]) + Send + Sync,
) {
    let rows_per_group = ((1 << 14) / row_len.max(1)).max(1);
    for_each_chunk(data, rows_per_group * row_len.max(1), |g, rows| {
        kernel(g * rows_per_group, rows)
    });
}

/// Applies `f(index, chunk)` to consecutive chunks of `chunk_len` values of `data` (the last
/// may be shorter): in parallel natively, one after another in the browser (one thread).
pub(crate) fn for_each_chunk(
    data: &mut [f32],
    chunk_len: usize,
    f: impl Fn(usize, &mut [f32]) + Send + Sync,
) {
    let chunk_len = chunk_len.max(1);
    #[cfg(not(target_family = "wasm"))]
    {
        use rayon::prelude::*;
        data.par_chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(i, chunk)| f(i, chunk));
    }
    #[cfg(target_family = "wasm")]
    data.chunks_mut(chunk_len)
        .enumerate()
        .for_each(|(i, chunk)| f(i, chunk));
}

/// LayerNorm of every row of `rows` (length a multiple of `gamma.len()`), in place:
/// `(x − mean) / √(var + eps) · gamma + beta`, biased variance as in PyTorch.
pub(crate) fn layer_norm_rows(rows: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = gamma.len();
    with_wide_simd(
        rows,
        #[inline(always)]
        |rows| {
            for row in rows.chunks_exact_mut(n) {
                let mean = lanes_fold(row.iter().copied(), 0.0, |a, b| a + b) / n as f32;
                let var = lanes_fold(row.iter().map(|&x| (x - mean) * (x - mean)), 0.0, |a, b| {
                    a + b
                }) / n as f32;
                let inverse = 1.0 / (var + eps).sqrt();
                for ((x, &g), &b) in row.iter_mut().zip(gamma).zip(beta) {
                    *x = (*x - mean) * inverse * g + b;
                }
            }
        },
    );
}

/// Runs `kernel` compiled for AVX2 (8 lanes) where the CPU has it, else for the build's
/// baseline (SSE2 on x86-64, 4 lanes; scalar or simd128 in wasm). `kernel` must be inlined
/// into the caller for the wider instructions to apply, hence `#[inline(always)]` bodies.
#[inline(always)]
fn with_wide_simd<T>(data: &mut [f32], kernel: impl Fn(&mut [f32]) -> T) -> T {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        fn avx2<T>(data: &mut [f32], kernel: impl Fn(&mut [f32]) -> T) -> T {
            kernel(data)
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of
            // calling a `target_feature(enable = "avx2")` function.
            #[allow(unsafe_code)]
            return unsafe { avx2(data, kernel) };
        }
    }
    kernel(data)
}

/// erf with absolute error ≤ 6e-7 (Abramowitz & Stegun 7.1.26, whose 1.5e-7 bound grows by
/// f32 rounding, with a polynomial `exp`): branch-free so that loops over it vectorise. In
/// the GELU that is ≤ 3e-7·|x|, below the f32 rounding of the matrix products around it.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A1: f32 = 0.254_829_6;
    const A2: f32 = -0.284_496_74;
    const A3: f32 = 1.421_413_8;
    const A4: f32 = -1.453_152;
    const A5: f32 = 1.061_405_4;
    let a = x.abs();
    let t = 1.0 / (1.0 + P * a);
    let poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
    let magnitude = 1.0 - poly * exp_non_positive(-a * a);
    magnitude.copysign(x)
}

/// `e^z` for `z ≤ 0` (relative error ~1e-7; 0 below −87): Cephes' `expf` range reduction and
/// polynomial, with rounding and `2^n` done by bit tricks instead of calls.
#[inline(always)]
fn exp_non_positive(z: f32) -> f32 {
    // 1.5 · 2^23: adding it rounds to an integer kept in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let z = max_or_first(z, -87.0);
    let shifted = z * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = z - n * LN2_HI - n * LN2_LO;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e_r = 1.0 + r + r * r * p;
    // The low bits of `shifted` hold n + 2^22; rebuild 2^n as an exponent field.
    let n_bits = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let two_n = f32::from_bits(n_bits.wrapping_add(127) << 23);
    e_r * two_n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_libm_over_the_whole_range() {
        let mut worst = 0.0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4; // −20 … 20, including 0 and the tails
            let err = (erf(x) as f64 - libm::erf(x as f64)).abs();
            worst = worst.max(err);
        }
        assert!(worst <= 6e-7, "worst |erf error| {worst:e}");
        assert_eq!(erf(0.0), 0.0);
        assert_eq!(erf(f32::INFINITY), 1.0);
        assert_eq!(erf(f32::NEG_INFINITY), -1.0);
    }

    #[test]
    fn exp_matches_std_for_non_positive_inputs() {
        for i in 0..=86_900 {
            let z = -(i as f32) * 1e-3;
            let (ours, std) = (exp_non_positive(z), z.exp());
            assert!(
                (ours - std).abs() <= 2e-7 * std,
                "exp({z}) = {ours}, std {std}"
            );
        }
        assert_eq!(exp_non_positive(-1000.0), exp_non_positive(-87.0));
    }

    /// Reference: plain loops over the definition, with padded keys at −∞.
    fn naive_attention(
        q: &[f32],
        k: &[f32],
        v: &[f32],
        [b, s, h]: [usize; 3],
        heads: usize,
        valid: &[bool],
    ) -> Vec<f64> {
        let d = h / heads;
        let mut out = vec![0.0f64; b * s * h];
        for seq in 0..b {
            for head in 0..heads {
                for i in 0..s {
                    let at = |t: usize, c: usize| (seq * s + t) * h + head * d + c;
                    let scores: Vec<f64> = (0..s)
                        .map(|j| {
                            let dot: f64 = (0..d).map(|c| (q[at(i, c)] * k[at(j, c)]) as f64).sum();
                            if valid[seq * s + j] {
                                dot / (d as f64).sqrt()
                            } else {
                                f64::NEG_INFINITY
                            }
                        })
                        .collect();
                    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let exps: Vec<f64> = scores.iter().map(|x| (x - max).exp()).collect();
                    let sum: f64 = exps.iter().sum();
                    for c in 0..d {
                        out[at(i, c)] = (0..s).map(|j| exps[j] / sum * v[at(j, c)] as f64).sum();
                    }
                }
            }
        }
        out
    }

    fn random_values(n: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 4.0
            })
            .collect()
    }

    #[test]
    fn host_attention_matches_the_definition_with_padding() {
        // Head width 4 over 7 tokens, and the model's head width 32 over 37 tokens.
        for (b, s, h, heads) in [(3, 7, 12, 3), (2, 37, 64, 2)] {
            let q = random_values(b * s * h, 1);
            let k = random_values(b * s * h, 2);
            let v = random_values(b * s * h, 3);
            // Prefix masks as tokenized batches have (the whole sequence, about half, one
            // token), then holes in the middle and a masked first key.
            let lengths = [s, s / 2 + 1, 1];
            let prefix: Vec<bool> = (0..b * s).map(|i| i % s < lengths[i / s]).collect();
            let holes: Vec<bool> = (0..b * s).map(|i| (i * 7 + i / s) % 3 != 0).collect();
            for valid in [&prefix, &holes] {
                let want = naive_attention(&q, &k, &v, [b, s, h], heads, valid);
                let got = attention_host(&q, &k, &v, [b, s, h], heads, valid);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (*g as f64 - w).abs() <= 1e-5,
                        "s = {s}, element {i}: {g} vs {w}"
                    );
                }
            }
            // The packed layout `[q | k | v]` per row goes through the same kernel.
            let qkv: Vec<f32> = (0..b * s)
                .flat_map(|row| [&q, &k, &v].map(|x| &x[row * h..(row + 1) * h]).concat())
                .collect();
            let mut packed = vec![0.0f32; b * s * h];
            attention_packed(&qkv, [b, s, h], heads, &holes, &mut packed);
            assert_eq!(packed, attention_host(&q, &k, &v, [b, s, h], heads, &holes));
        }
    }

    #[test]
    fn a_nan_score_gives_nan_not_a_plausible_context() {
        let (b, s, h, heads) = (1, 5, 8, 1);
        let mut q = random_values(b * s * h, 4);
        q[2 * h] = f32::NAN; // query 2
        let kv = random_values(b * s * h, 5);
        let out = attention_host(&q, &kv, &kv, [b, s, h], heads, &[true; 5]);
        assert!(out[2 * h..3 * h].iter().all(|x| x.is_nan()));
        assert!(out[..2 * h].iter().all(|x| x.is_finite()));
    }

    /// Key 1 of 3 masked, worked by hand: one query per head, `d = 1` (scale 1).
    #[test]
    fn host_attention_skips_a_masked_middle_key() {
        let ln = f32::ln;
        // Head 0: scores [0, 5, ln 2] → weights over keys 0 and 2 are 1/3 and 2/3;
        // values [3, 1000, 6] → 1 + 4 = 5 (key 1 would dominate if it were not masked).
        // Head 1: scores [ln 3, 9, 0] → weights 3/4 and 1/4; values [4, -1000, 0] → 3.
        // Every query is 1, so each row's scores are the keys and all three rows agree.
        let q = [1.0f32; 6];
        let k = [0.0, ln(3.0), 5.0, 9.0, ln(2.0), 0.0];
        let v = [3.0, 4.0, 1000.0, -1000.0, 6.0, 0.0];
        let valid = [true, false, true];
        let got = attention_host(&q, &k, &v, [1, 3, 2], 2, &valid);
        for (i, (g, w)) in got.iter().zip([5.0f32, 3.0].repeat(3)).enumerate() {
            assert!((g - w).abs() <= 1e-5, "element {i}: {g} vs {w}");
        }
    }

    #[test]
    fn gelu_in_place_matches_the_exact_definition() {
        let mut values: Vec<f32> = (-4000..4000).map(|i| i as f32 * 2.5e-3).collect();
        let expected: Vec<f64> = values
            .iter()
            .map(|&x| {
                let x = x as f64;
                0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
            })
            .collect();
        gelu_in_place(&mut values);
        for (got, want) in values.iter().zip(&expected) {
            assert!((*got as f64 - want).abs() <= 1e-6, "{got} vs {want}");
        }
    }
}
