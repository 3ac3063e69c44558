//! Outlook's conversation index (`Thread-Index`, MS-OXOMSG 2.2.1.3): a 22-byte
//! header block (reserved byte, 5 bytes of FILETIME, a GUID) and one 5-byte
//! child block per reply. A reply extends its parent's index, which is how
//! Outlook threads a conversation even when subjects change.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

const HEADER_LEN: usize = 22;
const CHILD_LEN: usize = 5;
/// 100-ns intervals between 1601-01-01 and 1970-01-01.
const FILETIME_UNIX_EPOCH: i64 = 116_444_736_000_000_000;

fn filetime(t: DateTime<Utc>) -> u64 {
    let ticks = t.timestamp() * 10_000_000 + i64::from(t.timestamp_subsec_nanos() / 100);
    (ticks + FILETIME_UNIX_EPOCH).max(0) as u64
}

/// The parent's Thread-Index extended by one child block for a reply sent at
/// `now`; `None` when the parent's value is not a valid index. `random` fills
/// the block's last byte (the caller passes randomness in: this stays pure).
pub fn reply_index(parent: &str, now: DateTime<Utc>, random: u8) -> Option<String> {
    let bytes = STANDARD.decode(parent.trim()).ok()?;
    if bytes.len() < HEADER_LEN || !(bytes.len() - HEADER_LEN).is_multiple_of(CHILD_LEN) {
        return None;
    }
    // The header holds the top 40 bits of the conversation's start FILETIME.
    let start = bytes[1..6]
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
        << 24;
    let delta = filetime(now).saturating_sub(start);
    // Short deltas keep finer resolution (code bit 0): bits 18..49; longer ones bits 23..54.
    let word: u32 = if delta >> 49 == 0 {
        ((delta >> 18) & 0x7FFF_FFFF) as u32
    } else {
        0x8000_0000 | ((delta >> 23) & 0x7FFF_FFFF) as u32
    };
    let mut out = bytes;
    out.extend_from_slice(&word.to_be_bytes());
    out.push(random);
    Some(STANDARD.encode(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid test time")
            .with_timezone(&Utc)
    }

    /// A header block as Outlook writes it for a conversation started at `t`.
    fn header(t: DateTime<Utc>) -> String {
        let ft = filetime(t) >> 24;
        let mut b = vec![1u8];
        b.extend_from_slice(&ft.to_be_bytes()[3..8]);
        b.extend_from_slice(&[0xAB; 16]);
        STANDARD.encode(b)
    }

    #[test]
    fn a_reply_appends_one_child_block() {
        let start = at("2026-11-30T09:00:00Z");
        let parent = header(start);
        let child = reply_index(&parent, at("2026-11-30T10:00:00Z"), 7).unwrap();
        let p = STANDARD.decode(&parent).unwrap();
        let c = STANDARD.decode(&child).unwrap();
        assert_eq!(c.len(), 27);
        assert_eq!(&c[..22], &p[..], "the parent's index is kept as the prefix");
        assert_eq!(c[26], 7);
        // One hour in 2^18 * 100 ns units, with the short-delta code bit clear.
        let word = u32::from_be_bytes([c[22], c[23], c[24], c[25]]);
        assert_eq!(word >> 31, 0);
        let hour = 36_000_000_000u64 >> 18;
        assert!(
            (i64::from(word) - hour as i64).abs() <= 64,
            "{word} vs {hour}"
        );
        // A reply to the reply extends again.
        let grandchild = reply_index(&child, at("2026-11-30T11:00:00Z"), 1).unwrap();
        assert_eq!(STANDARD.decode(grandchild).unwrap().len(), 32);
    }

    #[test]
    fn garbage_is_not_extended() {
        assert_eq!(reply_index("not base64!", Utc::now(), 0), None);
        assert_eq!(
            reply_index(&STANDARD.encode([1u8; 10]), Utc::now(), 0),
            None
        );
        assert_eq!(
            reply_index(&STANDARD.encode([1u8; 24]), Utc::now(), 0),
            None
        );
    }
}
