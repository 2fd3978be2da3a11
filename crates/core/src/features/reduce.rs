//! Reductions written with eight independent accumulators.
//!
//! Hand-rolled because the compiler may not reorder float additions, so a
//! plain `iter().sum()` runs one add at a time; eight lanes let it use SIMD.
//! The per-hop loop spends most of its non-FFT time in these.

const LANES: usize = 8;

/// Σ a[i]·b[i].
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    s
}

/// Σ a[i].
#[inline]
pub fn sum(a: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut c = a.chunks_exact(LANES);
    for x in &mut c {
        for l in 0..LANES {
            acc[l] += x[l];
        }
    }
    acc.iter().sum::<f32>() + c.remainder().iter().sum::<f32>()
}

/// Writes `(x[i] - offset) * w[i]` into `out` and returns (Σ (x-offset)², max |x-offset|).
#[inline]
pub fn taper(x: &[f32], offset: f32, w: &[f32], out: &mut [f32]) -> (f32, f32) {
    let n = x.len().min(w.len()).min(out.len());
    let mut sq = [0.0f32; LANES];
    let mut pk = [0.0f32; LANES];
    let mut cx = x[..n].chunks_exact(LANES);
    let mut cw = w[..n].chunks_exact(LANES);
    let mut co = out[..n].chunks_exact_mut(LANES);
    for ((x, w), o) in (&mut cx).zip(&mut cw).zip(&mut co) {
        for l in 0..LANES {
            let v = x[l] - offset;
            sq[l] += v * v;
            // A plain compare, not f32::max, whose NaN handling costs a chain
            // of five ops per lane; a NaN still never wins (the compare is false).
            let a = v.abs();
            pk[l] = if a > pk[l] { a } else { pk[l] };
            o[l] = v * w[l];
        }
    }
    let mut s: f32 = sq.iter().sum();
    let mut p = pk.iter().fold(0.0f32, |a, &b| a.max(b));
    for ((x, w), o) in cx
        .remainder()
        .iter()
        .zip(cw.remainder())
        .zip(co.into_remainder())
    {
        let v = x - offset;
        s += v * v;
        p = p.max(v.abs());
        *o = v * w;
    }
    (s, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_agree_with_plain_loops() {
        let a: Vec<f32> = (0..77).map(|i| (i as f32 * 0.3).sin()).collect();
        let b: Vec<f32> = (0..77).map(|i| (i as f32 * 0.7).cos()).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - plain).abs() < 1e-4);
        assert!((sum(&a) - a.iter().sum::<f32>()).abs() < 1e-4);
        let mut out = vec![0.0; 77];
        let (sq, pk) = taper(&a, 0.1, &b, &mut out);
        let sq_plain: f32 = a.iter().map(|x| (x - 0.1) * (x - 0.1)).sum();
        let pk_plain = a.iter().fold(0.0f32, |m, x| m.max((x - 0.1).abs()));
        assert!((sq - sq_plain).abs() < 1e-4);
        assert_eq!(pk, pk_plain);
        assert!(out
            .iter()
            .zip(a.iter().zip(&b))
            .all(|(o, (x, w))| (o - (x - 0.1) * w).abs() < 1e-6));
    }
}
