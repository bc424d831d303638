//! A lead as its column values in one compact buffer.
//!
//! An import holds the leads it has not written yet in this form: a few
//! hundred bytes in one allocation each, where a [`Lead`] with its strings
//! is a few dozen allocations and several times the memory. Rows are bound
//! to statements straight from the buffer, and decoded back into a `Lead`
//! only when another row merges into them.
//!
//! Layout: the lead id as 8 little-endian bytes, then every other value of
//! [`push_lead_values`] but the workspace (the transaction supplies it), each
//! a tag byte followed by a zigzag varint (integers) or a varint length and
//! the UTF-8 bytes (text).

use std::borrow::Cow;

use leadgen_core::{Lead, LeadId, WorkspaceId};

use crate::codec::{LEAD_VALUES as VALUES, RowGet, SqlValue, lead_from_row, lead_values};
use crate::{Result, StoreError};

const NULL: u8 = 0;
const INT: u8 = 1;
const TEXT: u8 = 2;

/// One lead's column values, as `push_lead_values` gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadRow {
    bytes: Box<[u8]>,
}

impl LeadRow {
    /// Encodes `lead`, keeping its id.
    pub fn encode(lead: &Lead) -> LeadRow {
        let values = lead_values(lead, 0);
        // The exact size, so that the buffer is boxed without a copy.
        let size: usize = values[2..]
            .iter()
            .map(|v| match v {
                SqlValue::Null => 1,
                SqlValue::Int(n) => 1 + varint_len(zigzag(*n)),
                SqlValue::Text(s) => 1 + varint_len(s.len() as u64) + s.len(),
            })
            .sum();
        let mut bytes = Vec::with_capacity(size + 8);
        bytes.extend_from_slice(&lead.id.to_le_bytes());
        // The id is the fixed prefix; the workspace is not stored.
        for value in &values[2..] {
            match value {
                SqlValue::Null => bytes.push(NULL),
                SqlValue::Int(n) => {
                    bytes.push(INT);
                    push_varint(&mut bytes, zigzag(*n));
                }
                SqlValue::Text(s) => {
                    bytes.push(TEXT);
                    push_varint(&mut bytes, s.len() as u64);
                    bytes.extend_from_slice(s.as_bytes());
                }
            }
        }
        LeadRow {
            bytes: bytes.into_boxed_slice(),
        }
    }

    pub fn id(&self) -> LeadId {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.bytes[..8]);
        LeadId::from_le_bytes(id)
    }

    pub fn set_id(&mut self, id: LeadId) {
        self.bytes[..8].copy_from_slice(&id.to_le_bytes());
    }

    /// Heap bytes held, for memory budgets.
    pub fn size(&self) -> usize {
        self.bytes.len()
    }

    /// The column values in `LEAD_COLUMNS` order then `updated_at`, with
    /// `ws` as the workspace, borrowing text from the buffer.
    pub fn values(&self, ws: WorkspaceId) -> impl Iterator<Item = SqlValue<'_>> {
        let mut rest = Values {
            bytes: &self.bytes[8..],
        };
        [SqlValue::Int(self.id()), SqlValue::Int(ws)]
            .into_iter()
            .chain(std::iter::from_fn(move || rest.next_value()))
    }

    /// Appends all of [`LeadRow::values`] to `out`; an error (and `out`
    /// as it was) if the buffer does not hold them all.
    pub fn push_values<'a>(&'a self, out: &mut Vec<SqlValue<'a>>, ws: WorkspaceId) -> Result<()> {
        let start = out.len();
        out.extend(self.values(ws));
        let held = out.len() - start;
        if held != VALUES {
            out.truncate(start);
            return Err(StoreError::Corrupt(format!(
                "lead {}: an encoded row holds {held} values, not {VALUES}",
                self.id()
            )));
        }
        Ok(())
    }

    /// The lead again.
    pub fn decode(&self) -> Result<Lead> {
        let mut values = Vec::with_capacity(VALUES);
        self.push_values(&mut values, 0)?;
        lead_from_row(&ValueRow(&values))
    }
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

/// Bytes `push_varint` writes for `n`.
fn varint_len(n: u64) -> usize {
    (64 - n.leading_zeros() as usize).max(1).div_ceil(7)
}

fn push_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads the values after the id; ends early on bytes it cannot read.
struct Values<'a> {
    bytes: &'a [u8],
}

impl<'a> Values<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut n = 0u64;
        for (i, b) in self.bytes.iter().enumerate().take(10) {
            n |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                self.bytes = &self.bytes[i + 1..];
                return Some(n);
            }
        }
        None
    }

    fn next_value(&mut self) -> Option<SqlValue<'a>> {
        let (&tag, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        match tag {
            NULL => Some(SqlValue::Null),
            INT => {
                let z = self.varint()?;
                Some(SqlValue::Int(((z >> 1) as i64) ^ -((z & 1) as i64)))
            }
            TEXT => {
                let len = usize::try_from(self.varint()?).ok()?;
                if len > self.bytes.len() {
                    return None;
                }
                let (text, rest) = self.bytes.split_at(len);
                self.bytes = rest;
                // SAFETY: `LeadRow::encode` is the only writer of the buffer
                // (truncating it is the only other change, in tests), and
                // it writes each text as its length then the bytes of a
                // `str`. Reading the values in the order written, with the
                // length checked above, slices out exactly such a `str`.
                let text = unsafe { std::str::from_utf8_unchecked(text) };
                Some(SqlValue::Text(Cow::Borrowed(text)))
            }
            _ => None,
        }
    }
}

/// Decoded values read as a result row.
struct ValueRow<'a>(&'a [SqlValue<'a>]);

impl RowGet for ValueRow<'_> {
    fn text(&self, idx: usize) -> Result<Option<String>> {
        match self.0.get(idx) {
            Some(SqlValue::Text(s)) => Ok(Some(s.to_string())),
            Some(SqlValue::Null) => Ok(None),
            other => Err(StoreError::Corrupt(format!(
                "encoded lead value {idx} is {other:?}, not text"
            ))),
        }
    }

    fn int(&self, idx: usize) -> Result<Option<i64>> {
        match self.0.get(idx) {
            Some(SqlValue::Int(n)) => Ok(Some(*n)),
            Some(SqlValue::Null) => Ok(None),
            other => Err(StoreError::Corrupt(format!(
                "encoded lead value {idx} is {other:?}, not an integer"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadgen_core::lead::{IntentLevel, Tier};
    use leadgen_core::{RecordId, SourceRef};
    use proptest::prelude::*;

    fn lead_values(lead: &Lead, ws: WorkspaceId) -> Vec<SqlValue<'_>> {
        let mut out = Vec::new();
        crate::codec::push_lead_values(&mut out, lead, ws);
        out
    }

    fn lead(id: LeadId, email: &str, first: &str, tags: Vec<String>, revenue: Option<u64>) -> Lead {
        let origin = SourceRef {
            at: 1_700_000_000_000,
            record: RecordId::new(3, 17),
        };
        let mut l = Lead::empty("csv_upload", origin);
        l.id = id;
        l.email = leadgen_core::email::Email::parse(email).ok();
        l.first_name = (!first.is_empty()).then(|| first.to_owned());
        l.tags = tags;
        l.revenue = revenue;
        l.custom = vec![("Notes".into(), "line one\nline \"two\"".into())];
        l.score = 73;
        l.tier = Tier::B;
        l.intent = IntentLevel::Warm;
        // The store keeps one time for both: the origin is when it was created.
        l.created_at = 1_700_000_000_000;
        l.updated_at = i64::MAX;
        l
    }

    #[test]
    fn values_are_the_codecs_values_and_decode_gives_the_lead_back() {
        let l = lead(
            42,
            "Ana.Lopez+x@Example.com",
            "Ana",
            vec!["q4".into(), "ñandú".into()],
            Some(12_000_000),
        );
        let row = LeadRow::encode(&l);
        assert_eq!(row.id(), 42);
        let values: Vec<SqlValue<'_>> = row.values(9).collect();
        assert_eq!(values, lead_values(&l, 9));
        assert_eq!(row.decode().unwrap(), l);
    }

    #[test]
    fn set_id_changes_only_the_id() {
        let l = lead(0, "a@b.co", "", Vec::new(), None);
        let mut row = LeadRow::encode(&l);
        row.set_id(1 << 40);
        let back = row.decode().unwrap();
        assert_eq!(back.id, 1 << 40);
        assert_eq!(Lead { id: 0, ..back }, l);
    }

    #[test]
    fn a_damaged_buffer_is_an_error_not_a_panic() {
        let row = LeadRow::encode(&lead(1, "a@b.co", "Bo", Vec::new(), None));
        for cut in [8, 9, row.bytes.len() / 2, row.bytes.len() - 1] {
            let short = LeadRow {
                bytes: row.bytes[..cut].into(),
            };
            assert!(short.decode().is_err(), "cut at {cut}");
        }
    }

    proptest! {
        #[test]
        fn any_text_and_numbers_round_trip(
            first in ".{0,40}",
            tags in proptest::collection::vec(".{1,12}", 0..4),
            revenue in proptest::option::of(0u64..=i64::MAX as u64),
            id in any::<i64>(),
        ) {
            let l = lead(id, "someone@example.org", &first, tags, revenue);
            let row = LeadRow::encode(&l);
            prop_assert_eq!(row.values(1).collect::<Vec<_>>(), lead_values(&l, 1));
            prop_assert_eq!(row.decode().unwrap(), l);
        }

        #[test]
        fn varint_len_is_what_push_varint_writes(n in any::<u64>(), shift in 0u32..64) {
            for n in [n, n >> shift, 0, 127, 128, u64::MAX] {
                let mut out = Vec::new();
                push_varint(&mut out, n);
                prop_assert_eq!(varint_len(n), out.len(), "{}", n);
            }
        }
    }
}
