//! Agreement of the Procrustes fit with `scipy.linalg.orthogonal_procrustes`.
//!
//! `tests/fixtures/debias/procrustes.json` is produced by `scripts/procrustes_reference.py`
//! (numpy 2.4.6, scipy 1.17.1): a random 20×8 pair of matrices and SciPy's map.

use std::path::PathBuf;

use langbias_eval::ProcrustesMaps;

#[derive(serde::Deserialize)]
struct Fixture {
    x: Vec<Vec<f32>>,
    y: Vec<Vec<f32>>,
    r: Vec<Vec<f64>>,
}

#[test]
fn procrustes_agrees_with_scipy() {
    let dir = std::env::var("CARGO_MANIFEST_DIR")
        .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned());
    let path = PathBuf::from(dir).join("../../tests/fixtures/debias/procrustes.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let f: Fixture = serde_json::from_str(&text).unwrap();
    let dim = f.r.len();
    assert_eq!((f.x.len(), dim), (20, 8));
    let (x, y) = (f.x.concat(), f.y.concat());
    let maps = ProcrustesMaps::fit(dim, "en", [("de", &x[..], &y[..])], "fixture").unwrap();
    let w = &maps.maps["de"].matrix;
    for (i, (ours, theirs)) in w.iter().zip(&f.r).enumerate() {
        for (j, (&a, &b)) in ours.iter().zip(theirs).enumerate() {
            assert!(
                (f64::from(a) - b).abs() < 1e-5,
                "W[{i}][{j}]: ours {a}, scipy {b}"
            );
        }
    }
    // The written file reads back (and passes the orthogonality check).
    assert_eq!(
        ProcrustesMaps::from_json(&maps.to_json_pretty()).unwrap(),
        maps
    );
}
