//! Dedupe keys, merge rules and scoring, through the public API.

use leadgen_core::dedupe::{LeadKeys, NewestWins, SourcePriority, merge_into};
use leadgen_core::geo::Country;
use leadgen_core::lead::{IntentLevel, Tier};
use leadgen_core::mapping::auto_map;
use leadgen_core::record::RowParser;
use leadgen_core::score::{Condition, Rule, ScoringRules, intent_level};
use leadgen_core::{Field, Lead, RecordId, SourceRef};

fn parser(headers: &[&str]) -> RowParser {
    RowParser::new(
        auto_map(headers, &[]).unwrap(),
        Country::US,
        "csv_upload",
        vec![],
        ScoringRules::default(),
    )
}

fn src(batch: i64, line: u64, at: i64) -> SourceRef {
    SourceRef {
        at,
        record: RecordId::new(batch, line),
    }
}

fn lead(cells: &[&str], origin: SourceRef) -> Lead {
    let p = parser(&[
        "Email",
        "First Name",
        "Last Name",
        "Title",
        "Person Linkedin Url",
        "Website",
    ]);
    p.parse(cells, origin).expect("row parses")
}

#[test]
fn gmail_dots_tags_and_case_share_one_key() {
    let a = lead(
        &["Jane.Doe+news@GoogleMail.com", "", "", "", "", ""],
        src(1, 2, 0),
    );
    let b = lead(&["janedoe@gmail.com", "", "", "", "", ""], src(1, 3, 0));
    assert_eq!(LeadKeys::of(&a).email, LeadKeys::of(&b).email);
    assert_eq!(
        a.email.as_ref().unwrap().as_str(),
        "Jane.Doe+news@googlemail.com",
        "stored local part is kept"
    );
}

#[test]
fn name_and_company_domain_identify_when_there_is_no_email() {
    let a = lead(
        &["", "Jane", "Doe", "", "", "https://www.acme.com/team"],
        src(1, 2, 0),
    );
    let b = lead(&["", "JANE", "DOE", "", "", "acme.com"], src(1, 3, 0));
    let ka = LeadKeys::of(&a);
    assert!(ka.name_company.is_some());
    assert_eq!(ka.name_company, LeadKeys::of(&b).name_company);
}

#[test]
fn a_name_without_letters_is_no_identity() {
    // Both name parts are present but key to nothing: such a lead could never
    // be found again, so every re-import would insert it anew.
    for (first, last) in [("{", "}"), ("\u{e000}", "-")] {
        let p = parser(&["First Name", "Last Name", "Website"]);
        let row = p.parse(&[first, last, "acme.com"][..], src(1, 2, 0));
        assert!(row.is_err(), "{first:?} {last:?} was accepted: {row:?}");
    }
    let p = parser(&["First Name", "Last Name", "Website"]);
    let lead = p
        .parse(&["Jane", "Doe", "acme.com"][..], src(1, 2, 0))
        .unwrap();
    assert!(!LeadKeys::of(&lead).is_empty());
}

#[test]
fn merging_fills_gaps_links_the_record_and_keeps_provenance() {
    let mut a = lead(
        &["jane@acme.com", "Jane", "", "Engineer", "", ""],
        src(1, 2, 100),
    );
    let b = lead(
        &[
            "jane@acme.com",
            "",
            "Doe",
            "CTO",
            "linkedin.com/in/janedoe",
            "",
        ],
        src(2, 2, 200),
    );
    let out = merge_into(&mut a, &b, &NewestWins);
    assert!(out.changed());
    assert_eq!(a.last_name.as_deref(), Some("Doe"));
    assert_eq!(a.title.as_deref(), Some("CTO"), "newer value wins");
    assert_eq!(
        a.first_name.as_deref(),
        Some("Jane"),
        "a missing value never erases"
    );
    assert_eq!(a.provenance.of(Field::Title), Some(src(2, 2, 200)));
    assert_eq!(a.provenance.of(Field::FirstName), Some(src(1, 2, 100)));
    assert_eq!(a.provenance.linked, vec![RecordId::new(2, 2)]);
    assert_eq!(a.updated_at, 200);
}

#[test]
fn merging_the_same_record_twice_changes_nothing() {
    let mut a = lead(
        &["jane@acme.com", "Jane", "", "Engineer", "", ""],
        src(1, 2, 100),
    );
    let b = lead(&["jane@acme.com", "", "Doe", "CTO", "", ""], src(2, 5, 200));
    merge_into(&mut a, &b, &NewestWins);
    let snapshot = a.clone();
    assert!(!merge_into(&mut a, &b, &NewestWins).changed());
    assert_eq!(a, snapshot);
}

#[test]
fn an_older_record_does_not_overwrite_a_newer_value() {
    let mut a = lead(&["jane@acme.com", "", "", "CTO", "", ""], src(2, 2, 200));
    let old = lead(
        &["jane@acme.com", "", "", "Engineer", "", ""],
        src(1, 9, 100),
    );
    merge_into(&mut a, &old, &NewestWins);
    assert_eq!(a.title.as_deref(), Some("CTO"));
    assert!(
        a.provenance.has_record(RecordId::new(1, 9)),
        "the older record is still linked"
    );
}

struct Batch2Wins;
impl SourcePriority for Batch2Wins {
    fn of_record(&self, r: RecordId) -> i32 {
        if r.batch() == 2 { 10 } else { 0 }
    }
}

#[test]
fn source_priority_beats_recency() {
    let mut a = lead(
        &["jane@acme.com", "", "", "Director", "", ""],
        src(2, 2, 100),
    );
    let newer = lead(
        &["jane@acme.com", "", "", "Engineer", "", ""],
        src(3, 2, 500),
    );
    merge_into(&mut a, &newer, &Batch2Wins);
    assert_eq!(a.title.as_deref(), Some("Director"));
}

#[test]
fn rows_without_identity_are_rejected_with_the_reason() {
    let p = parser(&[
        "Email",
        "First Name",
        "Last Name",
        "Title",
        "Person Linkedin Url",
        "Website",
    ]);
    let err = p
        .parse(
            ["not an email", "Jane", "", "", "", ""].as_slice(),
            src(1, 2, 0),
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("no usable identity") && msg.contains("not an email"),
        "{msg}"
    );
    assert!(
        p.parse(
            ["", "", "", "", "https://www.linkedin.com/in/jdoe", ""].as_slice(),
            src(1, 3, 0)
        )
        .is_ok()
    );
}

#[test]
fn unparseable_values_are_kept_as_custom_fields() {
    let p = parser(&["Email", "Phone", "Country"]);
    let l = p
        .parse(
            ["jane@acme.com", "call me", "Narnia"].as_slice(),
            src(1, 2, 0),
        )
        .unwrap();
    assert!(l.phone.is_none());
    assert!(
        l.custom
            .iter()
            .any(|(k, v)| k == "invalid_phone" && v == "call me"),
        "{:?}",
        l.custom
    );
    assert!(
        l.custom
            .iter()
            .any(|(k, v)| k == "invalid_country" && v == "Narnia"),
        "{:?}",
        l.custom
    );
}

#[test]
fn phones_use_the_leads_country_as_region() {
    let p = parser(&["Email", "Phone", "Country"]);
    let l = p
        .parse(
            ["a@b.co.uk", "020 7946 0018", "United Kingdom"].as_slice(),
            src(1, 2, 0),
        )
        .unwrap();
    assert_eq!(l.phone.as_ref().unwrap().e164(), "+442079460018");
    assert_eq!(l.country.unwrap().as_str(), "GB");
}

#[test]
fn default_rules_score_a_reachable_decision_maker_high() {
    let p = RowParser::new(
        auto_map(
            &[
                "Email",
                "Title",
                "Phone",
                "Person Linkedin Url",
                "Website",
                "# Employees",
                "Country",
            ],
            &[],
        )
        .unwrap(),
        Country::US,
        "csv_upload",
        vec![],
        ScoringRules::default(),
    );
    let row = [
        "ceo@acme.com",
        "CEO",
        "(415) 555-0100",
        "linkedin.com/in/ceo",
        "acme.com",
        "120",
        "US",
    ];
    let ceo = p.parse(row.as_slice(), src(1, 2, 0)).unwrap();
    assert_eq!((ceo.score, ceo.tier), (100, Tier::A));
    let intern = p
        .parse(
            ["i@acme.com", "MVP intern", "", "", "", "", ""].as_slice(),
            src(1, 3, 0),
        )
        .unwrap();
    assert_eq!(
        intern.tier,
        Tier::C,
        "'mvp' is not 'vp': score {}",
        intern.score
    );
    let card = ScoringRules::default().score(&intern);
    assert!(
        card.factors
            .iter()
            .any(|f| f.rule == "has_email" && f.matched)
    );
    assert!(
        card.factors
            .iter()
            .any(|f| f.rule == "decision_maker_title" && !f.matched)
    );
}

#[test]
fn configured_rules_drive_the_score() {
    let rules = ScoringRules {
        rules: vec![
            Rule {
                name: "saas".into(),
                weight: 3,
                when: Condition::OneOf {
                    field: Field::Industry,
                    values: vec!["SaaS".into()],
                },
            },
            Rule {
                name: "email".into(),
                weight: 1,
                when: Condition::Present {
                    field: Field::Email,
                },
            },
        ],
        tier_a: 75,
        tier_b: 50,
    };
    rules.validate().unwrap();
    let p = RowParser::new(
        auto_map(&["Email", "Industry"], &[]).unwrap(),
        Country::US,
        "x",
        vec![],
        rules.clone(),
    );
    let l = p
        .parse(["a@b.com", "saas"].as_slice(), src(1, 2, 0))
        .unwrap();
    assert_eq!((l.score, l.tier), (100, Tier::A));
    let l = p
        .parse(["a@b.com", "retail"].as_slice(), src(1, 3, 0))
        .unwrap();
    assert_eq!((l.score, l.tier), (25, Tier::C));
    let bad = ScoringRules {
        rules: vec![Rule {
            name: "n".into(),
            weight: 1,
            when: Condition::Between {
                field: Field::Title,
                min: None,
                max: None,
            },
        }],
        ..rules
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("not numeric")
    );
}

#[test]
fn intent_levels_follow_the_plan() {
    assert_eq!(intent_level(3, 0), IntentLevel::Hot);
    assert_eq!(intent_level(2, 3), IntentLevel::Hot);
    assert_eq!(intent_level(2, 2), IntentLevel::Warm);
    assert_eq!(intent_level(1, 0), IntentLevel::Warm);
    assert_eq!(intent_level(0, 4), IntentLevel::Warm);
    assert_eq!(intent_level(0, 3), IntentLevel::Cold);
    assert_eq!(intent_level(0, 0), IntentLevel::Cold);
}
