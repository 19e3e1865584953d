//! Interface languages: English and Chinese. The server picks the language per request (the
//! `insectid_lang` cookie, set from the account at sign-in or by the switcher; else the
//! browser's Accept-Language) and writes it into `<html lang>`, from which the hydrating client
//! reads it back, so both render the same words.
//!
//! Texts are keyed by their English wording: an untranslated text shows in English rather than
//! as a key, and a test checks that every `t("…")` in the sources has its Chinese.

use leptos::prelude::*;

use crate::api::VerdictKind;

mod zh;
mod zh_field;

pub const LANG_COOKIE: &str = "insectid_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Lang::En),
            "zh" | "zh-cn" | "zh-hans" => Some(Lang::Zh),
            _ => None,
        }
    }

    /// The cookie's choice first; else the first of the browser's languages we have.
    pub fn negotiate(cookie_header: Option<&str>, accept_language: Option<&str>) -> Lang {
        let from_cookie = cookie_header.and_then(|h| {
            h.split(';')
                .filter_map(|c| c.trim().split_once('='))
                .find(|(name, _)| *name == LANG_COOKIE)
                .and_then(|(_, v)| Lang::parse(v))
        });
        let from_browser = || {
            accept_language?.split(',').find_map(|part| {
                let tag = part.split(';').next()?.trim().to_ascii_lowercase();
                match tag.split('-').next()? {
                    "zh" => Some(Lang::Zh),
                    "en" => Some(Lang::En),
                    _ => None,
                }
            })
        };
        from_cookie.or_else(from_browser).unwrap_or_default()
    }

    /// The text in this language (the English text is the key).
    pub fn t(self, en: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Zh => zh::text(en).unwrap_or(en),
        }
    }

    /// A species' name as this language shows it.
    pub fn species_name<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        self.either(en, zh)
    }

    /// A text given in both languages, in this one (English where no Chinese is given).
    pub fn either<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::Zh if !zh.is_empty() => zh,
            _ => en,
        }
    }

    /// "family" → "科" and so on.
    pub fn rank(self, rank: &str) -> String {
        match (self, rank) {
            (Lang::Zh, "class") => "纲".into(),
            (Lang::Zh, "order") => "目".into(),
            (Lang::Zh, "family") => "科".into(),
            (Lang::Zh, "genus") => "属".into(),
            (Lang::Zh, "species") => "种".into(),
            (_, other) => other.into(),
        }
    }

    /// An identification's answer in plain words.
    pub fn verdict(self, kind: VerdictKind, name: &str, rank: &str, probability: f32) -> String {
        let pct = probability * 100.0;
        match (self, kind) {
            (Lang::En, VerdictKind::Confident) => format!("{name} ({pct:.0} %)"),
            (Lang::Zh, VerdictKind::Confident) => format!("{name}（{pct:.0}%）"),
            (Lang::En, VerdictKind::RolledUp) => {
                let (what, finer) = match rank {
                    "genus" => ("a member of the genus".to_string(), "species"),
                    "family" => ("a member of the family".to_string(), "genus and species"),
                    "order" => ("an insect of the order".to_string(), "family and species"),
                    "class" => ("an animal of the class".to_string(), "order and species"),
                    other => (format!("a member of the {other}"), "species"),
                };
                format!("{what} {name} ({pct:.0} %), {finer} uncertain")
            }
            (Lang::Zh, VerdictKind::RolledUp) => {
                format!("属于{}{name}（{pct:.0}%），更细的分类尚不确定", self.rank(rank))
            }
            (Lang::En, VerdictKind::Uncertain) if !name.is_empty() => {
                format!("most likely {} ({pct:.0} %), not certain", insectid_article(name))
            }
            (Lang::Zh, VerdictKind::Uncertain) if !name.is_empty() => format!("最可能是{name}（{pct:.0}%），但不确定"),
            (Lang::En, VerdictKind::Uncertain) => {
                format!("probably an insect or other arthropod ({pct:.0} %), but the model cannot say which")
            }
            (Lang::Zh, VerdictKind::Uncertain) => {
                format!("可能是昆虫或其他节肢动物（{pct:.0}%），但模型无法确定是哪一种")
            }
            (Lang::Zh, VerdictKind::NoInsect) => "未发现昆虫".into(),
            (Lang::En, VerdictKind::NoInsect) => "no insect found".into(),
        }
    }
}

/// "a weevil", "an earwig" (the domain crate's rule; the client cannot link it).
fn insectid_article(name: &str) -> String {
    let vowel = name.chars().next().is_some_and(|c| "aeiouAEIOU".contains(c));
    format!("{} {name}", if vowel { "an" } else { "a" })
}

/// The request's language (server) or the page's (client); English outside any page.
pub fn use_lang() -> Lang {
    use_context::<Lang>().unwrap_or_default()
}

/// Decides the language for this render and makes it available to every component.
pub fn provide_lang() -> Lang {
    if let Some(lang) = use_context::<Lang>() {
        return lang;
    }
    let lang = detect();
    provide_context(lang);
    lang
}

#[cfg(feature = "ssr")]
fn detect() -> Lang {
    use axum::http::header::{ACCEPT_LANGUAGE, COOKIE};
    let Some(parts) = use_context::<axum::http::request::Parts>() else { return Lang::En };
    let header = |name| parts.headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok());
    Lang::negotiate(header(COOKIE), header(ACCEPT_LANGUAGE))
}

#[cfg(not(feature = "ssr"))]
fn detect() -> Lang {
    leptos::prelude::document()
        .document_element()
        .and_then(|e| e.get_attribute("lang"))
        .and_then(|l| Lang::parse(&l))
        .unwrap_or_default()
}

/// The `Set-Cookie` value remembering a language in this browser for a year.
pub fn cookie(lang: Lang, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax{secure}", lang.code())
}

#[cfg(test)]
mod tests;
