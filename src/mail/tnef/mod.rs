//! TNEF (`winmail.dat`, `application/ms-tnef`), after MS-OXTNEF: the body
//! and the files Outlook and Exchange wrap in it, which no other mail client
//! opens. No maintained crate reads it (the `tnef` crate, 0.1 from 2019, reads
//! attachments only, not the body), so this is a small reader of our own.
//!
//! Read: attachments (attAttachRendData starts one, attAttachTitle and
//! attAttachData name and fill it, attAttachment's MAPI properties give the
//! long file name and MIME type), the body (attBody, or PR_BODY / PR_HTML in
//! attMsgProps, else PR_RTF_COMPRESSED turned into text) and the code page
//! (attOemCodepage, PR_INTERNET_CPID). Everything is bounds-checked: any
//! input gives a result or an error, never a panic.

mod mapi;
mod rtf;

use crate::mail::parse::charset;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TnefError {
    #[error("not TNEF: no signature")]
    Signature,
    #[error("TNEF cut short at byte {0}")]
    Truncated(usize),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TnefFile {
    pub name: Option<String>,
    pub mime_type: Option<String>,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tnef {
    /// The text body: attBody or PR_BODY, else the compressed RTF as text.
    pub body: Option<String>,
    /// PR_HTML, when the sender's Outlook wrote one.
    pub html: Option<String>,
    /// The charset the body was read with.
    pub body_charset: String,
    pub files: Vec<TnefFile>,
    /// Where the stream stopped making sense (the offset of the attribute
    /// that could not be read): what came before is above, the rest lost.
    pub cut_at: Option<usize>,
}

const SIGNATURE: u32 = 0x223E_9F78;
const LVL_MESSAGE: u8 = 1;
const LVL_ATTACHMENT: u8 = 2;

// Attribute IDs (the low 16 bits; the high ones give the type).
const ATT_BODY: u32 = 0x800C;
const ATT_ATTACH_DATA: u32 = 0x800F;
const ATT_ATTACH_TITLE: u32 = 0x8010;
const ATT_ATTACH_REND_DATA: u32 = 0x9002;
const ATT_MSG_PROPS: u32 = 0x9003;
const ATT_ATTACHMENT: u32 = 0x9005;
const ATT_OEM_CODEPAGE: u32 = 0x9007;

/// A cursor over the input that never reads past its end.
pub(super) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Cursor { data, pos: 0 }
    }
    pub(super) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8], TnefError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(TnefError::Truncated(self.pos))?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    pub(super) fn u8(&mut self) -> Result<u8, TnefError> {
        Ok(self.bytes(1)?[0])
    }
    pub(super) fn u16(&mut self) -> Result<u16, TnefError> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    pub(super) fn u32(&mut self) -> Result<u32, TnefError> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Reads a TNEF stream. A stream cut short keeps what was read before the cut.
pub fn read(data: &[u8]) -> Result<Tnef, TnefError> {
    let raw = attributes(data)?;
    let cp = raw.msg_props.long(mapi::PR_INTERNET_CPID).or(raw.codepage);
    let label = cp.map(codepage_label);
    // A body may hold a NUL of its own: only the terminating ones go.
    let text = |b: &[u8]| -> String {
        let b = trim_trailing_nul(b);
        charset::decode(b, label.as_deref(), &[]).0
    };
    // A title is a C string: it ends at its first NUL.
    let title = |b: &[u8]| -> String { charset::decode(trim_nul(b), label.as_deref(), &[]).0 };
    let props = &raw.msg_props;
    let body = props
        .string(mapi::PR_BODY, label.as_deref())
        .or_else(|| raw.att_body.as_deref().map(text))
        .or_else(|| {
            let rtf = rtf::decompress(props.binary(mapi::PR_RTF_COMPRESSED)?)?;
            Some(rtf::to_text(&rtf, label.as_deref()))
        })
        .filter(|b| !b.trim().is_empty());
    let html = props
        .binary(mapi::PR_HTML)
        .map(text)
        .or_else(|| props.string(mapi::PR_HTML, label.as_deref()))
        .filter(|h| !h.trim().is_empty());
    let files = raw
        .files
        .into_iter()
        .filter_map(|f| f.into_file(label.as_deref(), &title))
        .collect();
    Ok(Tnef {
        body_charset: label.clone().unwrap_or_else(|| "windows-1252".into()),
        body,
        html,
        files,
        cut_at: raw.cut_at,
    })
}

/// The attributes of a stream as read, before any text is decoded.
struct RawTnef {
    cut_at: Option<usize>,
    codepage: Option<u32>,
    att_body: Option<Vec<u8>>,
    msg_props: mapi::Props,
    files: Vec<RawFile>,
}

/// An attachment's title, MAPI properties and data as read.
#[derive(Default)]
struct RawFile {
    title: Option<Vec<u8>>,
    props: mapi::Props,
    data: Vec<u8>,
}

fn attributes(data: &[u8]) -> Result<RawTnef, TnefError> {
    let mut c = Cursor::new(data);
    if c.u32().ok() != Some(SIGNATURE) {
        return Err(TnefError::Signature);
    }
    c.u16()?; // legacy key
    let mut raw = RawTnef {
        cut_at: None,
        codepage: None,
        att_body: None,
        msg_props: mapi::Props::default(),
        files: Vec::new(),
    };
    while c.remaining() > 0 {
        let at = c.pos;
        let Ok((level, id, value)) = attribute(&mut c) else {
            raw.cut_at = Some(at); // cut short: keep what came before
            break;
        };
        match (level, id & 0xFFFF) {
            (LVL_MESSAGE, ATT_BODY) => raw.att_body = Some(value.to_vec()),
            (LVL_MESSAGE, ATT_MSG_PROPS) => raw.msg_props = mapi::read(value),
            (_, ATT_OEM_CODEPAGE) => {
                raw.codepage = value
                    .get(..4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            }
            (LVL_ATTACHMENT, ATT_ATTACH_REND_DATA) => raw.files.push(RawFile::default()),
            (LVL_ATTACHMENT, ATT_ATTACH_TITLE) => {
                if let Some(f) = raw.files.last_mut() {
                    f.title = Some(value.to_vec());
                }
            }
            (LVL_ATTACHMENT, ATT_ATTACH_DATA) => {
                if let Some(f) = raw.files.last_mut() {
                    f.data = value.to_vec();
                }
            }
            (LVL_ATTACHMENT, ATT_ATTACHMENT) => {
                if let Some(f) = raw.files.last_mut() {
                    f.props = mapi::read(value);
                }
            }
            _ => {}
        }
    }
    Ok(raw)
}

impl RawFile {
    /// The file with its name and type; `None` when it has neither a name
    /// nor data.
    fn into_file(self, label: Option<&str>, text: &dyn Fn(&[u8]) -> String) -> Option<TnefFile> {
        let props = self.props;
        let name = props
            .string(mapi::PR_ATTACH_LONG_FILENAME, label)
            .or_else(|| props.string(mapi::PR_ATTACH_FILENAME, label))
            .or_else(|| self.title.as_deref().map(text))
            .or_else(|| props.string(mapi::PR_DISPLAY_NAME, label))
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        let data = if self.data.is_empty() {
            props
                .binary(mapi::PR_ATTACH_DATA_BIN)
                .map(<[u8]>::to_vec)
                .unwrap_or_default()
        } else {
            self.data
        };
        if name.is_none() && data.is_empty() {
            return None;
        }
        Some(TnefFile {
            name,
            mime_type: props
                .string(mapi::PR_ATTACH_MIME_TAG, label)
                .map(|m| m.trim().to_ascii_lowercase())
                .filter(|m| m.contains('/')),
            data,
        })
    }
}

/// One attribute: level, ID, data. The checksum is read, not enforced:
/// a wrong one in a real mail is no reason to lose its files.
fn attribute<'a>(c: &mut Cursor<'a>) -> Result<(u8, u32, &'a [u8]), TnefError> {
    let level = c.u8()?;
    let id = c.u32()?;
    let len = c.u32()? as usize;
    let value = c.bytes(len)?;
    c.u16()?;
    Ok((level, id, value))
}

/// `b` without the NULs at its end.
fn trim_trailing_nul(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&x| x != 0).map_or(0, |p| p + 1);
    &b[..end]
}

/// `b` up to its first NUL (a C string).
pub(super) fn trim_nul(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
    &b[..end]
}

/// A Windows code page number as a charset label.
pub(super) fn codepage_label(cp: u32) -> String {
    match cp {
        65001 => "utf-8".into(),
        20127 => "us-ascii".into(),
        932 => "shift_jis".into(),
        936 => "gbk".into(),
        949 => "euc-kr".into(),
        950 => "big5".into(),
        54936 => "gb18030".into(),
        50220..=50222 => "iso-2022-jp".into(),
        51932 => "euc-jp".into(),
        20866 => "koi8-r".into(),
        28591..=28599 => format!("iso-8859-{}", cp - 28590),
        28603 => "iso-8859-13".into(),
        28605 => "iso-8859-15".into(),
        437 | 850 | 852 | 866 => format!("ibm{cp}"),
        n => format!("windows-{n}"),
    }
}

#[cfg(test)]
mod tests;
