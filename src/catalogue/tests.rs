use super::*;

#[test]
fn holds_the_102_ip102_classes_in_order_then_the_imagenet_arthropods() {
    let all = all();
    let ip102: Vec<_> = all.iter().filter(|s| matches!(s.origin, Origin::Ip102(_))).collect();
    assert_eq!(ip102.len(), 102);
    for (i, s) in ip102.iter().enumerate() {
        assert_eq!(s.origin, Origin::Ip102(i as u32 + 1), "{} out of order", s.name_en);
    }
    let imagenet = all.iter().filter(|s| matches!(s.origin, Origin::ImageNet(_))).count();
    assert_eq!(imagenet, 37, "ImageNet classes 70-79 and 300-326");
    let mut keys: Vec<_> = all.iter().map(|s| s.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), all.len(), "keys are unique");
}

#[test]
fn ip102_names_are_verbatim_including_their_oddities() {
    let name = |n: u32| all().iter().find(|s| s.origin == Origin::Ip102(n)).map(|s| s.name_en.as_str());
    assert_eq!(name(1), Some("rice leaf roller"));
    assert_eq!(name(7), Some("Rice Stemfly"));
    assert_eq!(name(30), Some("bird cherry-oataphid"));
    assert_eq!(name(44), Some("sericaorient alismots chulsky"));
    assert_eq!(name(64), Some("Polyphagotars onemus latus"));
    assert_eq!(name(84), Some("Tetradacus c Bactrocera minax"));
    assert_eq!(name(85), Some("Dacus dorsalis(Hendel)"));
    assert_eq!(name(102), Some("Cicadellidae"));
}

#[test]
fn labels_and_families_find_their_entries() {
    assert_eq!(for_label("Rice stemfly").map(|s| s.key.as_str()), Some("ip102-7"));
    assert_eq!(for_label("ladybug").map(|s| s.scientific.as_str()), Some("Coccinellidae"));
    assert!(for_label("golden retriever").is_none());
    let weevils: Vec<_> = in_family("Curculionidae").iter().map(|s| s.name_en.clone()).collect();
    assert!(
        weevils.contains(&"rice water weevil".to_string()) && weevils.contains(&"weevil".to_string()),
        "{weevils:?}"
    );
    assert!(in_family("").is_empty());
}

#[test]
fn search_matches_every_word_in_english_or_chinese() {
    let keys = |q: &str| search(q).iter().map(|s| s.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys("brown plant hopper"), ["ip102-8", "ip102-10"]);
    assert!(keys("褐飞虱").contains(&"ip102-8".to_string()));
    assert!(keys("CITRUS tephritidae").len() >= 3);
    assert!(keys("no such insect anywhere").is_empty());
    assert_eq!(search("").len(), all().len());
}

#[test]
fn bad_lines_are_reported_with_their_number() {
    assert!(parse("# only a comment\n\n").unwrap().is_empty());
    let err = parse("ip102:1|a|b|c").unwrap_err();
    assert!(err.contains("line 1") && err.contains("11 fields"), "{err}");
    let err = parse("\nfoo:1|a|b|c|d|e|f|pest|h|i|j").unwrap_err();
    assert!(err.contains("line 2") && err.contains("unknown source"), "{err}");
    let err = parse("ip102:x|a|b|c|d|e|f|pest|h|i|j").unwrap_err();
    assert!(err.contains("bad class number"), "{err}");
    let err = parse("ip102:1|a|b|c|d|e|f|friend|h|i|j").unwrap_err();
    assert!(err.contains("unknown role"), "{err}");
    let err = parse("ip102:1||b|c|d|e|f|pest|h|i|j").unwrap_err();
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn every_entry_has_its_texts_in_chinese() {
    let chinese = |t: &str| t.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    for s in all() {
        for (en, zh) in [(&s.hosts, &s.hosts_zh), (&s.damage, &s.damage_zh), (&s.control, &s.control_zh)] {
            // "—": no crop at all (a beneficial or harmless animal), in either language.
            assert!(chinese(zh) || (en == "—" && zh == "—"), "{}: {zh:?} is not Chinese", s.key);
        }
    }
    assert!(search("水稻").len() >= 10, "Chinese host crops are searchable");
}

#[test]
fn chinese_texts_must_match_the_entries_one_to_one() {
    let mut two =
        parse("ip102:1|a|甲|A a|Insecta|O|F|pest|rice|eats|spray\nip102:2|b|乙|B b|Insecta|O|F|pest|rice|eats|spray")
            .unwrap();
    assert!(add_chinese(&mut two, "ip102:1|水稻|取食|防治").unwrap_err().contains("1 Chinese entries for 2"));
    let swapped = "ip102:2|水稻|取食|防治\nip102:1|水稻|取食|防治";
    assert!(add_chinese(&mut two, swapped).unwrap_err().contains("ip102:2 where ip102-1 was expected"));
    assert!(add_chinese(&mut two, "ip102:1|水稻||防治\nip102:2|水稻|取食|防治").unwrap_err().contains("empty"));
    add_chinese(&mut two, "# comment\nip102:1|水稻|取食|防治\n\nip102:2|小麦|吸汁|轮作").unwrap();
    assert_eq!((two[1].hosts_zh.as_str(), two[1].control_zh.as_str()), ("小麦", "轮作"));
}
