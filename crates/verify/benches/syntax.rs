//! Syntax-only throughput: `cargo bench -p leadgen-verify --bench syntax`.
//! The target is 2,000,000 addresses per second on one core.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use leadgen_verify::{data, syntax};

/// A realistic list: mostly clean addresses, some upper case, some typos.
fn corpus() -> Vec<String> {
    let firsts = [
        "jane", "john", "maria", "li", "ahmed", "olga", "pierre", "sam",
    ];
    let lasts = [
        "doe", "smith", "garcia", "wang", "khan", "ivanova", "martin", "lee",
    ];
    let domains = [
        "acme.com",
        "example.co.uk",
        "gmail.com",
        "widgets-inc.io",
        "mail.big-corp.de",
        "Startup.AI",
        "yahoo.com",
        "consulting.fr",
    ];
    let mut out = Vec::new();
    for i in 0..4096usize {
        let f = firsts[i % firsts.len()];
        let l = lasts[(i / 8) % lasts.len()];
        let d = domains[(i / 64) % domains.len()];
        out.push(match i % 32 {
            0 => format!("{f}..{l}@{d}"),
            1 => format!("{f} {l}@{d}"),
            2 => format!("{f}.{l}{d}"),
            _ => format!("{f}.{l}{}@{d}", i % 100),
        });
    }
    out
}

fn bench(c: &mut Criterion) {
    let list = corpus();
    data::warm_up();
    let mut g = c.benchmark_group("syntax");
    g.throughput(Throughput::Elements(list.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            let mut ok = 0usize;
            for s in &list {
                ok += usize::from(syntax::parse(black_box(s)).is_ok());
            }
            ok
        })
    });
    g.bench_function("parse_and_classify", |b| {
        b.iter(|| {
            let mut flags = 0usize;
            for s in &list {
                if let Ok(a) = syntax::parse(black_box(s)) {
                    let d = a.domain();
                    flags += usize::from(data::is_disposable(d))
                        + usize::from(data::is_free(d))
                        + usize::from(data::is_role(a.local()))
                        + usize::from(data::suggest_domain(d).is_some());
                }
            }
            flags
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
