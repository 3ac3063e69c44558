//! How raw mail is kept: LZ4-compressed (size-prefixed block). Mail text
//! compresses 2-4x, and bytes written are what bounds ingest on SQLite.

use crate::error::{Error, Result};

/// The `raw_codec` value of compressed rows.
pub const LZ4: &str = "lz4";

/// Compresses raw bytes for storage under the `LZ4` codec.
pub fn pack(raw: &[u8]) -> Vec<u8> {
    lz4_flex::compress_prepend_size(raw)
}

/// Raw bytes in their stored form.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub bytes: Vec<u8>,
    pub codec: Option<&'static str>,
}

/// The stored form of `raw`: compressed when that saves at least 10 %, else
/// as received (already-compressed attachments), so a large mail is never held
/// twice at full size.
pub fn store(raw: Vec<u8>) -> Stored {
    let mut packed = pack(&raw);
    if packed.len() >= raw.len() / 10 * 9 {
        return Stored {
            bytes: raw,
            codec: None,
        };
    }
    // The compressor reserves its worst case; give the rest back.
    packed.shrink_to_fit();
    Stored {
        bytes: packed,
        codec: Some(LZ4),
    }
}

/// The raw bytes as received, from a stored value and its codec.
pub fn unpack(codec: Option<&str>, stored: &[u8]) -> Result<Vec<u8>> {
    match codec {
        None => Ok(stored.to_vec()),
        Some(LZ4) => {
            let corrupt =
                |why: String| Error::Invalid(format!("stored raw message is corrupt: {why}"));
            let (size, block) = stored
                .split_first_chunk::<4>()
                .ok_or_else(|| corrupt("shorter than its size prefix".into()))?;
            let size = u32::from_le_bytes(*size) as usize;
            // LZ4 expands at most ~255x: a larger claim is corruption, not mail.
            if size > block.len().saturating_mul(255) + 16 {
                return Err(corrupt(format!("claims {size} bytes from {}", block.len())));
            }
            let raw =
                lz4_flex::block::decompress(block, size).map_err(|e| corrupt(e.to_string()))?;
            if raw.len() != size {
                return Err(corrupt(format!("{} bytes instead of {size}", raw.len())));
            }
            Ok(raw)
        }
        Some(other) => Err(Error::Invalid(format!("unknown raw codec {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let raw =
            b"From: a@b.test\r\nSubject: x\r\n\r\nhello hello hello hello hello\r\n".repeat(20);
        let packed = pack(&raw);
        assert!(packed.len() < raw.len() / 2);
        assert_eq!(unpack(Some(LZ4), &packed).unwrap(), raw);
        assert_eq!(unpack(None, &raw).unwrap(), raw);
        assert!(unpack(Some(LZ4), b"\xff\xff\xff\x7fgarbage").is_err());
        assert!(unpack(Some(LZ4), &packed[..packed.len() / 2]).is_err());
        assert!(unpack(Some(LZ4), b"\x01").is_err());
        assert!(unpack(Some("zip"), &packed).is_err());
        let kept = store(raw.clone());
        assert_eq!(kept.codec, Some(LZ4));
        assert_eq!(unpack(kept.codec, &kept.bytes).unwrap(), raw);
        // Incompressible bytes are kept as they are.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..5000)
            .map(|_| {
                // xorshift64: incompressible enough for LZ4.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        let kept = store(noise.clone());
        assert_eq!(kept.codec, None);
        assert_eq!(kept.bytes, noise);
    }
}
