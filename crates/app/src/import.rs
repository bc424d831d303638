//! `leadgen import`: a CSV file becomes clean, deduplicated, scored leads.
//!
//! A reader thread splits the file into batches of rows; parser threads
//! (one per core) parse, normalize and key a batch each; the caller's thread
//! takes the batches back in file order, writes rejects, resolves identities
//! against everything seen so far and writes to the store inside one
//! transaction. One transaction makes an interrupted import leave no trace,
//! so a re-run ends exactly as an uninterrupted one would.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use leadgen_core::dedupe::{KeyHashes, SourcePriority, merge_into};
use leadgen_core::geo::Country;
use leadgen_core::mapping::{ColumnMapping, auto_map};
use leadgen_core::record::{Cells, RowParser};
use leadgen_core::score::ScoringRules;
use leadgen_core::{Field, Lead, LeadId, RecordId, SourceRef, WorkspaceId};
use leadgen_store::{
    BatchCounts, BatchMeta, IngestTx, LeadRow, RecordChunk, RecordChunkWriter, Store, StoreError,
};

use crate::csv_source::{CsvSource, CsvSourceError, RawRow, ReadError};
use crate::rejects::{RejectsError, RejectsWriter};
use leadgen_jobs::now_ms;

/// Rows per unit of work between the two threads.
const CHUNK_ROWS: usize = 4096;
/// Rows that merge into leads already written, held before they are
/// applied: the targets are then read and rewritten once each, in id order.
const PENDING_FLUSH: usize = 100_000;
/// Rows an import makes room for up front, at most (see `consume`).
const RESERVE_ROWS: usize = 2_000_000;
/// Identity keys a row has at most (email, LinkedIn, name and domain).
const KEYS_PER_ROW: usize = 3;
/// The default [`ImportOptions::staging_bytes`]: a million-row file fits.
pub const STAGING_BYTES: usize = 320 << 20;

/// Everything an import needs besides the store.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub path: PathBuf,
    /// `--map FIELD=COLUMN` pairs.
    pub overrides: Vec<(Field, String)>,
    pub tags: Vec<String>,
    pub source: String,
    pub default_country: Country,
    pub rules: ScoringRules,
    pub source_priority: HashMap<String, i32>,
    pub workspace: WorkspaceId,
    /// Memory for new leads held before they are written (encoded, a few
    /// hundred bytes each): a row merging into a held lead changes it in
    /// memory, where one merging into a written lead costs a read and a
    /// rewrite. Once it is full the oldest held leads are written.
    pub staging_bytes: usize,
}

/// The summary `--json` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportSummary {
    pub rows_read: u64,
    pub inserted: u64,
    pub merged: u64,
    pub rejected: u64,
    pub rejects_file: Option<PathBuf>,
    pub elapsed_ms: u64,
    pub batch_id: i64,
    pub preset: Option<&'static str>,
    pub encoding: &'static str,
}

/// Progress after each chunk, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct ImportProgress {
    pub rows_read: u64,
    pub bytes_read: u64,
    pub total_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Source(#[from] CsvSourceError),
    #[error("{path}: {source}")]
    Mapping {
        path: PathBuf,
        source: leadgen_core::mapping::MappingError,
    },
    #[error(transparent)]
    Rejects(#[from] RejectsError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error(
        "{path}: reading stopped on an internal error ({what}); nothing was imported — please report this with the file"
    )]
    ParserPanicked { path: PathBuf, what: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A chunk of parsed rows, in file order. Row `i` is `leads[i]`, for
/// merging into another lead; `encoded[i]`, the same lead encoded for
/// storing as a new one (the parser's core encodes it, off the writer's);
/// and `keys[i]`, its identity keys as stored, in match order (see
/// `KeyHashes::stored`).
struct Chunk {
    leads: Vec<Lead>,
    encoded: Vec<LeadRow>,
    keys: Vec<[Option<i64>; 3]>,
    records: Option<RecordChunk>,
    /// Rows refused, for the rejects file: line, reason, cells.
    rejects: Vec<(u64, String, Vec<String>)>,
    rows_read: u64,
    bytes_read: u64,
}

/// Rows as read, waiting for a parser. `rows[..used]` are this batch's; the
/// vector goes back to the reader afterwards, so row buffers are reused.
struct RawBatch {
    seq: u64,
    rows: Vec<RawRow>,
    used: usize,
    /// Rows the CSV reader already refused, by index into `rows`.
    bad: Vec<(usize, crate::csv_source::RowError)>,
    bytes_read: u64,
}

/// Batches a parser may hold or have finished before the writer takes them:
/// bounds the memory of rows read ahead.
const IN_FLIGHT: usize = 8;

/// The mapping an import would use, for `--dry-run` style previews.
pub fn preview_mapping(
    path: &Path,
    overrides: &[(Field, String)],
) -> Result<ColumnMapping, ImportError> {
    let source = CsvSource::open(path)?;
    map_columns(&source, overrides)
}

fn map_columns(
    source: &CsvSource,
    overrides: &[(Field, String)],
) -> Result<ColumnMapping, ImportError> {
    let headers: Vec<&str> = source.headers().iter().map(String::as_str).collect();
    auto_map(&headers, overrides).map_err(|e| ImportError::Mapping {
        path: source.path().to_path_buf(),
        source: e,
    })
}

/// Identity of an import: the file's bytes and every option that changes how
/// they are read. The same file imported the same way is the same batch.
fn content_hash(opts: &ImportOptions) -> Result<String, ImportError> {
    let read_err = |source| ImportError::Read {
        path: opts.path.clone(),
        source,
    };
    let mut file = std::fs::File::open(&opts.path).map_err(read_err)?;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(read_err)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let options = format!(
        "{:?}|{:?}|{}|{}",
        opts.overrides,
        opts.tags,
        opts.source,
        opts.default_country.as_str()
    );
    h.update(options.as_bytes());
    Ok(format!("xxh3:{:032x}", h.digest128()))
}

impl Cells for RawRow {
    fn cell(&self, col: usize) -> &str {
        self.get(col)
    }
}

/// Imports one CSV file. Bad rows go to the rejects file; nothing aborts the
/// import but an unreadable file or a store failure, which roll it back.
pub fn import_csv(
    store: &dyn Store,
    opts: &ImportOptions,
    progress: &(dyn Fn(ImportProgress) + Sync),
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let mut source = CsvSource::open(&opts.path)?;
    let mapping = map_columns(&source, &opts.overrides)?;
    let total_bytes = std::fs::metadata(&opts.path).map(|m| m.len()).unwrap_or(0);
    let meta = BatchMeta {
        kind: "csv".into(),
        name: opts
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        source: opts.source.clone(),
        content_hash: content_hash(opts)?,
        headers: source.headers().to_vec(),
    };
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "hashed the file");
    let mut tx = store.begin_ingest(opts.workspace, &meta, now_ms())?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "transaction open"
    );
    let (batch_id, observed_at) = (tx.batch().id, tx.batch().started_at);
    let ws = opts.workspace;
    let parser = RowParser::new(
        mapping.clone(),
        opts.default_country,
        &opts.source,
        opts.tags.clone(),
        opts.rules.clone(),
    );
    let mut rejects = RejectsWriter::new(&opts.path, source.headers())?;
    let encoding = source.encoding();

    let parsers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let (raw_tx, raw_rx) = crossbeam_channel::bounded::<RawBatch>(parsers);
    let (recycle_tx, recycle_rx) = crossbeam_channel::unbounded::<Vec<RawRow>>();
    // Emptied lead vectors and record buffers back from the writer: a
    // chunk's 4,096 leads take some 4 MB and its raw records 1 MB, which
    // fresh from the allocator are fresh pages for the kernel to zero,
    // chunk after chunk.
    let (spent_tx, spent_rx) = spent();
    let (chunk_tx, chunk_rx) = crossbeam_channel::unbounded::<(u64, Result<Chunk, ImportError>)>();
    // One token per batch in flight: the reader takes one before reading a
    // batch, the writer gives it back once the batch is written.
    let (token_tx, token_rx) = crossbeam_channel::bounded::<()>(IN_FLIGHT);
    for _ in 0..IN_FLIGHT {
        let _ = token_tx.send(());
    }
    let mut counts = BatchCounts::default();
    std::thread::scope(|scope| {
        let mut threads = Vec::with_capacity(parsers + 1);
        let reader_out = chunk_tx.clone();
        threads.push(
            std::thread::Builder::new()
                .name("leadgen-read".into())
                .spawn_scoped(scope, move || {
                    if let Err((seq, e)) =
                        read_batches(&mut source, &raw_tx, &recycle_rx, &token_rx)
                    {
                        let _ = reader_out.send((seq, Err(e)));
                    }
                }),
        );
        for _ in 0..parsers {
            let (raw_rx, recycle_tx, out) = (raw_rx.clone(), recycle_tx.clone(), chunk_tx.clone());
            let spent = spent_rx.clone();
            let parser = &parser;
            threads.push(
                std::thread::Builder::new()
                    .name("leadgen-parse".into())
                    .spawn_scoped(scope, move || {
                        // This thread's raw-record text, packed into a
                        // spent chunk's buffer.
                        let mut text = Vec::new();
                        for batch in raw_rx {
                            let leads = spent
                                .leads
                                .try_recv()
                                .unwrap_or_else(|_| Vec::with_capacity(batch.used));
                            let packed = spent.packed.try_recv().unwrap_or_default();
                            let chunk = parse_batch(
                                &batch,
                                Spent { leads, packed },
                                &mut text,
                                parser,
                                ws,
                                batch_id,
                                observed_at,
                            );
                            let _ = recycle_tx.send(batch.rows);
                            if out.send((batch.seq, Ok(chunk))).is_err() {
                                return;
                            }
                        }
                    }),
            );
        }
        // The writer's channel closes once every thread is done with it.
        drop((chunk_tx, raw_rx, recycle_tx, spent_rx));
        let spawned: Result<Vec<_>, _> = threads.into_iter().collect();
        let consumed = match &spawned {
            Ok(_) => consume(
                &mut *tx,
                opts,
                &chunk_rx,
                &token_tx,
                &spent_tx,
                &mut rejects,
                &mut counts,
                total_bytes,
                progress,
            ),
            Err(e) => Err(ImportError::Read {
                path: opts.path.clone(),
                source: std::io::Error::new(e.kind(), e.to_string()),
            }),
        };
        // Unblock the reader and parsers if the writer stopped early.
        drop((chunk_rx, token_tx));
        // A panic in a reading or parsing thread is a bug; the rows it never
        // sent must not be committed as if the file had ended there.
        for handle in spawned.into_iter().flatten() {
            if let Err(panic) = handle.join() {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                return Err(ImportError::ParserPanicked {
                    path: opts.path.clone(),
                    what,
                });
            }
        }
        consumed
    })?;
    let rejects_file = rejects.finish()?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "rows written");
    tx.commit(counts, now_ms())?;
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "committed");
    Ok(ImportSummary {
        rows_read: counts.rows_read,
        inserted: counts.inserted,
        merged: counts.merged,
        rejected: counts.rejected,
        rejects_file,
        elapsed_ms: started.elapsed().as_millis() as u64,
        batch_id,
        preset: mapping.preset(),
        encoding,
    })
}

/// The reader: splits the file into batches of rows for the parsers, in
/// order, each tagged with its place. A fatal read error ends the import;
/// it comes back with the place it would have had.
fn read_batches(
    source: &mut CsvSource,
    out: &crossbeam_channel::Sender<RawBatch>,
    recycled: &crossbeam_channel::Receiver<Vec<RawRow>>,
    tokens: &crossbeam_channel::Receiver<()>,
) -> Result<(), (u64, ImportError)> {
    for seq in 0.. {
        // No token: the writer has stopped.
        if tokens.recv().is_err() {
            return Ok(());
        }
        let mut batch = RawBatch {
            seq,
            rows: recycled
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(CHUNK_ROWS)),
            used: 0,
            bad: Vec::new(),
            bytes_read: 0,
        };
        let mut eof = false;
        while batch.used < CHUNK_ROWS {
            if batch.used == batch.rows.len() {
                batch.rows.push(RawRow::new());
            }
            match source.read_row(&mut batch.rows[batch.used]) {
                Ok(false) => {
                    eof = true;
                    break;
                }
                Ok(true) => batch.used += 1,
                Err(ReadError::Row(e)) => {
                    batch.bad.push((batch.used, e));
                    batch.used += 1;
                }
                Err(ReadError::Fatal(e)) => return Err((seq, e.into())),
            }
        }
        batch.bytes_read = source.bytes_read();
        if (batch.used > 0 && out.send(batch).is_err()) || eof {
            return Ok(());
        }
    }
    Ok(())
}

/// The buffers of chunks written, on their way from the writer back to the
/// parsers for reuse: lead vectors (emptied) and packed raw records.
#[derive(Clone)]
struct Spent<L, T> {
    leads: L,
    packed: T,
}

type SpentTx = Spent<crossbeam_channel::Sender<Vec<Lead>>, crossbeam_channel::Sender<Vec<u8>>>;
type SpentRx = Spent<crossbeam_channel::Receiver<Vec<Lead>>, crossbeam_channel::Receiver<Vec<u8>>>;

fn spent() -> (SpentTx, SpentRx) {
    let (leads_tx, leads_rx) = crossbeam_channel::unbounded();
    let (packed_tx, packed_rx) = crossbeam_channel::unbounded();
    (
        Spent {
            leads: leads_tx,
            packed: packed_tx,
        },
        Spent {
            leads: leads_rx,
            packed: packed_rx,
        },
    )
}

/// A parser: parse, normalize, key; set aside what cannot be used. The
/// chunk's leads and packed raw records go into `buffers` (spent ones, if
/// any); the records are written as text into `text` first.
fn parse_batch(
    batch: &RawBatch,
    buffers: Spent<Vec<Lead>, Vec<u8>>,
    text: &mut Vec<u8>,
    parser: &RowParser,
    ws: WorkspaceId,
    batch_id: i64,
    observed_at: i64,
) -> Chunk {
    let rows = &batch.rows[..batch.used];
    let mut chunk = Chunk {
        leads: buffers.leads,
        encoded: Vec::with_capacity(rows.len()),
        keys: Vec::with_capacity(rows.len()),
        records: None,
        rejects: Vec::new(),
        rows_read: rows.len() as u64,
        bytes_read: batch.bytes_read,
    };
    // Room for the rows as CSV text: their cells, a separator each, the
    // line number, and an eighth more for quoting.
    let room: usize = rows.iter().map(|r| r.data_len() + r.len() + 12).sum();
    let mut records = RecordChunkWriter::with_buffer(std::mem::take(text), room + room / 8);
    let mut bad = batch.bad.iter().peekable();
    let mut key_buf = String::new();
    let lossy = |row: &RawRow| row.lossy_cells().map(|c| c.into_owned()).collect();
    for (i, row) in rows.iter().enumerate() {
        if let Some((_, e)) = bad.next_if(|(at, _)| *at == i) {
            chunk.rejects.push((e.line, e.reason(), lossy(row)));
            continue;
        }
        let origin = SourceRef {
            at: observed_at,
            record: RecordId::new(batch_id, row.line()),
        };
        match parser.parse(row, origin) {
            Ok(lead) => {
                records.push(row.line(), row.raw_cells());
                chunk
                    .keys
                    .push(KeyHashes::of(&lead, &mut key_buf).stored(ws));
                chunk.encoded.push(LeadRow::encode(&lead));
                chunk.leads.push(lead);
            }
            Err(reason) => chunk
                .rejects
                .push((row.line(), reason.to_string(), lossy(row))),
        }
    }
    (chunk.records, *text) = records.finish_into(buffers.packed);
    chunk
}

/// The parsers' whole stage over `rows` (parse, normalize, key, encode,
/// keep the raw record), as an import runs it: for benchmarks. Returns the
/// rows accepted.
#[doc(hidden)]
pub fn parse_stage(rows: Vec<RawRow>, parser: &RowParser) -> (usize, Vec<RawRow>) {
    let batch = RawBatch {
        seq: 0,
        used: rows.len(),
        rows,
        bad: Vec::new(),
        bytes_read: 0,
    };
    // Buffers as a parser thread's first batch has them.
    let buffers = Spent {
        leads: Vec::with_capacity(batch.used),
        packed: Vec::new(),
    };
    let chunk = parse_batch(&batch, buffers, &mut Vec::new(), parser, 1, 1, 1);
    (chunk.leads.len(), batch.rows)
}

/// What a parsed row will do to the store.
enum Action {
    Insert(LeadId),
    Merge(LeadId),
}

/// Merge priority by the source of the batch a record belongs to.
struct BatchPriority(HashMap<i64, i32>);

impl SourcePriority for BatchPriority {
    fn of_record(&self, record: RecordId) -> i32 {
        self.0.get(&record.batch()).copied().unwrap_or(0)
    }
}

/// A hasher for keys that are already hashes (see `dedupe::key_hash`).
#[derive(Default, Clone, Copy)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type KeyMap = HashMap<u64, LeadId, BuildHasherDefault<PreHashed>>;

/// Identity keys of every lead in the workspace (as stored 64-bit keys).
struct Resolver {
    keys: KeyMap,
    /// Keys first seen in this import, written at the end in key order.
    new_keys: Vec<(i64, LeadId)>,
    next_id: LeadId,
    id_end: LeadId,
}

impl Resolver {
    /// The lead a row belongs to: by email, else LinkedIn, else name+domain.
    fn find(&self, stored: &[Option<i64>; 3]) -> Option<LeadId> {
        stored
            .iter()
            .flatten()
            .find_map(|k| self.keys.get(&(*k as u64)).copied())
    }

    fn register(&mut self, stored: &[Option<i64>; 3], id: LeadId) {
        for k in stored.iter().flatten() {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.keys.entry(*k as u64) {
                slot.insert(id);
                self.new_keys.push((*k, id));
            }
        }
    }

    /// The id the next `allocate` returns, reserving a block if needed.
    /// Reserved blocks only grow, so every id allocated from now on is at
    /// least this one.
    fn peek_next_id(&mut self, tx: &mut dyn IngestTx) -> Result<LeadId, StoreError> {
        if self.next_id >= self.id_end {
            self.next_id = tx.reserve_lead_ids(CHUNK_ROWS as u64)?;
            self.id_end = self.next_id + CHUNK_ROWS as LeadId;
        }
        Ok(self.next_id)
    }

    /// Room for the keys of `rows` more rows.
    fn reserve(&mut self, rows: usize) {
        self.keys.reserve(rows * KEYS_PER_ROW);
        self.new_keys.reserve(rows * KEYS_PER_ROW);
    }

    fn allocate(&mut self, tx: &mut dyn IngestTx) -> Result<LeadId, StoreError> {
        let id = self.peek_next_id(tx)?;
        self.next_id += 1;
        Ok(id)
    }
}

/// The parsers' chunks in file order: each as soon as it and every chunk
/// before it have arrived. Ends with an error if the channel closes with a
/// chunk missing (a thread that sends chunks stopped without its error).
struct InOrder<'a> {
    chunks: &'a crossbeam_channel::Receiver<(u64, Result<Chunk, ImportError>)>,
    held: std::collections::BTreeMap<u64, Chunk>,
    next: u64,
    path: &'a Path,
}

impl Iterator for InOrder<'_> {
    type Item = Result<Chunk, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(chunk) = self.held.remove(&self.next) {
                self.next += 1;
                return Some(Ok(chunk));
            }
            match self.chunks.recv() {
                Ok((_, Err(e))) => return Some(Err(e)),
                Ok((seq, Ok(chunk))) => {
                    self.held.insert(seq, chunk);
                }
                Err(_) if self.held.is_empty() => return None,
                Err(_) => {
                    return Some(Err(ImportError::ParserPanicked {
                        path: self.path.to_path_buf(),
                        what: format!("rows from batch {} on never arrived", self.next),
                    }));
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn consume(
    tx: &mut dyn IngestTx,
    opts: &ImportOptions,
    chunks: &crossbeam_channel::Receiver<(u64, Result<Chunk, ImportError>)>,
    tokens: &crossbeam_channel::Sender<()>,
    spent: &SpentTx,
    rejects: &mut RejectsWriter,
    counts: &mut BatchCounts,
    total_bytes: u64,
    progress: &(dyn Fn(ImportProgress) + Sync),
) -> Result<(), ImportError> {
    let chunks = InOrder {
        chunks,
        held: Default::default(),
        next: 0,
        path: &opts.path,
    };
    let priority = BatchPriority(
        tx.batch_sources()?
            .into_iter()
            .map(|(id, src)| (id, opts.source_priority.get(&src).copied().unwrap_or(0)))
            .collect(),
    );
    let stored = tx.load_keys()?;
    tracing::debug!(keys = stored.len(), "loaded identity keys");
    let mut r = Resolver {
        keys: KeyMap::with_capacity_and_hasher(stored.len() * 2 + CHUNK_ROWS, Default::default()),
        new_keys: Vec::new(),
        next_id: 0,
        id_end: 0,
    };
    for (key, id) in stored {
        r.keys.insert(key as u64, id);
    }

    let mut actions: Vec<Action> = Vec::with_capacity(CHUNK_ROWS);
    let mut staged = Staged::default();
    let freer = Freer::start();
    let flush =
        |tx: &mut dyn IngestTx, pending: &mut Vec<(LeadId, Lead)>, t_fetch: &mut Duration| {
            apply_pending(tx, pending, &priority, &opts.rules, t_fetch, &freer)
        };
    // Rows merging into leads written before, in file order.
    let mut pending: Vec<(LeadId, Lead)> = Vec::new();
    // Where the writer's time goes, for `LEADGEN_LOG=debug`.
    let mut t_wait = Duration::ZERO;
    let mut t_resolve = Duration::ZERO;
    let mut t_fetch = Duration::ZERO;
    let mut t_insert = Duration::ZERO;
    let mut t_records = Duration::ZERO;
    let mut t_flush = Duration::ZERO;
    let mut clock = Instant::now();
    let mut lap = |acc: &mut Duration| {
        let now = Instant::now();
        *acc += now - clock;
        clock = now;
    };
    for chunk in chunks {
        lap(&mut t_wait);
        let chunk = chunk?;
        if counts.rows_read == 0 && chunk.bytes_read > 0 {
            // Room for the whole file's rows at once, as the first chunk
            // predicts: grown step by step, the key map and lists copy
            // themselves into fresh memory again and again.
            let rows = total_bytes.saturating_mul(chunk.rows_read) / chunk.bytes_read;
            let rows = usize::try_from(rows)
                .unwrap_or(usize::MAX)
                .min(RESERVE_ROWS);
            r.reserve(rows);
            staged.reserve(rows);
        }
        counts.rows_read += chunk.rows_read;
        counts.rejected += chunk.rejects.len() as u64;
        for (line, reason, cells) in &chunk.rejects {
            rejects.write(*line, reason, cells)?;
        }
        actions.clear();

        // Pass 1: who is who. New leads get ids now, so later rows of the
        // same chunk find them.
        let Chunk {
            mut leads,
            mut encoded,
            keys,
            records,
            ..
        } = chunk;
        for stored in &keys {
            match r.find(stored) {
                Some(id) => {
                    r.register(stored, id);
                    actions.push(Action::Merge(id));
                }
                None => {
                    let id = r.allocate(tx)?;
                    r.register(stored, id);
                    actions.push(Action::Insert(id));
                }
            }
        }
        // Pass 2: apply in file order. New leads are held in id order; a
        // row merging into a lead written before waits in `pending`.
        for ((mut row, action), lead) in encoded.drain(..).zip(actions.drain(..)).zip(&mut leads) {
            match action {
                Action::Insert(id) => {
                    row.set_id(id);
                    staged.push(row);
                    counts.inserted += 1;
                }
                Action::Merge(id) => {
                    counts.merged += 1;
                    match staged.position(id) {
                        Some(pos) => {
                            let mut target = staged.rows[pos].decode()?;
                            if merge_into(&mut target, lead, &priority).changed() {
                                opts.rules.apply(&mut target);
                                staged.replace(pos, LeadRow::encode(&target));
                            }
                        }
                        None => {
                            // The lead waits in `pending`; an empty one
                            // (no heap memory) keeps its place in `leads`.
                            let empty = SourceRef {
                                at: 0,
                                record: RecordId(0),
                            };
                            pending.push((id, std::mem::replace(lead, Lead::empty("", empty))));
                        }
                    }
                }
            }
        }
        // Freed on the helper thread, then back to the parsers for reuse.
        let back = spent.leads.clone();
        freer.run(move || {
            leads.clear();
            let _ = back.send(leads);
        });
        freer.discard(encoded);
        lap(&mut t_resolve);
        if staged.bytes > opts.staging_bytes {
            let oldest = staged.take_oldest(staged.bytes - opts.staging_bytes / 4 * 3);
            tx.insert_rows(&oldest)?;
            freer.discard(oldest);
        }
        lap(&mut t_insert);
        if let Some(records) = records {
            tx.store_records(&records)?;
            let _ = spent.packed.send(records.packed);
        }
        lap(&mut t_records);
        if pending.len() >= PENDING_FLUSH {
            lap(&mut t_flush);
            flush(tx, &mut pending, &mut t_fetch)?;
        }
        // The reader may read another batch.
        let _ = tokens.send(());
        progress(ImportProgress {
            rows_read: counts.rows_read,
            bytes_read: chunk.bytes_read,
            total_bytes,
        });
        lap(&mut t_flush);
    }
    lap(&mut t_flush);
    // The new keys are sorted on another core while this one writes the
    // held leads (the parsers are done by now).
    let sorted = std::thread::scope(|scope| -> Result<bool, ImportError> {
        let keys = &mut r.new_keys;
        let sorter = std::thread::Builder::new()
            .name("leadgen-sort".into())
            .spawn_scoped(scope, move || keys.sort_unstable());
        let rest = staged.take_oldest(usize::MAX);
        tx.insert_rows(&rest)?;
        freer.discard(rest);
        lap(&mut t_insert);
        flush(tx, &mut pending, &mut t_fetch)?;
        lap(&mut t_flush);
        Ok(sorter.is_ok_and(|sorter| sorter.join().is_ok()))
    })?;
    if !sorted {
        // The thread could not start: sort here.
        r.new_keys.sort_unstable();
    }
    tx.insert_keys(&r.new_keys)?;
    let mut t_keys = Duration::ZERO;
    lap(&mut t_keys);
    tracing::debug!(
        ?t_wait,
        ?t_resolve,
        ?t_fetch,
        ?t_insert,
        ?t_records,
        ?t_flush,
        ?t_keys,
        "writer time"
    );
    Ok(())
}

/// New leads not written yet, encoded, in id order (ids are allocated in
/// increasing order, so pushing keeps the order).
#[derive(Default)]
struct Staged {
    rows: std::collections::VecDeque<LeadRow>,
    /// The rows' ids, searched without touching the rows themselves.
    ids: std::collections::VecDeque<LeadId>,
    /// Heap bytes held, with each row's own overhead.
    bytes: usize,
}

impl Staged {
    /// Bookkeeping of a row beside its bytes: the box and its allocation.
    const ROW_OVERHEAD: usize = 32;

    fn reserve(&mut self, rows: usize) {
        self.rows.reserve(rows);
        self.ids.reserve(rows);
    }

    fn push(&mut self, row: LeadRow) {
        self.bytes += row.size() + Self::ROW_OVERHEAD;
        self.ids.push_back(row.id());
        self.rows.push_back(row);
    }

    /// Where the held lead `id` is, if it is held.
    fn position(&self, id: LeadId) -> Option<usize> {
        // Ids are allocated in blocks, so they are nearly always consecutive:
        // try the place that assumes so before searching.
        let front = *self.ids.front()?;
        let guess = usize::try_from(id.checked_sub(front)?).ok()?;
        if self.ids.get(guess) == Some(&id) {
            Some(guess)
        } else {
            self.ids.binary_search(&id).ok()
        }
    }

    /// Replaces the lead held at `pos` with `row`, which keeps its id.
    fn replace(&mut self, pos: usize, row: LeadRow) {
        let held = &mut self.rows[pos];
        self.bytes = self.bytes + row.size() - held.size();
        *held = row;
    }

    /// The oldest rows, at least `bytes` of them (all when `bytes` is more
    /// than is held), in id order.
    fn take_oldest(&mut self, bytes: usize) -> Vec<LeadRow> {
        let mut taken = 0;
        let mut n = 0;
        for row in &self.rows {
            if taken >= bytes {
                break;
            }
            taken += row.size() + Self::ROW_OVERHEAD;
            n += 1;
        }
        self.bytes -= taken;
        self.ids.drain(..n);
        self.rows.drain(..n).collect()
    }
}

/// Merges the held rows into their leads: each lead is read once (in id
/// order, which walks the table forwards), takes its rows in file order,
/// and is written back once if anything changed.
fn apply_pending(
    tx: &mut dyn IngestTx,
    pending: &mut Vec<(LeadId, Lead)>,
    priority: &dyn SourcePriority,
    rules: &ScoringRules,
    t_fetch: &mut Duration,
    freer: &Freer,
) -> Result<(), ImportError> {
    if pending.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let mut ids: Vec<LeadId> = pending.iter().map(|(id, _)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut targets: Vec<(Lead, bool)> = tx
        .get_leads(&ids)?
        .into_iter()
        .map(|l| (l, false))
        .collect();
    targets.sort_unstable_by_key(|(l, _)| l.id);
    *t_fetch += started.elapsed();
    for (id, row) in pending.drain(..) {
        let Ok(pos) = targets.binary_search_by_key(&id, |(l, _)| l.id) else {
            return Err(
                StoreError::Corrupt(format!("lead {id} has identity keys but no row")).into(),
            );
        };
        let (target, changed) = &mut targets[pos];
        if merge_into(target, &row, priority).changed() {
            rules.apply(target);
            *changed = true;
        }
    }
    let changed: Vec<Lead> = targets
        .into_iter()
        .filter_map(|(l, changed)| changed.then_some(l))
        .collect();
    tx.update_leads(&changed)?;
    freer.discard(changed);
    Ok(())
}

/// Frees what the writer is done with on a helper thread: a chunk's 4,096
/// leads hold some 60K heap strings, and freeing them took the writer (the
/// import's bottleneck) about a second per million rows while the parsers'
/// core had time to spare.
struct Freer {
    work: Option<crossbeam_channel::Sender<Box<dyn FnOnce() + Send>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Freer {
    fn start() -> Freer {
        let (work_tx, work_rx) = crossbeam_channel::bounded::<Box<dyn FnOnce() + Send>>(4);
        // Without the thread (spawn failed), sends fail and the caller's
        // thread does the work itself.
        let thread = std::thread::Builder::new()
            .name("leadgen-free".into())
            .spawn(move || {
                for work in work_rx {
                    work();
                }
            })
            .ok();
        Freer {
            work: thread.is_some().then_some(work_tx),
            thread,
        }
    }

    /// Runs `work` (which frees something) on the helper thread.
    fn run(&self, work: impl FnOnce() + Send + 'static) {
        match &self.work {
            Some(tx) => {
                if let Err(failed) = tx.send(Box::new(work)) {
                    (failed.into_inner())();
                }
            }
            None => work(),
        }
    }

    /// Hands `waste` over to be freed.
    fn discard<T: Send + 'static>(&self, waste: T) {
        self.run(move || drop(waste));
    }
}

impl Drop for Freer {
    fn drop(&mut self) {
        self.work = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: LeadId) -> LeadRow {
        let mut lead = Lead::empty(
            "csv_upload",
            SourceRef {
                at: 1,
                record: RecordId::new(1, 2),
            },
        );
        lead.id = id;
        LeadRow::encode(&lead)
    }

    #[test]
    fn held_leads_are_found_across_a_gap_in_their_ids_and_leave_oldest_first() {
        let mut staged = Staged::default();
        // Two blocks of ids with a gap between them, as two reservations
        // interleaved with another writer's would leave.
        for id in [10, 11, 12, 40, 41] {
            staged.push(row(id));
        }
        assert_eq!(staged.position(11), Some(1));
        assert_eq!(staged.position(40), Some(3));
        assert_eq!(staged.position(41), Some(4));
        assert_eq!(staged.position(13), None);
        assert_eq!(staged.position(9), None);

        let bigger = {
            let mut lead = row(40).decode().unwrap();
            lead.title = Some("Head of Operations".into());
            LeadRow::encode(&lead)
        };
        let before = staged.bytes;
        let growth = bigger.size() - staged.rows[3].size();
        staged.replace(3, bigger);
        assert_eq!(staged.bytes, before + growth);
        assert_eq!(staged.rows[3].id(), 40);

        let oldest = staged.take_oldest(1);
        assert_eq!(oldest.iter().map(LeadRow::id).collect::<Vec<_>>(), [10]);
        assert_eq!(staged.position(40), Some(2));
        let rest = staged.take_oldest(usize::MAX);
        assert_eq!(
            rest.iter().map(LeadRow::id).collect::<Vec<_>>(),
            [11, 12, 40, 41]
        );
        assert_eq!(staged.bytes, 0);
        assert_eq!(staged.position(41), None);
    }
}
