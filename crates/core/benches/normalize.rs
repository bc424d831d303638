//! Throughput of the normalizers on realistic lead-file cells.
//!
//! Each benchmark runs over a fixed batch of inputs generated from a seeded
//! generator (mixed formats, some invalid), and reports elements per second.
//! Run: `cargo bench -p leadgen-core --bench normalize`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use leadgen_core::domain::Domain;
use leadgen_core::email::Email;
use leadgen_core::geo::Country;
use leadgen_core::linkedin::LinkedinUrl;
use leadgen_core::names::{company_name_key, person_name_key, split_full_name};
use leadgen_core::phone::Phone;

const N: usize = 2000;

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const FIRST: &[&str] = &[
    "jane", "John", "maria", "Wei", "Ahmed", "Olivia", "JÜRGEN", "chloé", "Liam", "priya",
];
const LAST: &[&str] = &[
    "doe",
    "Smith",
    "GARCIA",
    "Chen",
    "Khan",
    "Brown",
    "Müller",
    "o'neil",
    "van der Berg",
    "Patel",
];
const DOMAINS: &[&str] = &[
    "acme.com",
    "Globex.io",
    "initech.co.uk",
    "gmail.com",
    "outlook.com",
    "umbrella-corp.de",
    "bücher.de",
    "stark.ai",
    "wayne.enterprises.com",
    "hooli.xyz",
];

fn emails(rng: &mut Rng) -> Vec<String> {
    (0..N)
        .map(|_| {
            let (f, l, d) = (
                rng.pick(FIRST),
                rng.pick(LAST).replace(' ', ""),
                rng.pick(DOMAINS),
            );
            match rng.below(10) {
                0 => format!("  {f}.{l}@{d} "),
                1 => format!("mailto:{f}@{d}?subject=Hi"),
                2 => format!("{f} {l} <{f}.{l}@{d}>"),
                3 => format!("{f}.{l}+news@{d}"),
                4 => format!("{f}{l}@{d}"), // sometimes invalid: the apostrophe is fine, the rest too
                5 => format!("{f} {l}@{d}"), // invalid: space
                _ => format!("{f}.{l}@{d}"),
            }
        })
        .collect()
}

fn nanp_phones(rng: &mut Rng) -> Vec<String> {
    const NPA: &[&str] = &[
        "415", "212", "646", "310", "512", "617", "303", "206", "404", "416", "604", "713", "305",
    ];
    (0..N)
        .map(|_| {
            let a = rng.pick(NPA);
            let e = 200 + rng.below(800);
            let l = rng.below(10_000);
            match rng.below(8) {
                0 => format!("({a}) {e}-{l:04}"),
                1 => format!("{a}-{e}-{l:04}"),
                2 => format!("{a}.{e}.{l:04}"),
                3 => format!("{a}{e}{l:04}"),
                4 => format!("+1 {a} {e} {l:04}"),
                5 => format!("1-{a}-{e}-{l:04}"),
                6 => format!("+1{a}{e}{l:04}"),
                _ => format!("({a}) {e}-{l:04} x{}", rng.below(1000)),
            }
        })
        .collect()
}

fn urls(rng: &mut Rng) -> Vec<String> {
    (0..N)
        .map(|_| {
            let d = rng.pick(DOMAINS);
            match rng.below(6) {
                0 => format!("https://www.{d}/about"),
                1 => format!("www.{d}"),
                2 => d.to_owned(),
                3 => format!("http://{d}:8080/x?y=1"),
                4 => format!("jane@{d}"),
                _ => format!("{}.", d.to_ascii_uppercase()),
            }
        })
        .collect()
}

fn linkedins(rng: &mut Rng) -> Vec<String> {
    (0..N)
        .map(|i| {
            let (f, l) = (rng.pick(FIRST), rng.pick(LAST).replace(' ', "-"));
            match rng.below(5) {
                0 => format!("https://www.linkedin.com/in/{f}-{l}-{i}/"),
                1 => format!("linkedin.com/in/{f}{l}"),
                2 => format!(
                    "https://www.linkedin.com/in/{f}-{l}?utm_source=share&utm_medium=member"
                ),
                3 => format!("http://uk.linkedin.com/in/{f}-{l}"),
                _ => format!("https://www.linkedin.com/company/{l}-inc/about/"),
            }
        })
        .collect()
}

fn companies(rng: &mut Rng) -> Vec<String> {
    const NAMES: &[&str] = &[
        "Acme",
        "Globex",
        "Initech",
        "Umbrella",
        "Stark",
        "Wayne",
        "Hooli",
        "Société Générale",
    ];
    const KINDS: &[&str] = &["", " Holdings", " Industries", " Labs", " & Sons", " Group"];
    const FORMS: &[&str] = &[
        ", Inc.",
        " LLC",
        " Ltd",
        "",
        " GmbH",
        " S.A.",
        " Corporation",
        " Pty Ltd",
        ", L.L.C.",
    ];
    (0..N)
        .map(|_| {
            let the = if rng.below(5) == 0 { "The " } else { "" };
            let s = format!(
                "{the}{}{}{}",
                rng.pick(NAMES),
                rng.pick(KINDS),
                rng.pick(FORMS)
            );
            if rng.below(4) == 0 {
                s.to_uppercase()
            } else {
                s
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut rng = Rng(0x5eed_1ead_0000_0001);
    let email_in = emails(&mut rng);
    let phone_in = nanp_phones(&mut rng);
    let url_in = urls(&mut rng);
    let li_in = linkedins(&mut rng);
    let co_in = companies(&mut rng);
    let names_in: Vec<String> = (0..N)
        .map(|_| format!("Dr. {} {} Jr.", rng.pick(FIRST), rng.pick(LAST)))
        .collect();
    let countries_in: Vec<&str> = (0..N)
        .map(|_| {
            rng.pick(&[
                "US",
                "USA",
                "United States",
                "uk",
                "Germany",
                "Deutschland",
                "FR",
                "Canada",
                "U.S.A.",
            ])
        })
        .collect();
    let parsed_emails: Vec<Email> = email_in
        .iter()
        .filter_map(|s| Email::parse(s).ok())
        .collect();

    // Warm the NANP validity cache: a long import pays each area code and
    // exchange once, so steady state is what matters.
    for s in &phone_in {
        let _ = Phone::parse(s, Country::US);
    }

    let mut g = c.benchmark_group("normalize");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("email_parse", |b| {
        b.iter(|| {
            for s in &email_in {
                let _ = black_box(Email::parse(black_box(s)));
            }
        })
    });
    g.throughput(Throughput::Elements(parsed_emails.len() as u64));
    g.bench_function("email_dedupe_key_into", |b| {
        let mut buf = String::with_capacity(64);
        b.iter(|| {
            for e in &parsed_emails {
                e.dedupe_key_into(&mut buf);
                black_box(&buf);
            }
        })
    });
    g.bench_function("email_dedupe_key", |b| {
        b.iter(|| {
            for e in &parsed_emails {
                black_box(e.dedupe_key());
            }
        })
    });
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("phone_fast_path", |b| {
        b.iter(|| {
            for s in &phone_in {
                let _ = black_box(Phone::parse(black_box(s), Country::US));
            }
        })
    });
    g.bench_function("phone_from_e164", |b| {
        let stored: Vec<String> = phone_in
            .iter()
            .filter_map(|s| Phone::parse(s, Country::US).ok())
            .map(|p| p.to_string())
            .collect();
        b.iter(|| {
            for s in &stored {
                let _ = black_box(Phone::from_e164(black_box(s)));
            }
        })
    });
    g.bench_function("domain_parse", |b| {
        b.iter(|| {
            for s in &url_in {
                let _ = black_box(Domain::parse(black_box(s)));
            }
        })
    });
    g.bench_function("linkedin_parse", |b| {
        b.iter(|| {
            for s in &li_in {
                let _ = black_box(LinkedinUrl::parse(black_box(s)));
            }
        })
    });
    g.bench_function("company_name_key", |b| {
        b.iter(|| {
            for s in &co_in {
                black_box(company_name_key(black_box(s)));
            }
        })
    });
    g.bench_function("split_full_name", |b| {
        b.iter(|| {
            for s in &names_in {
                black_box(split_full_name(black_box(s)));
            }
        })
    });
    g.bench_function("person_name_key", |b| {
        b.iter(|| {
            for s in &names_in {
                black_box(person_name_key(black_box(s), "Müller"));
            }
        })
    });
    g.bench_function("country_parse", |b| {
        b.iter(|| {
            for s in &countries_in {
                let _ = black_box(Country::parse(black_box(s)));
            }
        })
    });
    g.finish();

    // The full parser is slow; a smaller batch keeps the run short.
    let mut g = c.benchmark_group("normalize_slow");
    let few = &phone_in[..200];
    g.throughput(Throughput::Elements(few.len() as u64));
    g.sample_size(20);
    g.bench_function("phone_full_path", |b| {
        b.iter(|| {
            for s in few {
                let _ = black_box(Phone::parse_full(black_box(s), Country::US));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
