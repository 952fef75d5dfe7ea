//! Deterministic, seeded ordering (SplitMix64): the same seed gives the same order on every
//! platform and in every version of this crate (the algorithm is fixed and self-contained).

/// A small seeded pseudo-random generator (SplitMix64, Steele et al. 2014). Not for
/// cryptography; used for data selection and batch order only.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n` (unbiased, Lemire's multiply-and-reject); 0 when `n == 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// Derives an independent seed from `seed` and a label (e.g. a language code or a purpose
/// such as `"xquad-split"`), so that separate random streams do not depend on each other.
pub fn derive_seed(seed: u64, label: &str) -> u64 {
    // FNV-1a over the label, then one SplitMix64 step over the combination.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Rng::new(seed ^ h.rotate_left(17)).next_u64()
}

/// The order in which to visit `n` samples in epoch `epoch` (a permutation of `0..n`):
/// deterministic for a given `(n, seed, epoch)`, different between epochs. Cut it into
/// consecutive chunks to form the epoch's batches.
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(derive_seed(seed ^ epoch.wrapping_mul(GOLDEN), "epoch"));
    rng.shuffle(&mut order);
    order
}

/// One id per key, equal for equal keys, numbered `0, 1, …` in first-seen order (identical
/// token sequences, or one English question in several languages).
pub fn first_seen_ids<K: Eq + std::hash::Hash>(keys: impl IntoIterator<Item = K>) -> Vec<usize> {
    let mut seen: std::collections::HashMap<K, usize> = std::collections::HashMap::new();
    keys.into_iter()
        .map(|k| {
            let next = seen.len();
            *seen.entry(k).or_insert(next)
        })
        .collect()
}

/// Like [`epoch_order`], but the samples of one group stay together: `groups[i]` is sample
/// `i`'s group (e.g. one question in every language it was translated into), the groups are
/// visited in a seeded random order, and each group's samples follow each other in their
/// input order. Cut into batches, a batch holds whole groups (a group can straddle two
/// batches when the batch size is not a multiple of the group sizes).
pub fn grouped_epoch_order(groups: &[usize], seed: u64, epoch: u64) -> Vec<usize> {
    // The members of each group, the groups in first-seen order.
    let ids = first_seen_ids(groups.iter());
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); ids.iter().max().map_or(0, |&k| k + 1)];
    for (i, k) in ids.into_iter().enumerate() {
        members[k].push(i);
    }
    epoch_order(members.len(), seed, epoch)
        .into_iter()
        .flat_map(|k| members[k].iter().copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // Reference values of SplitMix64 seeded with 0 (as in Vigna's splitmix64.c).
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn below_is_in_range_and_shuffle_is_a_permutation() {
        let mut r = Rng::new(7);
        assert_eq!(r.below(0), 0);
        for n in 1..50u64 {
            assert!(r.below(n) < n);
        }
        let mut v: Vec<usize> = (0..100).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_ne!(v, sorted);
    }

    #[test]
    fn first_seen_ids_number_equal_keys_alike() {
        assert_eq!(first_seen_ids(["b", "a", "b", "c", "a"]), [0, 1, 0, 2, 1]);
        assert!(first_seen_ids(Vec::<u8>::new()).is_empty());
    }

    #[test]
    fn grouped_order_keeps_groups_together() {
        // Groups 7 (samples 0, 3, 5), 1 (samples 1, 4) and 9 (sample 2).
        let groups = [7, 1, 9, 7, 1, 7];
        let order = grouped_epoch_order(&groups, 3, 0);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..6).collect::<Vec<_>>());
        // Every group is one contiguous run, its members in input order.
        let runs: Vec<Vec<usize>> = order
            .chunk_by(|&a, &b| groups[a] == groups[b])
            .map(<[usize]>::to_vec)
            .collect();
        assert_eq!(runs.len(), 3, "{order:?}");
        for run in &runs {
            assert!(run.is_sorted(), "{order:?}");
        }
        assert_eq!(order, grouped_epoch_order(&groups, 3, 0));
        // The group order changes between epochs for some epoch (6 possible orders).
        assert!((1..20).any(|e| grouped_epoch_order(&groups, 3, e) != order));
        // One sample per group is the plain order of the groups.
        let singles: Vec<usize> = (0..50).collect();
        assert_eq!(grouped_epoch_order(&singles, 3, 2), epoch_order(50, 3, 2));
    }

    #[test]
    fn derived_seeds_differ() {
        assert_ne!(derive_seed(1, "de"), derive_seed(1, "fr"));
        assert_ne!(derive_seed(1, "de"), derive_seed(2, "de"));
        assert_eq!(derive_seed(1, "de"), derive_seed(1, "de"));
    }
}
