//! 8-bit matrix products for the host engine ([`Precision::Int8`](crate::Precision)).
//!
//! A dense layer's weights are rounded to integers in −127..=127 with one scale per output
//! channel (symmetric, per-channel, as onnxruntime's dynamic quantisation); each input row is
//! rounded the same way with its own scale when the layer runs (dynamic, per token). The
//! product is an integer dot product — in WebAssembly `i32x4.dot_i16x8_s`, eight
//! multiply-adds per instruction against four for f32 — rescaled to f32 and added to the bias
//! and residual already in the output. The values sit in 16-bit lanes, so a dot product is one
//! instruction with no widening; |sum| ≤ 127² · inputs stays far inside i32.
//!
//! It trades exactness for speed: embeddings differ from f32 (cosine about 0.995–0.999), so
//! rankings can too. The encoder offers it only on request, and the page shows its agreement
//! with f32 beside it.

use crate::host_ops::for_each_chunk;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[allow(unsafe_code)]
mod lanes {
    use core::arch::wasm32::{
        f32x4_abs, f32x4_extract_lane, f32x4_mul, f32x4_ne, f32x4_nearest, f32x4_pmax, f32x4_splat,
        i16x8, i16x8_narrow_i32x4, i32x4_add, i32x4_dot_i16x8, i32x4_extract_lane, i32x4_splat,
        i32x4_trunc_sat_f32x4, v128, v128_any_true, v128_load, v128_or,
    };

    /// Eight 16-bit integers.
    pub type Lanes = v128;
    /// Four 32-bit partial sums.
    pub type Acc = v128;

    pub fn pack(v: [i16; 8]) -> Lanes {
        i16x8(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7])
    }

    pub fn zero() -> Acc {
        i32x4_splat(0)
    }

    /// `acc + (a₀b₀ + a₁b₁, …, a₆b₆ + a₇b₇)`.
    #[inline(always)]
    pub fn dot(acc: Acc, a: Lanes, b: Lanes) -> Acc {
        i32x4_add(acc, i32x4_dot_i16x8(a, b))
    }

    pub fn sum(acc: Acc) -> i32 {
        i32x4_extract_lane::<0>(acc)
            + i32x4_extract_lane::<1>(acc)
            + i32x4_extract_lane::<2>(acc)
            + i32x4_extract_lane::<3>(acc)
    }

    /// Four values from `v[..4]`.
    fn load(v: &[f32]) -> v128 {
        assert!(v.len() >= 4);
        // SAFETY: four f32 are in bounds (checked above); wasm loads need no alignment.
        unsafe { v128_load(v.as_ptr().cast()) }
    }

    /// [`super::quantise_row`], four values per instruction: `f32x4.nearest` (ties to even)
    /// and a saturating narrowing to 16 bits.
    pub fn quantise_row(values: &[f32], out: &mut [Lanes]) -> f32 {
        let (mut max, mut nan) = (f32x4_splat(0.0), i32x4_splat(0));
        let quads = values.chunks_exact(4);
        let (mut tail_max, mut tail_nan) = super::max_abs_scalar(quads.remainder());
        for quad in quads {
            let v = load(quad);
            max = f32x4_pmax(max, f32x4_abs(v));
            nan = v128_or(nan, f32x4_ne(v, v));
        }
        for m in [
            f32x4_extract_lane::<0>(max),
            f32x4_extract_lane::<1>(max),
            f32x4_extract_lane::<2>(max),
            f32x4_extract_lane::<3>(max),
        ] {
            tail_max = if m > tail_max { m } else { tail_max };
        }
        tail_nan |= v128_any_true(nan);
        let (scale, inverse) = super::scale_of(tail_max, tail_nan);
        // (NaN·0 and ∞·0 are NaN, which `trunc_sat` turns into 0: a NaN scale, zero lanes.)
        let inverse_v = f32x4_splat(inverse);
        let round = |v: v128| i32x4_trunc_sat_f32x4(f32x4_nearest(f32x4_mul(v, inverse_v)));
        let mut eights = values.chunks_exact(8);
        for (lane, eight) in out.iter_mut().zip(eights.by_ref()) {
            *lane = i16x8_narrow_i32x4(round(load(eight)), round(load(&eight[4..])));
        }
        super::quantise_tail(eights.remainder(), &mut out[values.len() / 8..], inverse);
        scale
    }
}

// SAFETY (every `unsafe` block below): SSE2 is part of the x86-64 baseline, so these
// intrinsics are always available; none of them reads or writes memory.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod lanes {
    use core::arch::x86_64::{
        __m128, __m128i, _mm_add_epi32, _mm_andnot_ps, _mm_cmpunord_ps, _mm_cvtps_epi32,
        _mm_cvtsi128_si32, _mm_loadu_ps, _mm_madd_epi16, _mm_max_ps, _mm_movemask_ps, _mm_mul_ps,
        _mm_or_ps, _mm_packs_epi32, _mm_set_epi16, _mm_set1_ps, _mm_setzero_ps, _mm_setzero_si128,
        _mm_shuffle_epi32, _mm_storeu_ps,
    };

    /// Eight 16-bit integers.
    pub type Lanes = __m128i;
    /// Four 32-bit partial sums.
    pub type Acc = __m128i;

    pub fn pack(v: [i16; 8]) -> Lanes {
        unsafe { _mm_set_epi16(v[7], v[6], v[5], v[4], v[3], v[2], v[1], v[0]) }
    }

    pub fn zero() -> Acc {
        unsafe { _mm_setzero_si128() }
    }

    /// `acc + (a₀b₀ + a₁b₁, …, a₆b₆ + a₇b₇)` (SSE2 `pmaddwd`, wasm's `i32x4.dot_i16x8_s`).
    #[inline(always)]
    pub fn dot(acc: Acc, a: Lanes, b: Lanes) -> Acc {
        unsafe { _mm_add_epi32(acc, _mm_madd_epi16(a, b)) }
    }

    pub fn sum(acc: Acc) -> i32 {
        unsafe {
            let pairs = _mm_add_epi32(acc, _mm_shuffle_epi32::<0b01_00_11_10>(acc));
            _mm_cvtsi128_si32(_mm_add_epi32(
                pairs,
                _mm_shuffle_epi32::<0b10_11_00_01>(pairs),
            ))
        }
    }

    /// Four values from `v[..4]`.
    fn load(v: &[f32]) -> __m128 {
        assert!(v.len() >= 4);
        // SAFETY: four f32 are in bounds (checked above); `loadu` needs no alignment.
        unsafe { _mm_loadu_ps(v.as_ptr()) }
    }

    /// [`super::quantise_row`], four values per instruction: `cvtps2dq` rounds to nearest,
    /// ties to even (the default rounding mode), and `packssdw` narrows with saturation.
    pub fn quantise_row(values: &[f32], out: &mut [Lanes]) -> f32 {
        let quads = values.chunks_exact(4);
        let (mut tail_max, mut tail_nan) = super::max_abs_scalar(quads.remainder());
        let (max, nan) = unsafe {
            let sign = _mm_set1_ps(-0.0);
            let (mut max, mut nan) = (_mm_setzero_ps(), _mm_setzero_ps());
            for quad in quads {
                let v = load(quad);
                max = _mm_max_ps(max, _mm_andnot_ps(sign, v));
                nan = _mm_or_ps(nan, _mm_cmpunord_ps(v, v));
            }
            let mut lanes = [0.0f32; 4];
            _mm_storeu_ps(lanes.as_mut_ptr(), max);
            (lanes, _mm_movemask_ps(nan) != 0)
        };
        for m in max {
            tail_max = if m > tail_max { m } else { tail_max };
        }
        tail_nan |= nan;
        let (scale, inverse) = super::scale_of(tail_max, tail_nan);
        let mut eights = values.chunks_exact(8);
        if scale.is_finite() {
            // (A NaN scale leaves every lane zero: `cvtps2dq` would give i32::MIN for NaN.)
            let inverse_v = unsafe { _mm_set1_ps(inverse) };
            let round = |v: __m128| unsafe { _mm_cvtps_epi32(_mm_mul_ps(v, inverse_v)) };
            for (lane, eight) in out.iter_mut().zip(eights.by_ref()) {
                *lane = unsafe { _mm_packs_epi32(round(load(eight)), round(load(&eight[4..]))) };
            }
        } else {
            for (lane, _) in out.iter_mut().zip(eights.by_ref()) {
                *lane = zero();
            }
        }
        super::quantise_tail(eights.remainder(), &mut out[values.len() / 8..], inverse);
        scale
    }
}

#[cfg(not(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    target_arch = "x86_64"
)))]
mod lanes {
    /// Eight 16-bit integers.
    pub type Lanes = [i16; 8];
    /// Four 32-bit partial sums.
    pub type Acc = [i32; 4];

    pub fn pack(v: [i16; 8]) -> Lanes {
        v
    }

    pub fn zero() -> Acc {
        [0; 4]
    }

    /// `acc + (a₀b₀ + a₁b₁, …, a₆b₆ + a₇b₇)`: the same sums as wasm's `i32x4.dot_i16x8_s`.
    #[inline(always)]
    pub fn dot(mut acc: Acc, a: Lanes, b: Lanes) -> Acc {
        for (k, s) in acc.iter_mut().enumerate() {
            *s += i32::from(a[2 * k]) * i32::from(b[2 * k])
                + i32::from(a[2 * k + 1]) * i32::from(b[2 * k + 1]);
        }
        acc
    }

    pub fn sum(acc: Acc) -> i32 {
        acc.iter().sum()
    }

    /// [`super::quantise_row`], one value at a time.
    pub fn quantise_row(values: &[f32], out: &mut [Lanes]) -> f32 {
        let (max, nan) = super::max_abs_scalar(values);
        let (scale, inverse) = super::scale_of(max, nan);
        let mut eights = values.chunks_exact(8);
        for (lane, eight) in out.iter_mut().zip(eights.by_ref()) {
            *lane = core::array::from_fn(|i| super::round_scalar(eight[i], inverse));
        }
        super::quantise_tail(eights.remainder(), &mut out[values.len() / 8..], inverse);
        scale
    }
}

use lanes::{Acc, Lanes, dot, pack, sum, zero};

/// One input lane against the same lane of four outputs' weights.
#[inline(always)]
fn dot4(acc: [Acc; 4], a: Lanes, b: [Lanes; 4]) -> [Acc; 4] {
    [
        dot(acc[0], a, b[0]),
        dot(acc[1], a, b[1]),
        dot(acc[2], a, b[2]),
        dot(acc[3], a, b[3]),
    ]
}

/// The largest quantised magnitude.
const LEVELS: f32 = 127.0;

/// Rounds `values` to integers in −127..=127 with the scale `max |v| / 127` (to nearest, ties
/// to even), packed in lanes of eight (the last padded with zeros) into `out`
/// (`values.len().div_ceil(8)` lanes). Returns the scale: 0 for an all-zero row (its lanes are
/// all zero), NaN for a row with a non-finite value (its lanes all zero), so that the product
/// is NaN as in f32 rather than a silent number. Vectorised where the lanes are; every
/// implementation gives the same integers.
fn quantise_row(values: &[f32], out: &mut [Lanes]) -> f32 {
    debug_assert_eq!(out.len(), values.len().div_ceil(8));
    lanes::quantise_row(values, out)
}

/// The largest magnitude in `values` and whether one is NaN (`f32::max` would skip NaN).
fn max_abs_scalar(values: &[f32]) -> (f32, bool) {
    values.iter().fold((0.0f32, false), |(m, nan), &v| {
        (if v.abs() > m { v.abs() } else { m }, nan || v.is_nan())
    })
}

/// The scale for a row whose largest magnitude is `max`, and its inverse (0 where the scale is
/// 0 or NaN).
fn scale_of(max: f32, nan: bool) -> (f32, f32) {
    let scale = if !max.is_finite() || nan {
        f32::NAN
    } else if max > 0.0 {
        max / LEVELS
    } else {
        0.0
    };
    (scale, if scale > 0.0 { 1.0 / scale } else { 0.0 })
}

/// `v · inverse` to the nearest integer, ties to even, within ±127 (NaN → 0).
fn round_scalar(v: f32, inverse: f32) -> i16 {
    (v * inverse).round_ties_even().clamp(-LEVELS, LEVELS) as i16
}

/// The last, partial lane: `rest` (fewer than eight values) into `out[0]`, padded with zeros.
fn quantise_tail(rest: &[f32], out: &mut [Lanes], inverse: f32) {
    if let (false, Some(lane)) = (rest.is_empty(), out.first_mut()) {
        let mut v = [0i16; 8];
        for (slot, &x) in v.iter_mut().zip(rest) {
            *slot = round_scalar(x, inverse);
        }
        *lane = pack(v);
    }
}

/// A dense layer's weights in 8 bits: `[outputs, ⌈inputs / 8⌉]` lanes and a scale per output.
#[derive(Debug, Clone)]
pub(crate) struct Int8Weights {
    lanes: Vec<Lanes>,
    scales: Vec<f32>,
    inputs: usize,
    /// Lanes per row: `⌈inputs / 8⌉`.
    chunks: usize,
}

impl Int8Weights {
    /// Quantises `weight [inputs, outputs]` (row-major, the host engine's layout) per output.
    pub(crate) fn quantise(weight: &[f32], inputs: usize, outputs: usize) -> Self {
        debug_assert_eq!(weight.len(), inputs * outputs);
        let chunks = inputs.div_ceil(8);
        let mut lanes = vec![pack([0; 8]); outputs * chunks];
        let mut column = vec![0.0f32; inputs];
        let scales = lanes
            .chunks_exact_mut(chunks.max(1))
            .enumerate()
            .map(|(j, row)| {
                for (i, c) in column.iter_mut().enumerate() {
                    *c = weight[i * outputs + j];
                }
                quantise_row(&column, row)
            })
            .collect();
        Self {
            lanes,
            scales,
            inputs,
            chunks,
        }
    }

    /// `out [rows, outputs] += x [rows, inputs] · W`, with each row of `x` quantised.
    ///
    /// Blocked for the caches: for each block of [`ROW_BLOCK`] rows (their quantised inputs,
    /// at most 64 × 3 KB, stay in L2), each group of four outputs' weights (at most 12 KB, in
    /// L1) is read once for all the block's rows, two rows at a time — eight dot products per
    /// six loads. Row by row, every token would stream all the weights from memory.
    pub(crate) fn accumulate(&self, x: &[f32], rows: usize, out: &mut [f32]) {
        let (n, c) = (self.scales.len(), self.chunks);
        if n == 0 || c == 0 {
            return;
        }
        let mut xq = vec![pack([0; 8]); rows * c];
        let x_scales: Vec<f32> = xq
            .chunks_exact_mut(c)
            .zip(x.chunks_exact(self.inputs))
            .map(|(q, row)| quantise_row(row, q))
            .collect();
        let weights = |j: usize| &self.lanes[j * c..(j + 1) * c];
        let row = |r: usize| (&xq[r * c..(r + 1) * c], x_scales[r]);
        for_each_chunk(&mut out[..rows * n], ROW_BLOCK * n, |block, o| {
            let first = block * ROW_BLOCK;
            let count = o.len() / n;
            let mut j = 0;
            while j + 4 <= n {
                let w = [weights(j), weights(j + 1), weights(j + 2), weights(j + 3)];
                let scales = &self.scales[j..j + 4];
                let mut r = 0;
                while r + 2 <= count {
                    let ((x0, s0), (x1, s1)) = (row(first + r), row(first + r + 1));
                    let (mut a0, mut a1) = ([zero(); 4], [zero(); 4]);
                    let lanes = x0.iter().zip(x1).zip(w[0]).zip(w[1]).zip(w[2]).zip(w[3]);
                    for (((((&p, &q), &b0), &b1), &b2), &b3) in lanes {
                        a0 = dot4(a0, p, [b0, b1, b2, b3]);
                        a1 = dot4(a1, q, [b0, b1, b2, b3]);
                    }
                    for t in 0..4 {
                        o[r * n + j + t] += sum(a0[t]) as f32 * s0 * scales[t];
                        o[(r + 1) * n + j + t] += sum(a1[t]) as f32 * s1 * scales[t];
                    }
                    r += 2;
                }
                if r < count {
                    let (x0, s0) = row(first + r);
                    let mut a0 = [zero(); 4];
                    for ((((&p, &b0), &b1), &b2), &b3) in
                        x0.iter().zip(w[0]).zip(w[1]).zip(w[2]).zip(w[3])
                    {
                        a0 = dot4(a0, p, [b0, b1, b2, b3]);
                    }
                    for t in 0..4 {
                        o[r * n + j + t] += sum(a0[t]) as f32 * s0 * scales[t];
                    }
                }
                j += 4;
            }
            // The last outputs (fewer than four), one dot product each.
            for k in j..n {
                for r in 0..count {
                    let (x0, s0) = row(first + r);
                    let acc = x0
                        .iter()
                        .zip(weights(k))
                        .fold(zero(), |acc, (&a, &b)| dot(acc, a, b));
                    o[r * n + k] += sum(acc) as f32 * s0 * self.scales[k];
                }
            }
        });
    }
}

/// Rows per cache block of [`Int8Weights::accumulate`] (and per parallel task natively).
const ROW_BLOCK: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    /// A reproducible stream of values in [−0.5, 0.5) (a linear congruential generator).
    fn uniform(mut seed: u64) -> impl FnMut() -> f32 {
        move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        }
    }

    /// Worked by hand: weights `[in 3, out 2]` = columns (1, −2, 0.5) and (0, 0, 0); the input
    /// row (2, 1, −4). Column 0's scale is 2/127, so it quantises to (64, −127, 32) (63.5 and
    /// 31.75 round to 64 and 32); x's scale is 4/127: (64, 32, −127). The dot product is
    /// 64·64 − 127·32 − 32·127 = −4032, times (2/127)(4/127): −1.99988, against the exact
    /// 1·2 − 2·1 + 0.5·(−4) = −2.
    #[test]
    fn a_product_worked_by_hand() {
        let weight = [1.0, 0.0, -2.0, 0.0, 0.5, 0.0];
        let q = Int8Weights::quantise(&weight, 3, 2);
        assert_eq!(q.scales, [2.0 / 127.0, 0.0]);
        let mut out = [10.0, 20.0]; // the bias already in place
        q.accumulate(&[2.0, 1.0, -4.0], 1, &mut out);
        let want = (64 * 64 - 127 * 32 - 32 * 127) as f32 * (2.0 / 127.0) * (4.0 / 127.0);
        assert!((out[0] - (10.0 + want)).abs() < 1e-5, "{out:?} vs {want}");
        assert!(
            (want - -2.0).abs() < 0.02,
            "{want} ≈ −2 within the rounding"
        );
        assert_eq!(out[1], 20.0, "an all-zero column adds nothing");
    }

    /// The (vectorised) row quantiser gives the integers of its definition, value by value:
    /// `round_ties_even(v · 127 / max |v|)`, exact ties included, for lengths that leave
    /// partial quads and lanes.
    #[test]
    fn row_quantiser_matches_its_definition() {
        // Each lane's integers, read back as dot products with unit vectors.
        let unpack = |lanes: &[Lanes], n: usize| -> Vec<i16> {
            let unit = |i: usize| pack(core::array::from_fn(|k| i16::from(k == i)));
            let read = |l: Lanes| (0..8).map(move |i| sum(dot(zero(), l, unit(i))) as i16);
            lanes.iter().flat_map(|&l| read(l)).take(n).collect()
        };
        // Scale 1 (max 127): the halves are exact ties, which go to the even neighbour.
        let ties = [
            127.0, 2.5, 3.5, -2.5, -0.5, 0.5, 1.5, -126.5, 0.25, -3.75, 7.5,
        ];
        let mut next = uniform(3);
        let random: Vec<f32> = (0..29).map(|_| next() * 5.0).collect();
        for values in [&ties[..], &random[..], &random[..4], &[0.0; 5][..]] {
            let mut lanes = vec![pack([0; 8]); values.len().div_ceil(8)];
            let scale = quantise_row(values, &mut lanes);
            let (max, _) = max_abs_scalar(values);
            let (want_scale, inverse) = scale_of(max, false);
            assert_eq!(scale, want_scale);
            let want: Vec<i16> = values.iter().map(|&v| round_scalar(v, inverse)).collect();
            assert_eq!(unpack(&lanes, values.len()), want, "{values:?}");
        }
        assert_eq!(round_scalar(2.5, 1.0), 2, "ties to even");
        assert_eq!(round_scalar(-126.5, 1.0), -126);
    }

    #[test]
    fn a_non_finite_input_gives_nan() {
        let q = Int8Weights::quantise(&[1.0, 2.0], 2, 1);
        for bad in [f32::NAN, f32::INFINITY] {
            let mut out = [0.0];
            q.accumulate(&[bad, 1.0], 1, &mut out);
            assert!(out[0].is_nan(), "{bad} → {out:?}");
        }
    }

    /// Random layers of awkward sizes (inputs not a multiple of 8, outputs not of 4): the
    /// 8-bit product stays within a few per cent of f32 relative to the row's scale.
    #[test]
    fn close_to_the_f32_product() {
        let (rows, inputs, outputs) = (5, 37, 11);
        let mut next = uniform(7);
        let weight: Vec<f32> = (0..inputs * outputs).map(|_| next()).collect();
        let x: Vec<f32> = (0..rows * inputs).map(|_| next() * 3.0).collect();
        let q = Int8Weights::quantise(&weight, inputs, outputs);
        let mut out = vec![0.0f32; rows * outputs];
        q.accumulate(&x, rows, &mut out);
        for r in 0..rows {
            for j in 0..outputs {
                let exact: f32 = (0..inputs)
                    .map(|i| x[r * inputs + i] * weight[i * outputs + j])
                    .sum();
                let bound: f32 = (0..inputs)
                    .map(|i| (x[r * inputs + i] * weight[i * outputs + j]).abs())
                    .sum();
                let err = (out[r * outputs + j] - exact).abs();
                assert!(
                    err <= 0.02 * bound + 1e-6,
                    "row {r} out {j}: {} vs {exact}",
                    out[r * outputs + j]
                );
            }
        }
    }
}
