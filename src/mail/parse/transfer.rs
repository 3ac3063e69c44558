//! Content-Transfer-Encodings, decoded leniently: used where mail-parser gave
//! up on a part (an unterminated multipart, a body to decode again in another
//! charset) and for RFC 2047 words. Nothing here fails: bad input gives what
//! can be read.

/// Base64, skipping line breaks and any byte outside the alphabet, stopping at padding.
pub(crate) fn base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in input {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                // Padding ends a chunk; some mailers concatenate encoded
                // chunks, so reading goes on from a clean state.
                acc = 0;
                bits = 0;
                continue;
            }
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Quoted-printable (RFC 2045): `=XX`, soft line breaks (`=` at a line's
/// end, also before trailing blanks); a stray `=` is kept as it is.
pub(crate) fn quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        if let (Some(&h), Some(&l)) = (input.get(i + 1), input.get(i + 2))
            && let (Some(h), Some(l)) = (hex(h), hex(l))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        // A soft break: `=`, optional blanks, then CRLF or LF (or the end).
        let mut j = i + 1;
        while j < input.len() && matches!(input[j], b' ' | b'\t') {
            j += 1;
        }
        match input.get(j) {
            Some(b'\r') if input.get(j + 1) == Some(&b'\n') => i = j + 2,
            Some(b'\n') => i = j + 1,
            None => i = j,
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
    out
}

/// The Q encoding of RFC 2047 words: quoted-printable with `_` for a space.
pub(crate) fn q_word(input: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = input
        .iter()
        .map(|&b| if b == b'_' { b' ' } else { b })
        .collect();
    quoted_printable(&spaced)
}

/// A part's body decoded by its Content-Transfer-Encoding (7bit, 8bit,
/// binary and unknown ones are taken as they are).
pub(crate) fn decode(cte: Option<&str>, body: &[u8]) -> Vec<u8> {
    match cte.map(|c| c.trim().to_ascii_lowercase()).as_deref() {
        Some("base64") => base64(body),
        Some("quoted-printable") => quoted_printable(body),
        _ => body.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_lenient() {
        assert_eq!(base64(b"SGVs\r\nbG8=\r\n"), b"Hello");
        assert_eq!(base64(b"SGVsbG8"), b"Hello", "missing padding");
        assert_eq!(
            base64(b"SGVsbG"),
            b"Hell",
            "a cut-off quantum keeps its whole bytes"
        );
        assert_eq!(base64(b"SGk=SGk="), b"HiHi");
        assert_eq!(base64(b"**"), b"");
    }

    #[test]
    fn quoted_printable_decodes_and_keeps_strays() {
        assert_eq!(quoted_printable(b"Gr=C3=BC=C3=9Fe"), "Grüße".as_bytes());
        assert_eq!(quoted_printable(b"long =\r\nline=  \nend"), b"long lineend");
        assert_eq!(quoted_printable(b"a=zz b=4"), b"a=zz b=4");
        assert_eq!(quoted_printable(b"x="), b"x");
        assert_eq!(q_word(b"caf=E9_ok"), b"caf\xe9 ok");
        assert_eq!(decode(Some("8bit"), b"=41"), b"=41");
        assert_eq!(decode(Some(" Quoted-Printable "), b"=41"), b"A");
    }
}
