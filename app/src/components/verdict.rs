//! How an answer reads in the page's language (the result page, history, evaluations).

use crate::api::{ResultView, VerdictKind};
use crate::i18n::Lang;

/// The answer in the page's language, with a confident class named as the catalogue names it.
pub fn verdict_text(lang: Lang, r: &ResultView) -> String {
    let name = match (&r.species, r.verdict) {
        (Some(s), VerdictKind::Confident | VerdictKind::Uncertain) => {
            lang.species_name(&s.name_en, &s.name_zh).to_string()
        }
        _ => r.verdict_name.clone(),
    };
    lang.verdict(r.verdict, &name, &r.verdict_rank, r.verdict_probability)
}
