//! Test support shared by the workspace's crates (feature `test-util`, dev-dependencies only).
//!
//! - [`tiny_model`]: a tiny random BERT/XLM-R ([`TinyModel`]) and small tokenizers.
//! - [`Mutator`] is a small deterministic mutation fuzzer for the readers' bounded fuzz tests:
//!   from a valid seed input it derives corrupted variants (bit flips, byte overwrites with
//!   interesting values, insertions, deletions, truncations, duplicated spans), so a test can
//!   feed each to a reader and check that it returns `Ok` or an error, never panics, and that
//!   what it accepts is sane. Stable Rust, no dependency, reproducible from its seed.

pub mod tiny_model;

pub use tiny_model::{TINY_UNIGRAM_JSON, TinyModel, pseudo_random, word_level_tokenizer};

/// xorshift64* — enough randomness for mutations, reproducible from the seed.
#[derive(Debug, Clone)]
pub struct Mutator {
    state: u64,
}

/// Byte values that often break parsers: bounds, signs, quotes, brackets, NUL, UTF-8 lead bytes.
const INTERESTING: &[u8] = &[
    0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'\n',
    b'\t', b'-', b'0', b'9', b'e', 0xc3, 0xe2, 0xf0,
];

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// One to four mutations of `seed`; `protect` leading bytes are never changed (e.g. a magic
    /// number, so the fuzzing reaches past the first check).
    pub fn mutate(&mut self, seed: &[u8], protect: usize) -> Vec<u8> {
        let mut v = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            let lo = protect.min(v.len());
            let span = v.len() - lo;
            let at = lo + self.below(span + 1);
            match self.below(7) {
                0 if at < v.len() => v[at] ^= 1 << self.below(8),
                1 if at < v.len() => v[at] = INTERESTING[self.below(INTERESTING.len())],
                2 => v.insert(at, INTERESTING[self.below(INTERESTING.len())]),
                3 if at < v.len() => {
                    let n = 1 + self.below(16.min(v.len() - at));
                    v.drain(at..at + n);
                }
                4 => v.truncate(at),
                5 if at < v.len() => {
                    let n = 1 + self.below(32.min(v.len() - at));
                    let copy = v[at..at + n].to_vec();
                    let to = lo + self.below(v.len() - lo + 1);
                    v.splice(to..to, copy);
                }
                // Little-endian u32 overwrite with a boundary value (lengths, counts, offsets).
                _ if at + 4 <= v.len() => {
                    let values = [0u32, 1, 0x7fff_ffff, 0xffff_ffff, 0x8000_0000, 0x7fc0_0000];
                    let x = values[self.below(values.len())];
                    v[at..at + 4].copy_from_slice(&x.to_le_bytes());
                }
                _ => {}
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::Mutator;

    #[test]
    fn mutations_are_reproducible_and_keep_the_protected_prefix() {
        let seed = b"E5S1 and then some bytes that may change";
        let mut a = Mutator::new(7);
        let mut b = Mutator::new(7);
        let mut changed = 0;
        for _ in 0..200 {
            let x = a.mutate(seed, 4);
            assert_eq!(x, b.mutate(seed, 4));
            assert!(x.len() < 4 || &x[..4] == b"E5S1", "{x:?}");
            changed += usize::from(x != seed);
        }
        assert!(
            changed > 150,
            "only {changed} of 200 mutations changed the input"
        );
    }
}
