use super::*;

#[test]
fn the_cookie_wins_then_the_browser_then_english() {
    assert_eq!(Lang::negotiate(Some("a=b; insectid_lang=zh"), Some("en-GB")), Lang::Zh);
    assert_eq!(Lang::negotiate(Some("insectid_lang=en"), Some("zh-CN,zh;q=0.9")), Lang::En);
    assert_eq!(Lang::negotiate(Some("insectid_lang=klingon"), Some("fr-FR, zh-TW;q=0.8")), Lang::Zh);
    assert_eq!(Lang::negotiate(None, Some("de-DE,fr;q=0.5")), Lang::En);
    assert_eq!(Lang::negotiate(None, None), Lang::En);
    assert_eq!(cookie(Lang::Zh, true), "insectid_lang=zh; Path=/; Max-Age=31536000; SameSite=Lax; Secure");
}

#[test]
fn verdicts_read_naturally_in_both_languages() {
    assert_eq!(Lang::En.verdict(VerdictKind::Confident, "weevil", "", 0.934), "weevil (93 %)");
    assert_eq!(
        Lang::En.verdict(VerdictKind::RolledUp, "Coleoptera", "order", 0.95),
        "an insect of the order Coleoptera (95 %), family and species uncertain"
    );
    assert_eq!(
        Lang::Zh.verdict(VerdictKind::RolledUp, "Curculionidae", "family", 0.91),
        "属于科Curculionidae（91%），更细的分类尚不确定"
    );
    assert_eq!(
        Lang::En.verdict(VerdictKind::Uncertain, "weevil", "", 0.62),
        "most likely a weevil (62 %), not certain"
    );
    assert_eq!(Lang::Zh.verdict(VerdictKind::Uncertain, "象甲", "", 0.62), "最可能是象甲（62%），但不确定");
    assert!(Lang::En.verdict(VerdictKind::Uncertain, "", "", 0.8).contains("cannot say which"));
    assert_eq!(Lang::Zh.verdict(VerdictKind::NoInsect, "", "", 0.01), "未发现昆虫");
    assert_eq!(Lang::Zh.species_name("weevil", "象甲"), "象甲");
    assert_eq!(Lang::Zh.species_name("weevil", ""), "weevil");
}

/// Every text the sources pass to `t(…)`, and every navigation label, has its Chinese.
#[test]
fn every_interface_text_is_translated() {
    let mut missing = Vec::new();
    let mut seen = 0;
    let mut stack = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for piece in source.split(".t(\"").skip(1) {
                let Some(end) = piece.find("\")") else { continue };
                let text = &piece[..end];
                seen += 1;
                if zh::text(text).is_none() {
                    missing.push(format!("{}: {text}", path.display()));
                }
            }
        }
    }
    for (_, label, _) in crate::components::nav::PAGES {
        if zh::text(label).is_none() {
            missing.push(format!("navigation: {label}"));
        }
    }
    assert!(seen > 50, "found only {seen} texts: is the scan broken?");
    assert!(missing.is_empty(), "untranslated:\n{}", missing.join("\n"));
}
