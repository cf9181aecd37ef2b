//! Typed tables over the byte-level [`Storage`](crate::Storage): order-preserving key encoding
//! and the versioned value format.
//!
//! Keys are tuples of segments. Each segment is self-delimiting and sorts like its value:
//! strings are escaped (`0x00` → `0x00 0xFF`) and terminated by `0x00 0x01`; integers are
//! big-endian; ids are their 16 raw bytes. So a tuple's encoding sorts like the tuple, and the
//! encoding of a prefix of a tuple is a byte prefix of the whole — range scans by prefix work.
//!
//! Values are one format byte followed by the body: `1` = JSON (most tables: self-describing and
//! readable by a human), `2` = postcard (compact binary, for the high-volume usage tables; see
//! [`Table::compact`]). Every table reads both, so a table can move to the compact format
//! without rewriting its old rows. A reader refuses a format newer than it knows, instead of
//! misreading it.

use std::marker::PhantomData;
use std::ops::Bound;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::storage::{Entry, ReadTxn, TableName, WriteTxn};

/// Value format byte: JSON.
pub const VALUE_FORMAT_JSON: u8 = 1;
/// Value format byte: postcard, a compact binary serde format. Types stored this way serialize
/// compactly when the serializer is not human-readable (ids as 16 bytes, costs as integers,
/// timestamps as seconds + nanoseconds) and never skip fields; enum variants are stored by
/// position, so they are only ever appended.
pub const VALUE_FORMAT_COMPACT: u8 = 2;
/// The newest value format this build reads (and writes).
pub const VALUE_FORMAT_VERSION: u8 = VALUE_FORMAT_COMPACT;

/// One segment of a key.
pub trait KeyPart {
    /// Appends this segment's order-preserving encoding to `out`.
    fn encode_key(&self, out: &mut Vec<u8>);
}

impl KeyPart for str {
    fn encode_key(&self, out: &mut Vec<u8>) {
        for &b in self.as_bytes() {
            out.push(b);
            if b == 0 {
                out.push(0xFF);
            }
        }
        out.extend_from_slice(&[0x00, 0x01]);
    }
}

impl KeyPart for String {
    fn encode_key(&self, out: &mut Vec<u8>) {
        self.as_str().encode_key(out);
    }
}

impl KeyPart for u64 {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
}

impl KeyPart for [u8; 16] {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

impl KeyPart for [u8; 32] {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

/// 16 id bytes that sort in reverse: newest-first feeds over time-ordered ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reverse16(pub(crate) [u8; 16]);

impl KeyPart for Reverse16 {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend(self.0.iter().map(|b| !b));
    }
}

/// The empty prefix: scans a whole table.
impl KeyPart for () {
    fn encode_key(&self, _out: &mut Vec<u8>) {}
}

impl<T: KeyPart + ?Sized> KeyPart for &T {
    fn encode_key(&self, out: &mut Vec<u8>) {
        (**self).encode_key(out);
    }
}

macro_rules! tuple_key {
    ($($name:ident),+) => {
        impl<$($name: KeyPart),+> KeyPart for ($($name,)+) {
            #[allow(non_snake_case)]
            fn encode_key(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $($name.encode_key(out);)+
            }
        }
    };
}
tuple_key!(A);
tuple_key!(A, B);
tuple_key!(A, B, C);
tuple_key!(A, B, C, D);

/// A key segment that can be read back from its encoding: the fixed-width ids the data-plane
/// snapshot needs to recover from a written key (see [`Table::decode_key`]).
pub(crate) trait KeyDecode: KeyPart + Sized {
    /// Reads one segment from the front of `input`, advancing it; `None` if it does not fit.
    fn decode_key(input: &mut &[u8]) -> Option<Self>;
}

/// Takes the next 16 bytes of `input`.
pub(crate) fn take16(input: &mut &[u8]) -> Option<[u8; 16]> {
    let (head, rest) = input.split_first_chunk::<16>()?;
    *input = rest;
    Some(*head)
}

impl<A: KeyDecode, B: KeyDecode> KeyDecode for (A, B) {
    fn decode_key(input: &mut &[u8]) -> Option<Self> {
        Some((A::decode_key(input)?, B::decode_key(input)?))
    }
}

impl KeyDecode for String {
    fn decode_key(input: &mut &[u8]) -> Option<Self> {
        let mut out = Vec::new();
        let mut i = 0;
        loop {
            match (input.get(i)?, input.get(i + 1)) {
                (0, Some(0x01)) => break,
                (0, Some(0xFF)) => {
                    out.push(0);
                    i += 2;
                }
                (0, _) => return None,
                (&b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        *input = &input[i + 2..];
        String::from_utf8(out).ok()
    }
}

impl KeyDecode for u64 {
    fn decode_key(input: &mut &[u8]) -> Option<Self> {
        let (head, rest) = input.split_first_chunk::<8>()?;
        *input = rest;
        Some(u64::from_be_bytes(*head))
    }
}

impl<A: KeyDecode, B: KeyDecode, C: KeyDecode, D: KeyDecode> KeyDecode for (A, B, C, D) {
    fn decode_key(input: &mut &[u8]) -> Option<Self> {
        Some((
            A::decode_key(input)?,
            B::decode_key(input)?,
            C::decode_key(input)?,
            D::decode_key(input)?,
        ))
    }
}

/// A prefix of keys of type `K`: the empty prefix `()`, or a tuple of the first segments of
/// `K` with their own types (up to the whole key). A scan by a prefix of another table's key
/// type is a compile error, not an empty result.
pub trait KeyPrefix<K: ?Sized>: KeyPart {}

impl<K: ?Sized> KeyPrefix<K> for () {}
impl<A: KeyPart> KeyPrefix<A> for (A,) {}

impl<A> KeyPrefix<(A,)> for (A,) where (A,): KeyPart {}
impl<A, B> KeyPrefix<(A, B)> for (A,) where (A,): KeyPart {}
impl<A, B> KeyPrefix<(A, B)> for (A, B) where (A, B): KeyPart {}
impl<A, B, C> KeyPrefix<(A, B, C)> for (A,) where (A,): KeyPart {}
impl<A, B, C> KeyPrefix<(A, B, C)> for (A, B) where (A, B): KeyPart {}
impl<A, B, C> KeyPrefix<(A, B, C)> for (A, B, C) where (A, B, C): KeyPart {}
impl<A, B, C, D> KeyPrefix<(A, B, C, D)> for (A,) where (A,): KeyPart {}
impl<A, B, C, D> KeyPrefix<(A, B, C, D)> for (A, B) where (A, B): KeyPart {}
impl<A, B, C, D> KeyPrefix<(A, B, C, D)> for (A, B, C) where (A, B, C): KeyPart {}
impl<A, B, C, D> KeyPrefix<(A, B, C, D)> for (A, B, C, D) where (A, B, C, D): KeyPart {}

/// Encodes a key (or key prefix) to bytes.
pub fn encode_key(key: &impl KeyPart) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    key.encode_key(&mut out);
    out
}

/// The smallest byte string greater than every string that starts with `prefix`, or `None`
/// when there is none (all `0xFF`).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Encodes a value: format byte + JSON.
pub fn encode_value<V: Serialize>(value: &V) -> Result<Vec<u8>> {
    let mut out = vec![VALUE_FORMAT_JSON];
    serde_json::to_writer(&mut out, value).map_err(|e| Error::internal(format!("encode: {e}")))?;
    Ok(out)
}

/// Encodes a value: format byte + postcard.
pub fn encode_compact<V: Serialize>(value: &V) -> Result<Vec<u8>> {
    postcard::to_extend(value, vec![VALUE_FORMAT_COMPACT])
        .map_err(|e| Error::internal(format!("encode: {e}")))
}

/// Decodes a value written by [`encode_value`] or [`encode_compact`]; `table` names the table
/// in errors.
pub fn decode_value<V: DeserializeOwned>(table: TableName, bytes: &[u8]) -> Result<V> {
    let corrupt = |e: &dyn std::fmt::Display| {
        Error::Corrupt(format!("table {table}: undecodable record: {e}"))
    };
    match bytes.split_first() {
        Some((&VALUE_FORMAT_JSON, body)) => serde_json::from_slice(body).map_err(|e| corrupt(&e)),
        Some((&VALUE_FORMAT_COMPACT, body)) => match postcard::take_from_bytes(body) {
            Ok((v, [])) => Ok(v),
            Ok((_, rest)) => Err(corrupt(&format!("{} trailing bytes", rest.len()))),
            Err(e) => Err(corrupt(&e)),
        },
        Some((&v, _)) if v > VALUE_FORMAT_VERSION => Err(Error::UnsupportedVersion(format!(
            "table {table} holds a record of value format {v}; this build reads up to \
             {VALUE_FORMAT_VERSION}. Upgrade modelgates."
        ))),
        Some((v, _)) => Err(Error::Corrupt(format!(
            "table {table}: unknown value format version {v}"
        ))),
        None => Err(Error::Corrupt(format!("table {table}: empty record"))),
    }
}

/// Deletes up to `limit` entries of `table` whose key starts with `prefix` (from
/// [`Table::prefix_of`]), first in key order; returns how many.
pub fn delete_prefix_limit(
    txn: &mut (impl WriteTxn + ?Sized),
    range: &(TableName, Vec<u8>),
    limit: usize,
) -> Result<usize> {
    let rows = scan_raw_prefix(txn, range, None, limit)?;
    let table = range.0;
    for (k, _) in &rows {
        txn.delete(table, k)?;
    }
    Ok(rows.len())
}

/// Up to `limit` raw entries of `table` whose key starts with `prefix` (from
/// [`Table::prefix_of`]) and sorts after `after` (`None` = from the start), in key order.
pub fn scan_raw_prefix(
    txn: &(impl ReadTxn + ?Sized),
    (table, prefix): &(TableName, Vec<u8>),
    after: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<Entry>> {
    let end = prefix_successor(prefix);
    let end_bound = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let start_bound = after.map_or(Bound::Included(prefix.as_slice()), Bound::Excluded);
    Ok(txn.range(*table, start_bound, end_bound, limit)?)
}

/// Serde for timestamps in compactly stored values (`#[serde(with = "crate::codec::timestamp")]`):
/// RFC 3339 in human-readable formats (as chrono writes it), seconds + nanoseconds in compact
/// ones.
pub(crate) mod timestamp {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            t.serialize(s)
        } else {
            (t.timestamp(), t.timestamp_subsec_nanos()).serialize(s)
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        if d.is_human_readable() {
            DateTime::<Utc>::deserialize(d)
        } else {
            let (secs, nanos) = <(i64, u32)>::deserialize(d)?;
            DateTime::from_timestamp(secs, nanos).ok_or_else(|| {
                serde::de::Error::custom(format!("timestamp {secs}.{nanos} is out of range"))
            })
        }
    }
}

/// What a [`Table`] is, without its types: the storage table, key family and value format.
/// The schema's table registry holds these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableInfo {
    /// The storage table.
    pub name: TableName,
    /// The key family inside the storage table (`None` = a storage table of its own).
    pub family: Option<u8>,
    /// Whether values are written in the compact format.
    pub compact: bool,
}

impl TableInfo {
    /// The storage range of this table's keys that start with `prefix`.
    pub(crate) fn range_of(&self, prefix: &impl KeyPart) -> (TableName, Vec<u8>) {
        let mut out = Vec::with_capacity(48);
        if let Some(f) = self.family {
            out.push(f);
        }
        prefix.encode_key(&mut out);
        (self.name, out)
    }

    /// The leading segments `P` of a raw key of this table (the rest is ignored).
    pub(crate) fn leading<P: KeyDecode>(&self, key: &[u8]) -> Option<P> {
        let mut rest = match self.family {
            Some(f) => key.strip_prefix(&[f])?,
            None => key,
        };
        P::decode_key(&mut rest)
    }
}

/// A typed table: key type `K`, value type `V`.
///
/// Several typed tables may share one storage table as *key families*: a record table and its
/// indexes live together, distinguished by a leading family byte, so one write touches fewer
/// storage tables (each touched table costs pages at commit).
#[derive(Debug)]
pub struct Table<K: ?Sized, V> {
    name: TableName,
    family: Option<u8>,
    compact: bool,
    _types: PhantomData<fn(&K) -> V>,
}

impl<K: ?Sized, V> Clone for Table<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K: ?Sized, V> Copy for Table<K, V> {}

impl<K: KeyPart + ?Sized, V: Serialize + DeserializeOwned> Table<K, V> {
    /// A table of its own, named `name`.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name: TableName(name),
            family: None,
            compact: false,
            _types: PhantomData,
        }
    }

    /// Key family `family` of the storage table `name`.
    pub const fn family(name: &'static str, family: u8) -> Self {
        Self {
            name: TableName(name),
            family: Some(family),
            compact: false,
            _types: PhantomData,
        }
    }

    /// This table writes the compact binary value format ([`VALUE_FORMAT_COMPACT`]) instead of
    /// JSON: for tables with millions of rows, where decoding dominates reads and size matters.
    pub const fn compact(self) -> Self {
        Self {
            compact: true,
            ..self
        }
    }

    /// The encoded value of `value`, in this table's format.
    pub fn value_bytes(&self, value: &V) -> Result<Vec<u8>> {
        if self.compact {
            encode_compact(value)
        } else {
            encode_value(value)
        }
    }

    /// The encoded storage key of `key` (as `scan_prefix` returns raw keys).
    pub fn key_bytes(&self, key: &K) -> Vec<u8> {
        self.key(key)
    }

    fn key(&self, key: &(impl KeyPart + ?Sized)) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        if let Some(f) = self.family {
            out.push(f);
        }
        key.encode_key(&mut out);
        out
    }

    /// This table's name.
    pub fn name(&self) -> TableName {
        self.name
    }

    /// This table without its types.
    pub const fn info(&self) -> TableInfo {
        TableInfo {
            name: self.name,
            family: self.family,
            compact: self.compact,
        }
    }

    /// The typed key of a raw write to storage table `table`, if the write belongs to this
    /// table: the storage table and family byte match and the rest decodes whole.
    pub(crate) fn decode_key(&self, table: TableName, key: &[u8]) -> Option<K>
    where
        K: KeyDecode,
    {
        if table != self.name {
            return None;
        }
        let mut rest = match self.family {
            Some(f) => key.strip_prefix(&[f])?,
            None => key,
        };
        let decoded = K::decode_key(&mut rest)?;
        rest.is_empty().then_some(decoded)
    }

    /// The typed key of a raw key this table returned (from a scan).
    pub(crate) fn key_of(&self, key: &[u8]) -> Option<K>
    where
        K: KeyDecode,
    {
        self.decode_key(self.name, key)
    }

    /// The value under `key`.
    pub fn get(&self, txn: &(impl ReadTxn + ?Sized), key: &K) -> Result<Option<V>> {
        match txn.get(self.name, &self.key(key))? {
            Some(bytes) => decode_value(self.name, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Whether `key` is present.
    pub fn contains(&self, txn: &(impl ReadTxn + ?Sized), key: &K) -> Result<bool> {
        Ok(txn.get(self.name, &self.key(key))?.is_some())
    }

    /// Inserts or replaces `key`.
    pub fn put(&self, txn: &mut (impl WriteTxn + ?Sized), key: &K, value: &V) -> Result<()> {
        txn.put(self.name, &self.key(key), &self.value_bytes(value)?)?;
        Ok(())
    }

    /// Removes `key`; returns whether it was present.
    pub fn delete(&self, txn: &mut (impl WriteTxn + ?Sized), key: &K) -> Result<bool> {
        Ok(txn.delete(self.name, &self.key(key))?)
    }

    /// Every value whose key starts with the encoded `prefix`, in key order, with raw keys.
    pub fn scan_prefix(
        &self,
        txn: &(impl ReadTxn + ?Sized),
        prefix: &impl KeyPrefix<K>,
    ) -> Result<Vec<(Vec<u8>, V)>> {
        self.scan_prefix_after(txn, prefix, None, usize::MAX)
    }

    /// The first `limit` entries whose key starts with `prefix`, in key order.
    pub fn scan_prefix_limit(
        &self,
        txn: &(impl ReadTxn + ?Sized),
        prefix: &impl KeyPrefix<K>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, V)>> {
        self.scan_prefix_after(txn, prefix, None, limit)
    }

    /// Up to `limit` entries whose key starts with `prefix` and sorts after `after` (an encoded
    /// key from an earlier call; `None` = from the start), in key order: chunked iteration.
    pub fn scan_prefix_after(
        &self,
        txn: &(impl ReadTxn + ?Sized),
        prefix: &impl KeyPrefix<K>,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, V)>> {
        let rows = scan_raw_prefix(txn, &self.prefix_of(prefix), after, limit)?;
        rows.into_iter()
            .map(|(k, v)| Ok((k, decode_value(self.name, &v)?)))
            .collect()
    }

    /// Every entry with `lo <= key < hi` (encoded keys, from [`Table::key_bytes`]), in key
    /// order.
    pub fn scan_range(
        &self,
        txn: &(impl ReadTxn + ?Sized),
        lo: &[u8],
        hi: &[u8],
    ) -> Result<Vec<(Vec<u8>, V)>> {
        self.scan_range_limit(txn, lo, hi, usize::MAX)
    }

    /// The first `limit` entries with `lo <= key < hi`, in key order.
    pub fn scan_range_limit(
        &self,
        txn: &(impl ReadTxn + ?Sized),
        lo: &[u8],
        hi: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, V)>> {
        if lo >= hi {
            return Ok(Vec::new());
        }
        let rows = txn.range(self.name, Bound::Included(lo), Bound::Excluded(hi), limit)?;
        rows.into_iter()
            .map(|(k, v)| Ok((k, decode_value(self.name, &v)?)))
            .collect()
    }

    /// Deletes every entry whose key starts with `prefix`; returns how many.
    pub fn delete_prefix(
        &self,
        txn: &mut (impl WriteTxn + ?Sized),
        prefix: &impl KeyPrefix<K>,
    ) -> Result<usize> {
        delete_prefix_limit(txn, &self.prefix_of(prefix), usize::MAX)
    }

    /// The storage table and encoded key prefix of the entries under `prefix`: a typed-free
    /// handle for work over several tables at once (see [`delete_prefix_limit`]).
    pub fn prefix_of(&self, prefix: &impl KeyPrefix<K>) -> (TableName, Vec<u8>) {
        (self.name, self.key(prefix))
    }

    /// Every value whose key starts with `prefix`, in key order.
    pub fn values_with_prefix(
        &self,
        txn: &(impl ReadTxn + ?Sized),
        prefix: &impl KeyPrefix<K>,
    ) -> Result<Vec<V>> {
        Ok(self
            .scan_prefix(txn, prefix)?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc<K: KeyPart>(k: K) -> Vec<u8> {
        encode_key(&k)
    }

    proptest! {
        #[test]
        fn strings_decode_to_what_was_encoded(a: String, b: String) {
            let bytes = enc((&a, &b));
            let mut rest = bytes.as_slice();
            prop_assert_eq!(String::decode_key(&mut rest), Some(a));
            prop_assert_eq!(String::decode_key(&mut rest), Some(b));
            prop_assert!(rest.is_empty());
        }

        #[test]
        fn string_tuples_sort_like_their_encoding(a: (String, String), b: (String, String)) {
            prop_assert_eq!(a.cmp(&b), enc(&a).cmp(&enc(&b)));
        }

        #[test]
        fn u64_sorts_like_encoding(a: u64, b: u64, s: String) {
            prop_assert_eq!((&s, a).cmp(&(&s, b)), enc((&s, a)).cmp(&enc((&s, b))));
        }

        #[test]
        fn prefix_encoding_is_a_byte_prefix(a: String, b: String) {
            let whole = enc((&a, &b));
            let prefix = enc((&a,));
            prop_assert!(whole.starts_with(&prefix));
            let succ = prefix_successor(&prefix).expect("terminator is never all 0xFF");
            prop_assert!(whole < succ);
        }
    }

    #[test]
    fn keys_decode_back_only_in_their_own_table_and_family() {
        use crate::ids::{AccountId, KeyId, WorkspaceId};
        const T: Table<(AccountId, KeyId), u8> = Table::family("t", 3);
        const U: Table<(AccountId, WorkspaceId), u8> = Table::new("t");
        let key = (AccountId::generate(1), KeyId::generate(2));
        let bytes = T.key_bytes(&key);
        assert_eq!(T.decode_key(TableName("t"), &bytes), Some(key));
        assert_eq!(T.decode_key(TableName("other"), &bytes), None);
        let mut wrong_family = bytes.clone();
        wrong_family[0] = 4;
        assert_eq!(T.decode_key(TableName("t"), &wrong_family), None);
        assert_eq!(
            T.decode_key(TableName("t"), &bytes[..bytes.len() - 1]),
            None
        );
        // 33 bytes (family + 32) are not a family-less pair of ids.
        assert_eq!(U.decode_key(TableName("t"), &bytes), None);
    }

    #[test]
    fn strings_with_nul_bytes_do_not_collide_with_shorter_strings() {
        assert!(enc(("a", "b")) != enc(("a\0", "b")));
        assert!(enc("a") < enc("a\0"));
        assert!(enc("a\0") < enc("a\u{1}"));
    }

    #[test]
    fn newer_value_format_is_refused_with_a_clear_error() {
        let err = decode_value::<u32>(TableName("t"), &[9, b'1']).unwrap_err();
        assert!(err.to_string().contains("value format 9"), "{err}");
        assert!(matches!(
            decode_value::<u32>(TableName("t"), &[]),
            Err(Error::Corrupt(_))
        ));
        assert_eq!(
            decode_value::<u32>(TableName("t"), &encode_value(&7u32).unwrap()).unwrap(),
            7
        );
        assert_eq!(
            decode_value::<u32>(TableName("t"), &encode_compact(&7u32).unwrap()).unwrap(),
            7
        );
    }

    #[test]
    fn a_compact_table_reads_its_old_json_rows_and_refuses_damaged_ones() {
        let json = encode_value(&(5u64, "a".to_owned())).unwrap();
        let compact = encode_compact(&(5u64, "a".to_owned())).unwrap();
        assert_eq!(compact, [VALUE_FORMAT_COMPACT, 5, 1, b'a']);
        for bytes in [&json, &compact] {
            let v: (u64, String) = decode_value(TableName("t"), bytes).unwrap();
            assert_eq!(v, (5, "a".to_owned()));
        }
        let mut long = compact.clone();
        long.push(0);
        let err = decode_value::<(u64, String)>(TableName("t"), &long).unwrap_err();
        assert!(err.to_string().contains("1 trailing bytes"), "{err}");
        let err = decode_value::<(u64, String)>(TableName("t"), &compact[..3]).unwrap_err();
        assert!(matches!(err, Error::Corrupt(_)), "{err}");
    }
}
