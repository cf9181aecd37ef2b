//! Identifiers: UUIDv7 workspace ids, prefixed time-ordered ULIDs (`acct_…`, `key_…`, `wsm_…`)
//! for other resources, and caller-chosen user ids.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::codec::{KeyDecode, KeyPart, take16};
use crate::error::Error;

/// 128 random bits from the OS.
pub(crate) fn random_u128() -> u128 {
    let mut buf = [0u8; 16];
    getrandom::fill(&mut buf).expect("the OS random source is unavailable");
    u128::from_le_bytes(buf)
}

/// The last (millisecond, random part) handed out by one id kind in this process.
type Last = std::sync::Mutex<(u64, u128)>;

/// A (millisecond, random part) pair strictly greater than the previous one of this kind, so
/// ids created in the same millisecond — or while the clock steps back — still sort in
/// creation order: within a millisecond the random part is incremented (as ULID's monotonic
/// mode does); `mask` keeps it inside the id's random bits.
fn monotonic(last: &Last, millis: u64, mask: u128) -> (u64, u128) {
    let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
    let next = if millis > last.0 {
        (millis, random_u128() & mask >> 1) // headroom for increments
    } else if last.1 < mask {
        (last.0, last.1 + 1)
    } else {
        (last.0 + 1, random_u128() & mask >> 1)
    };
    *last = next;
    next
}

/// An 80-bit random part ordered by creation in this process: a sequence in the high 40 bits
/// (starting at random below 2^39, so it does not wrap) over 40 random bits, which keep ids of
/// several processes in one millisecond apart.
fn sequenced_random() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: std::sync::OnceLock<AtomicU64> = std::sync::OnceLock::new();
    let seq = SEQ
        .get_or_init(|| AtomicU64::new((random_u128() as u64) & ((1 << 39) - 1)))
        .fetch_add(1, Ordering::Relaxed)
        & ((1 << 40) - 1);
    (u128::from(seq) << 40) | (random_u128() & ((1 << 40) - 1))
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $resource:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(ulid::Ulid);

        impl $name {
            /// The id's textual prefix, including the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A new id, ordered by `millis` (milliseconds since the Unix epoch) and, within a
            /// millisecond, by creation order in this process.
            pub fn generate(millis: u64) -> Self {
                static LAST: Last = std::sync::Mutex::new((0, 0));
                let (ms, rand) = monotonic(&LAST, millis, (1u128 << 80) - 1);
                Self(ulid::Ulid::from_parts(ms, rand))
            }

            /// A new id whose time part is exactly `millis`, for records listed and filtered by
            /// their own time (audit events). Its random part is a process-wide sequence (high
            /// 40 bits, from a random start) over 40 random bits, so ids of one millisecond sort
            /// in creation order in this process, whatever other instances or clocks do in
            /// between; a clock that steps back gives ids that sort by the time it read.
            pub fn generate_at(millis: u64) -> Self {
                Self(ulid::Ulid::from_parts(millis, sequenced_random()))
            }

            /// The id made of a time part (`millis`) and an 80-bit random part (the low 80
            /// bits of `random`), for ids derived deterministically.
            pub fn from_parts(millis: u64, random: u128) -> Self {
                Self(ulid::Ulid::from_parts(millis, random))
            }

            /// The id's time part, in milliseconds since the Unix epoch.
            pub fn millis(self) -> u64 {
                self.0.timestamp_ms()
            }

            /// The id's 16 bytes, which sort by creation time.
            pub fn to_bytes(self) -> [u8; 16] {
                self.0.to_bytes()
            }

            /// Parses the id, naming `field` in the error.
            pub fn parse_field(s: &str, field: &str) -> Result<Self, Error> {
                s.strip_prefix($prefix)
                    .and_then(|rest| ulid::Ulid::from_string(rest).ok())
                    .map(Self)
                    .ok_or_else(|| {
                        Error::invalid(
                            field,
                            format!(
                                "{:?} is not a valid {} id (expected {}<26 base32 chars>)",
                                crate::validate::excerpt(s),
                                $resource,
                                $prefix
                            ),
                        )
                    })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse_field(s, "id")
            }
        }

        /// The prefixed string in human-readable formats (JSON); the 16 bytes in compact ones.
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(self)
                } else {
                    self.to_bytes().serialize(s)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = String::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                } else {
                    <[u8; 16]>::deserialize(d).map(|b| Self(ulid::Ulid::from_bytes(b)))
                }
            }
        }

        impl KeyPart for $name {
            fn encode_key(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_bytes());
            }
        }

        impl KeyDecode for $name {
            fn decode_key(input: &mut &[u8]) -> Option<Self> {
                take16(input).map(|b| Self(ulid::Ulid::from_bytes(b)))
            }
        }

        #[cfg(feature = "schemars")]
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "pattern": concat!("^", $prefix, "[0-9A-HJKMNP-TV-Z]{26}$"),
                    "description": concat!($resource, " id: '", $prefix, "' followed by a ULID.")
                })
            }
        }
    };
}

prefixed_id!(
    /// An account (organization): `acct_01J…`.
    AccountId,
    "acct_",
    "account"
);
prefixed_id!(
    /// An API key: `key_01J…`.
    KeyId,
    "key_",
    "API key"
);
prefixed_id!(
    /// A model of a workspace's catalog: `model_01J…`.
    ModelId,
    "model_",
    "model"
);
prefixed_id!(
    /// A provider endpoint: `prov_01J…`.
    ProviderId,
    "prov_",
    "provider"
);
prefixed_id!(
    /// A usage record: `usage_01J…` (its time part is the request's timestamp).
    UsageId,
    "usage_",
    "usage record"
);
prefixed_id!(
    /// A persona: `persona_01J…`.
    PersonaId,
    "persona_",
    "persona"
);
prefixed_id!(
    /// A workspace membership: `wsm_01J…`.
    MembershipId,
    "wsm_",
    "workspace membership"
);
prefixed_id!(
    /// An audit event: `aud_01J…` (ordered by the time of the change).
    AuditId,
    "aud_",
    "audit event"
);

/// A workspace id: a UUIDv7, so ids sort by creation time and keep the B-tree compact.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct WorkspaceId(uuid::Uuid);

impl WorkspaceId {
    /// A new id, ordered by `millis` and, within a millisecond, by creation order in this
    /// process. Layout (RFC 9562): 48-bit Unix milliseconds, version 7, 74 bits that start
    /// random and count up within a millisecond, variant bits.
    pub fn generate(millis: u64) -> Self {
        static LAST: Last = std::sync::Mutex::new((0, 0));
        let (ms, rand) = monotonic(&LAST, millis, (1u128 << 74) - 1);
        let rand_a = (rand >> 62) & 0xFFF;
        let rand_b = rand & ((1u128 << 62) - 1);
        let value = (u128::from(ms & 0xFFFF_FFFF_FFFF) << 80)
            | (0x7u128 << 76)
            | (rand_a << 64)
            | (0b10u128 << 62)
            | rand_b;
        Self(uuid::Uuid::from_u128(value))
    }

    /// Parses a UUID in any of its usual spellings; `None` if `s` is not a UUID.
    pub fn parse(s: &str) -> Option<Self> {
        uuid::Uuid::try_parse(s).ok().map(Self)
    }

    /// The underlying UUID.
    pub fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl KeyPart for WorkspaceId {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.as_bytes());
    }
}

impl KeyDecode for WorkspaceId {
    fn decode_key(input: &mut &[u8]) -> Option<Self> {
        take16(input).map(|b| Self(uuid::Uuid::from_bytes(b)))
    }
}

/// An organization member's user id, chosen by the caller (e.g. `user_abc123`).
///
/// 1..=64 characters of ASCII letters, digits, `_` and `-`, starting with a letter or digit.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// Validates `s` as a user id, naming `field` in the error.
    pub fn parse_field(s: &str, field: &str) -> Result<Self, Error> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::invalid(
                field,
                format!(
                    "{:?} is not a user id (1-64 ASCII letters, digits, '_' or '-', \
                     starting with a letter or digit, e.g. \"user_abc123\")",
                    crate::validate::excerpt(s)
                ),
            ))
        }
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for UserId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "UserId".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
            "description": "A user id, e.g. \"user_abc123\"."
        })
    }
}

impl TryFrom<String> for UserId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse_field(&s, "user_id")
    }
}

impl From<UserId> for String {
    fn from(u: UserId) -> String {
        u.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl KeyPart for UserId {
    fn encode_key(&self, out: &mut Vec<u8>) {
        self.0.encode_key(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_ids_round_trip_and_sort_by_time() {
        let a = KeyId::generate(1_000);
        let b = KeyId::generate(2_000);
        assert!(a < b);
        assert!(a.to_string().starts_with("key_"));
        assert_eq!(a.to_string().parse::<KeyId>().unwrap(), a);
        let err = "wsm_01J0000000000000000000000"
            .parse::<KeyId>()
            .unwrap_err();
        assert!(err.to_string().contains("not a valid API key id"), "{err}");
    }

    #[test]
    fn ids_created_in_the_same_millisecond_keep_creation_order() {
        let keys: Vec<_> = (0..1000).map(|_| KeyId::generate(5_000)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let ws: Vec<_> = (0..1000).map(|_| WorkspaceId::generate(5_000)).collect();
        for w in ws.windows(2) {
            assert!(w[0] < w[1], "{} !< {}", w[0], w[1]);
        }
        assert!(ws.iter().all(|w| w.as_uuid().get_version_num() == 7
            && w.as_uuid().get_variant() == uuid::Variant::RFC4122));
        // A clock that steps back does not break the order either.
        assert!(KeyId::generate(1) > keys[999]);
    }

    #[test]
    fn workspace_ids_are_v7_and_time_ordered() {
        let a = WorkspaceId::generate(1_700_000_000_000);
        let b = WorkspaceId::generate(1_700_000_000_001);
        assert!(a < b);
        assert_eq!(a.as_uuid().get_version_num(), 7);
        assert_eq!(WorkspaceId::parse(&a.to_string()), Some(a));
    }

    #[test]
    fn user_ids_are_validated() {
        assert!(UserId::parse_field("user_abc123", "user_id").is_ok());
        for bad in ["", "_x", "user abc", "usér", &"a".repeat(65)] {
            let err = UserId::parse_field(bad, "user_ids[0]").unwrap_err();
            assert_eq!(err.field(), Some("user_ids[0]"));
        }
    }
}
