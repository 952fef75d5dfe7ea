//! A guess at a text's language, for documents whose language the user has not given
//! (language centring needs it): [whatlang](https://crates.io/crates/whatlang) trigram
//! profiles, restricted to the candidate languages (those of the pool), so that a short
//! English question is not read as Romanian.
//!
//! Codes are the pools' ISO 639-1 codes (`en`, `de`, `zh`, …). A candidate whatlang does not
//! know is never guessed; a guess below [`RELIABLE`] confidence is returned but flagged, and
//! callers should ask the user to confirm it.

use whatlang::{Detector, Lang};

/// Confidence from which a guess is reported as reliable.
pub const RELIABLE: f64 = 0.5;

/// A guessed language.
#[derive(Debug, Clone, PartialEq)]
pub struct Guess {
    /// ISO 639-1 code, one of the candidates.
    pub lang: String,
    /// whatlang's confidence, 0–1.
    pub confidence: f64,
}

impl Guess {
    pub fn reliable(&self) -> bool {
        self.confidence >= RELIABLE
    }
}

/// The ISO 639-1 codes of the languages this module can tell apart, with whatlang's names.
const CODES: [(&str, Lang); 22] = [
    ("ar", Lang::Ara),
    ("de", Lang::Deu),
    ("el", Lang::Ell),
    ("en", Lang::Eng),
    ("es", Lang::Spa),
    ("fr", Lang::Fra),
    ("hi", Lang::Hin),
    ("it", Lang::Ita),
    ("ja", Lang::Jpn),
    ("ko", Lang::Kor),
    ("nl", Lang::Nld),
    ("pl", Lang::Pol),
    ("pt", Lang::Por),
    ("ro", Lang::Ron),
    ("ru", Lang::Rus),
    ("sv", Lang::Swe),
    ("th", Lang::Tha),
    ("tr", Lang::Tur),
    ("uk", Lang::Ukr),
    ("vi", Lang::Vie),
    ("zh", Lang::Cmn),
    ("he", Lang::Heb),
];

/// The language of `text` among `candidates` (ISO 639-1 codes; unknown codes are ignored),
/// or `None` when no candidate is known or the text gives nothing to go on.
pub fn guess<S: AsRef<str>>(text: &str, candidates: &[S]) -> Option<Guess> {
    let allowed: Vec<Lang> = candidates
        .iter()
        .filter_map(|c| {
            CODES
                .iter()
                .find(|(code, _)| *code == c.as_ref())
                .map(|&(_, l)| l)
        })
        .collect();
    match allowed.as_slice() {
        [] => None,
        [only] => Some(Guess {
            lang: code(*only)?.to_owned(),
            confidence: 1.0,
        }),
        _ => {
            let info = Detector::with_allowlist(allowed).detect(text)?;
            Some(Guess {
                lang: code(info.lang())?.to_owned(),
                confidence: info.confidence(),
            })
        }
    }
}

fn code(lang: Lang) -> Option<&'static str> {
    CODES.iter().find(|(_, l)| *l == lang).map(|&(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo pool's languages; texts from its questions and passages.
    const POOL: [&str; 10] = ["ar", "de", "en", "es", "fr", "hi", "ja", "ko", "ru", "zh"];

    #[test]
    fn guesses_the_demo_languages() {
        for (text, want) in [
            (
                "Der Regenbogen entsteht, wenn Sonnenlicht auf Regentropfen trifft.",
                "de",
            ),
            ("Why are rice fields kept under water?", "en"),
            ("稻田里为什么要灌水？", "zh"),
            ("なぜ田んぼに水を張るのですか", "ja"),
            ("¿Qué país produce más café?", "es"),
            (
                "لماذا تحتاج الأقمار الصناعية للملاحة إلى ساعات دقيقة جدا؟",
                "ar",
            ),
            ("Почему небо голубое?", "ru"),
        ] {
            let g = guess(text, &POOL).unwrap();
            assert_eq!(g.lang, want, "{text}: {g:?}");
        }
    }

    #[test]
    fn only_candidates_are_guessed() {
        // Among English and German only, a French sentence is one of the two, never `fr`.
        let g = guess("Le chat dort sur le canapé du salon.", &["en", "de"]).unwrap();
        assert!(["en", "de"].contains(&g.lang.as_str()), "{g:?}");
        // One known candidate: it, with full confidence; none known: no guess.
        assert_eq!(guess("whatever", &["de", "xx"]).unwrap().lang, "de");
        assert_eq!(guess("whatever", &["xx"]), None);
        assert_eq!(guess("", &POOL), None);
    }

    #[test]
    fn every_code_maps_back() {
        for (c, l) in CODES {
            assert_eq!(code(l), Some(c));
        }
    }
}
