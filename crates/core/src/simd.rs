//! Run-time CPU feature detection for the hot paths that have an AVX build
//! (the feature transforms, the resampler's block). Detected at run time,
//! because the binary must run on any x86_64. The AVX builds use no FMA, so
//! their floats are identical to the plain build's (tests compare them bit
//! for bit).

/// Whether the CPU has AVX.
pub fn has_avx() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
