//! The import pipeline end to end on both stores: SQLite in a temporary file
//! and PostgreSQL in a fresh database of a throw-away cluster (skipped, with
//! a loud message, where PostgreSQL is not installed; required on CI).
//!
//! The input is the sample generator's file, whose answer key says how many
//! rows a correct import inserts, merges and rejects; both backends must
//! reach it, export the same leads, ignore a re-import, apply a later file's
//! updates to exactly the leads it names (linking its records), and let a
//! trusted source's value stand against a newer one from a lesser source.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use leadgen_app::export::{Format, export};
use leadgen_app::import::{ImportOptions, ImportSummary, import_csv};
use leadgen_app::sample::{SampleSpec, SampleStats, write_sample};
use leadgen_core::geo::Country;
use leadgen_core::score::ScoringRules;
use leadgen_core::{DEFAULT_WORKSPACE, Field, LeadId, RecordId, SourceRef};
use leadgen_store::postgres::PgStore;
use leadgen_store::sqlite::SqliteStore;
use leadgen_store::{LeadFilter, Store, testing};
use serde_json::{Map, Value};
use tempfile::TempDir;

const WS: i64 = DEFAULT_WORKSPACE;

/// The sample every test imports: big enough to span several import chunks.
const SAMPLE: SampleSpec = SampleSpec {
    rows: 5000,
    dup_rate: 0.15,
    seed: 9,
};

/// A store under test, with the directory that holds its files.
struct Backend {
    name: &'static str,
    store: Box<dyn Store>,
    dir: TempDir,
}

/// SQLite, and PostgreSQL when its binaries are installed (else the
/// testing kit prints that the PostgreSQL half is skipped).
fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = SqliteStore::open(&testing::sqlite_path(dir.path())).expect("opening SQLite");
    let mut all = vec![Backend {
        name: "sqlite",
        store: Box::new(sqlite),
        dir,
    }];
    if let Some(url) = testing::pg_url() {
        let pg = PgStore::connect(&url).unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
        all.push(Backend {
            name: "postgres",
            store: Box::new(pg),
            dir: tempfile::tempdir().expect("temp dir"),
        });
    }
    all
}

fn write_sample_file(dir: &Path) -> (PathBuf, SampleStats) {
    let path = dir.join("sample.csv");
    let file = BufWriter::new(File::create(&path).expect("creating the sample"));
    let stats = write_sample(&SAMPLE, file).expect("writing the sample");
    (path, stats)
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing the input");
    path
}

fn options(path: &Path, source: &str, priority: &[(&str, i32)]) -> ImportOptions {
    ImportOptions {
        path: path.to_path_buf(),
        overrides: Vec::new(),
        tags: Vec::new(),
        source: source.into(),
        default_country: Country::US,
        rules: ScoringRules::default(),
        source_priority: priority.iter().map(|(s, p)| (s.to_string(), *p)).collect(),
        workspace: WS,
        staging_bytes: leadgen_app::import::STAGING_BYTES,
    }
}

fn import(b: &Backend, path: &Path, source: &str, priority: &[(&str, i32)]) -> ImportSummary {
    import_csv(&*b.store, &options(path, source, priority), &|_| {})
        .unwrap_or_else(|e| panic!("{}: importing {}: {e}", b.name, path.display()))
}

fn lead_count(b: &Backend) -> u64 {
    b.store
        .count_leads(WS, &LeadFilter::default())
        .expect("counting leads")
}

/// Every lead as its exported JSON object, by id.
fn exported(b: &Backend) -> BTreeMap<LeadId, Map<String, Value>> {
    let mut out = Vec::new();
    export(
        &*b.store,
        WS,
        &LeadFilter::default(),
        Format::Jsonl,
        &mut out,
        &|_| {},
    )
    .unwrap_or_else(|e| panic!("{}: export: {e}", b.name));
    String::from_utf8(out)
        .expect("JSONL is UTF-8")
        .lines()
        .map(|line| {
            let Value::Object(lead) = serde_json::from_str(line).expect("a JSON object a line")
            else {
                panic!("not an object: {line}")
            };
            (lead["id"].as_i64().expect("an id"), lead)
        })
        .collect()
}

/// The export without the columns that hold the import's wall-clock time.
fn without_timestamps(
    leads: BTreeMap<LeadId, Map<String, Value>>,
) -> BTreeMap<LeadId, Map<String, Value>> {
    leads
        .into_iter()
        .map(|(id, mut lead)| {
            lead.remove("created_at");
            lead.remove("updated_at");
            (id, lead)
        })
        .collect()
}

#[test]
fn the_sample_imports_to_its_answer_key_and_both_backends_export_the_same_leads() {
    let mut exports = Vec::new();
    for b in backends() {
        let (path, key) = write_sample_file(b.dir.path());
        let s = import(&b, &path, "csv_upload", &[]);
        assert_eq!(s.rows_read, key.rows, "{}: rows read", b.name);
        assert_eq!(s.inserted, key.unique_leads, "{}: inserted", b.name);
        assert_eq!(s.merged, key.planted_duplicates, "{}: merged", b.name);
        assert_eq!(s.rejected, key.planted_bad, "{}: rejected", b.name);
        assert_eq!(lead_count(&b), key.unique_leads, "{}: stored", b.name);
        exports.push((b.name, without_timestamps(exported(&b))));
    }
    let (first, reference) = &exports[0];
    for (name, leads) in &exports[1..] {
        assert_eq!(leads.len(), reference.len());
        for (id, lead) in reference {
            assert_eq!(
                leads.get(id),
                Some(lead),
                "lead {id} differs between {first} and {name}"
            );
        }
    }
}

/// A writer that takes `left` more bytes, then fails as a full disk does.
struct FullDisk {
    left: usize,
}

impl std::io::Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device",
            ));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn an_export_writes_every_lead_once_and_stops_with_the_writers_error() {
    for b in backends() {
        let (path, key) = write_sample_file(b.dir.path());
        import(&b, &path, "csv_upload", &[]);
        for format in [Format::Csv, Format::Jsonl] {
            let heard = std::cell::Cell::new(0);
            let mut out = Vec::new();
            let n = export(
                &*b.store,
                WS,
                &LeadFilter::default(),
                format,
                &mut out,
                &|n| heard.set(n),
            )
            .unwrap_or_else(|e| panic!("{}: export: {e}", b.name));
            assert_eq!(n, key.unique_leads, "{}: {format:?}", b.name);
            assert_eq!(heard.get(), n, "{}: progress hears the total", b.name);
            // Ids in order, each once.
            let ids: Vec<u64> = match format {
                Format::Csv => csv::Reader::from_reader(&out[..])
                    .records()
                    .map(|r| r.unwrap()[0].parse().unwrap())
                    .collect(),
                Format::Jsonl => String::from_utf8(out)
                    .unwrap()
                    .lines()
                    .map(|l| {
                        serde_json::from_str::<Value>(l).unwrap()["id"]
                            .as_u64()
                            .unwrap()
                    })
                    .collect(),
            };
            assert_eq!(ids.len() as u64, n, "{}: {format:?}", b.name);
            assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "{}: {format:?}",
                b.name
            );
            let err = export(
                &*b.store,
                WS,
                &LeadFilter::default(),
                format,
                &mut FullDisk { left: 50_000 },
                &|_| {},
            )
            .expect_err("the disk is full");
            assert!(
                err.to_string().contains("no space left"),
                "{}: {format:?}: {err}",
                b.name
            );
        }
    }
}

/// Every stored lead with the import's wall-clock times taken out.
fn leads_without_times(b: &Backend) -> Vec<leadgen_core::Lead> {
    exported(b)
        .keys()
        .map(|&id| {
            let mut lead = b
                .store
                .get_lead(WS, id)
                .unwrap_or_else(|e| panic!("{}: lead {id}: {e}", b.name))
                .unwrap_or_else(|| panic!("{}: lead {id} was exported but is gone", b.name));
            lead.created_at = 0;
            lead.updated_at = 0;
            for at in lead
                .provenance
                .origin
                .iter_mut()
                .chain(lead.provenance.fields.iter_mut().map(|(_, at)| at))
            {
                at.at = 0;
            }
            lead
        })
        .collect()
}

#[test]
fn leads_written_early_for_want_of_memory_end_the_same_as_leads_held_to_the_end() {
    for (held, early) in backends().into_iter().zip(backends()) {
        let (path, key) = write_sample_file(held.dir.path());
        let all_held = import(&held, &path, "csv_upload", &[]);
        // 64 KiB holds some 200 leads: most duplicates then merge into
        // leads already written, which are read back and rewritten.
        let opts = ImportOptions {
            staging_bytes: 64 << 10,
            ..options(&path, "csv_upload", &[])
        };
        let written_early = import_csv(&*early.store, &opts, &|_| {}).expect("importing");
        assert_eq!(
            written_early.merged, key.planted_duplicates,
            "{}",
            early.name
        );
        assert_eq!(
            (
                written_early.inserted,
                written_early.merged,
                written_early.rejected
            ),
            (all_held.inserted, all_held.merged, all_held.rejected),
            "{}",
            early.name
        );
        let (a, b) = (leads_without_times(&held), leads_without_times(&early));
        assert_eq!(a.len() as u64, key.unique_leads, "{}", held.name);
        assert_eq!(a.len(), b.len(), "{}", early.name);
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(a, b, "{}: lead {}", early.name, a.id);
        }
    }
}

#[test]
fn reimporting_the_sample_adds_nothing_and_changes_nothing() {
    for b in backends() {
        let (path, _) = write_sample_file(b.dir.path());
        let first = import(&b, &path, "csv_upload", &[]);
        let before = exported(&b);

        let again = import(&b, &path, "csv_upload", &[]);
        assert_eq!(again.inserted, 0, "{}: {again:?}", b.name);
        assert_eq!(again.merged, first.inserted + first.merged, "{}", b.name);
        assert_eq!(again.rejected, first.rejected, "{}", b.name);
        assert_eq!(
            again.batch_id, first.batch_id,
            "{}: same file, same batch",
            b.name
        );
        assert_eq!(lead_count(&b), first.inserted, "{}", b.name);
        assert!(
            exported(&b) == before,
            "{}: a re-import changed stored leads",
            b.name
        );
    }
}

#[test]
fn a_file_of_newer_titles_changes_exactly_those_leads_and_links_its_records() {
    for b in backends() {
        let (path, _) = write_sample_file(b.dir.path());
        import(&b, &path, "csv_upload", &[]);
        let before = exported(&b);

        // Every 40th lead with an email gets a new title, one row each.
        let chosen: Vec<(LeadId, String, String)> = before
            .values()
            .filter_map(|lead| Some((lead["id"].as_i64()?, lead["email"].as_str()?.to_owned())))
            .step_by(40)
            .enumerate()
            .map(|(i, (id, email))| (id, email, format!("Chief Sampling Officer {i}")))
            .collect();
        assert!(chosen.len() > 50, "enough leads to update");
        let mut text = String::from("Email,Title\n");
        for (_, email, title) in &chosen {
            text.push_str(&format!("{email},{title}\n"));
        }
        let update = write_file(b.dir.path(), "titles.csv", &text);
        let s = import(&b, &update, "csv_upload", &[]);
        assert_eq!(
            (s.inserted, s.merged, s.rejected),
            (0, chosen.len() as u64, 0),
            "{}: every row names a stored lead",
            b.name
        );

        let batch = b
            .store
            .batches(WS)
            .expect("batches")
            .into_iter()
            .find(|batch| batch.id == s.batch_id)
            .expect("the update's batch");
        for (row, (id, email, title)) in chosen.iter().enumerate() {
            let lead = b
                .store
                .get_lead(WS, *id)
                .expect("get_lead")
                .expect("the lead");
            assert_eq!(lead.title.as_deref(), Some(title.as_str()), "{}", b.name);
            // Header on line 1, so row n is on line n + 2.
            let record = RecordId::new(s.batch_id, row as u64 + 2);
            assert_eq!(
                lead.provenance.of(Field::Title),
                Some(SourceRef {
                    at: batch.started_at,
                    record
                }),
                "{}: the title's source is the update's row",
                b.name
            );
            assert!(lead.provenance.linked.contains(&record), "{}", b.name);
            assert_eq!(lead.updated_at, batch.started_at, "{}", b.name);
            let raw = b
                .store
                .source_record(WS, record)
                .expect("source_record")
                .expect("the update's row is stored");
            assert_eq!(raw.headers, ["Email", "Title"]);
            assert_eq!(raw.cells, [email.as_str(), title.as_str()]);
            assert_eq!(raw.batch_name, "titles.csv");
        }

        let after = exported(&b);
        assert_eq!(after.len(), before.len(), "{}: no lead added", b.name);
        let chosen_ids: BTreeSet<LeadId> = chosen.iter().map(|(id, ..)| *id).collect();
        let changed: BTreeSet<LeadId> = before
            .iter()
            .filter(|(id, lead)| after.get(id) != Some(lead))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(
            changed, chosen_ids,
            "{}: exactly the named leads change",
            b.name
        );
        // The title, and what follows from it, changes; nothing else does.
        let follows_from_title: BTreeSet<&str> = ["title", "updated_at", "score", "tier"].into();
        for id in &chosen_ids {
            for (column, value) in &before[id] {
                if !follows_from_title.contains(column.as_str()) {
                    assert_eq!(&after[id][column], value, "{}: lead {id} {column}", b.name);
                }
            }
        }
    }
}

/// Two files about the same people: a trusted source first, then a newer
/// file from an ordinary one.
const TRUSTED: &str = "Email,First Name,Last Name,Title\n\
                       ann@acme.com,Ann,Lee,VP Sales\n\
                       bob@acme.com,Bob,Kim,CTO\n";
const NEWER: &str = "Email,Title,City\n\
                     ann@acme.com,Sales Intern,Boston\n\
                     bob@acme.com,CTO,Denver\n\
                     cid@acme.com,Founder,Austin\n";

/// Title and city of a lead found by email.
fn title_and_city(b: &Backend, email: &str) -> (Option<String>, Option<String>) {
    let lead = exported(b)
        .into_values()
        .find(|lead| lead["email"] == email)
        .unwrap_or_else(|| panic!("{}: no lead {email}", b.name));
    let text = |k: &str| lead[k].as_str().map(str::to_owned);
    (text("title"), text("city"))
}

#[test]
fn a_high_priority_source_keeps_its_value_against_a_newer_low_priority_one() {
    for b in backends() {
        let priority = [("apollo", 10)];
        let trusted = write_file(b.dir.path(), "apollo.csv", TRUSTED);
        let newer = write_file(b.dir.path(), "newer.csv", NEWER);
        import(&b, &trusted, "apollo", &priority);
        let s = import(&b, &newer, "csv_upload", &priority);
        assert_eq!((s.inserted, s.merged), (1, 2), "{}", b.name);

        assert_eq!(
            title_and_city(&b, "ann@acme.com"),
            (Some("VP Sales".into()), Some("Boston".into())),
            "{}: the trusted title stands; the gap is filled",
            b.name
        );
        assert_eq!(
            title_and_city(&b, "bob@acme.com"),
            (Some("CTO".into()), Some("Denver".into())),
            "{}",
            b.name
        );
        let ann = exported(&b)
            .into_values()
            .find(|lead| lead["email"] == "ann@acme.com")
            .expect("ann");
        let ann = b
            .store
            .get_lead(WS, ann["id"].as_i64().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(
            ann.provenance.of(Field::Title).map(|s| s.record.batch()),
            ann.provenance.origin.map(|o| o.record.batch()),
            "{}: the title still comes from the trusted file",
            b.name
        );
        assert!(
            ann.provenance
                .linked
                .contains(&RecordId::new(s.batch_id, 2)),
            "{}: the newer row is linked all the same",
            b.name
        );
    }
}

#[test]
fn without_a_priority_the_newer_value_wins() {
    // The same two files, no priorities: the contrast that shows the test
    // above is about priority and not about the order of imports.
    for b in backends() {
        let trusted = write_file(b.dir.path(), "apollo.csv", TRUSTED);
        let newer = write_file(b.dir.path(), "newer.csv", NEWER);
        import(&b, &trusted, "apollo", &[]);
        import(&b, &newer, "csv_upload", &[]);
        assert_eq!(
            title_and_city(&b, "ann@acme.com"),
            (Some("Sales Intern".into()), Some("Boston".into())),
            "{}",
            b.name
        );
    }
}

/// Ann twice, under two emails, joined by her LinkedIn profile; and Bob.
const TWO_EMAILS: &str = "Email,First Name,Last Name,Company,Website,LinkedIn\n\
                          ann@acme.com,Ann,Lee,Acme,acme.com,linkedin.com/in/ann-lee\n\
                          ann.lee@gmail.com,Ann,Lee,Acme,acme.com,linkedin.com/in/ann-lee\n\
                          bob@acme.com,Bob,Kim,Acme,acme.com,\n";

#[test]
fn a_deleted_lead_comes_back_as_one_new_lead_under_either_of_its_emails() {
    for b in backends() {
        let path = write_file(b.dir.path(), "two-emails.csv", TWO_EMAILS);
        let first = import(&b, &path, "csv_upload", &[]);
        assert_eq!((first.inserted, first.merged), (2, 1), "{}", b.name);
        let ann = exported(&b)
            .into_values()
            .find(|lead| lead["first_name"] == "Ann")
            .expect("ann");
        let ann = ann["id"].as_i64().unwrap();
        assert!(b.store.delete_lead(WS, ann).unwrap(), "{}", b.name);
        assert_eq!(lead_count(&b), 1, "{}", b.name);

        // Only one of her emails is the lead's own; the other key stays
        // stored until this import, which must not take it for a lead.
        let back = import(&b, &path, "csv_upload", &[]);
        assert_eq!((back.inserted, back.merged), (1, 2), "{}", b.name);
        assert_eq!(lead_count(&b), 2, "{}", b.name);
        let ann_again = exported(&b)
            .into_values()
            .find(|lead| lead["first_name"] == "Ann")
            .expect("ann is back");
        assert_ne!(ann_again["id"].as_i64().unwrap(), ann, "{}", b.name);

        // Her keys now lead to the new lead, both emails alike.
        let only_gmail = write_file(
            b.dir.path(),
            "gmail.csv",
            "Email,First Name\nann.lee@gmail.com,Annie\n",
        );
        let again = import(&b, &only_gmail, "csv_upload", &[]);
        assert_eq!((again.inserted, again.merged), (0, 1), "{}", b.name);
        assert_eq!(lead_count(&b), 2, "{}", b.name);
    }
}
