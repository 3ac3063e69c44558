//! MAPI property lists inside TNEF attributes (attMsgProps, attAttachment;
//! MS-OXTNEF 2.1.3.4): a count, then tag, optional name, and value(s).

use std::collections::HashMap;

use super::{Cursor, TnefError};
use crate::mail::parse::charset;

pub(super) const PR_BODY: u16 = 0x1000;
pub(super) const PR_RTF_COMPRESSED: u16 = 0x1009;
pub(super) const PR_HTML: u16 = 0x1013;
pub(super) const PR_DISPLAY_NAME: u16 = 0x3001;
pub(super) const PR_ATTACH_DATA_BIN: u16 = 0x3701;
pub(super) const PR_ATTACH_FILENAME: u16 = 0x3704;
pub(super) const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
pub(super) const PR_ATTACH_MIME_TAG: u16 = 0x370E;
pub(super) const PR_INTERNET_CPID: u16 = 0x3FDE;

const PT_SHORT: u16 = 0x0002;
const PT_LONG: u16 = 0x0003;
const PT_FLOAT: u16 = 0x0004;
const PT_DOUBLE: u16 = 0x0005;
const PT_CURRENCY: u16 = 0x0006;
const PT_APPTIME: u16 = 0x0007;
const PT_ERROR: u16 = 0x000A;
const PT_BOOLEAN: u16 = 0x000B;
const PT_OBJECT: u16 = 0x000D;
const PT_I8: u16 = 0x0014;
const PT_STRING8: u16 = 0x001E;
const PT_UNICODE: u16 = 0x001F;
const PT_SYSTIME: u16 = 0x0040;
const PT_CLSID: u16 = 0x0048;
const PT_BINARY: u16 = 0x0102;
const MV_FLAG: u16 = 0x1000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Long(u32),
    String8(Vec<u8>),
    Unicode(Vec<u8>),
    Binary(Vec<u8>),
}

/// The first value of each (unnamed) property ID that mailroom reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Props(HashMap<u16, Value>);

impl Props {
    pub(super) fn long(&self, id: u16) -> Option<u32> {
        match self.0.get(&id)? {
            Value::Long(v) => Some(*v),
            _ => None,
        }
    }

    pub(super) fn binary(&self, id: u16) -> Option<&[u8]> {
        match self.0.get(&id)? {
            Value::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// A string property: UTF-16 for PT_UNICODE, the code page's charset
    /// (through the chain) for PT_STRING8; trailing NULs removed.
    pub(super) fn string(&self, id: u16, label: Option<&str>) -> Option<String> {
        match self.0.get(&id)? {
            Value::Unicode(b) => {
                let (s, _, _) = encoding_rs::UTF_16LE.decode(b);
                Some(s.trim_end_matches('\0').to_string())
            }
            Value::String8(b) => Some(charset::decode(super::trim_nul(b), label, &[]).0),
            _ => None,
        }
    }
}

/// Reads a property list; a list cut short or with an unknown type keeps
/// the properties read before it.
pub(super) fn read(data: &[u8]) -> Props {
    let mut props = Props::default();
    let mut c = Cursor::new(data);
    let _ = read_into(&mut c, &mut props);
    props
}

fn read_into(c: &mut Cursor<'_>, props: &mut Props) -> Result<(), TnefError> {
    let count = c.u32()?;
    for _ in 0..count {
        let ptype = c.u16()?;
        let id = c.u16()?;
        let named = id >= 0x8000;
        if named {
            c.bytes(16)?; // property set GUID
            match c.u32()? {
                0 => {
                    c.u32()?;
                }
                1 => {
                    let n = c.u32()? as usize;
                    c.bytes(padded(n))?;
                }
                _ => return Ok(()),
            }
        }
        let base = ptype & !MV_FLAG;
        let values = if ptype & MV_FLAG != 0 || is_variable(base) {
            c.u32()?
        } else {
            1
        };
        for k in 0..values {
            let v = value(c, base)?;
            let Some(v) = v else {
                return Ok(()); // an unknown type: its size is unknown too
            };
            if k == 0
                && !named
                && let Some(v) = v
            {
                props.0.entry(id).or_insert(v);
            }
        }
    }
    Ok(())
}

fn is_variable(t: u16) -> bool {
    matches!(t, PT_STRING8 | PT_UNICODE | PT_BINARY | PT_OBJECT)
}

fn padded(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// One value: Some(Some(v)) for the kinds kept, Some(None) for kinds
/// skipped, None for an unknown type.
fn value(c: &mut Cursor<'_>, t: u16) -> Result<Option<Option<Value>>, TnefError> {
    Ok(Some(match t {
        PT_SHORT | PT_BOOLEAN => {
            c.bytes(4)?;
            None
        }
        PT_LONG => Some(Value::Long(c.u32()?)),
        PT_FLOAT | PT_ERROR => {
            c.bytes(4)?;
            None
        }
        PT_DOUBLE | PT_CURRENCY | PT_APPTIME | PT_I8 | PT_SYSTIME => {
            c.bytes(8)?;
            None
        }
        PT_CLSID => {
            c.bytes(16)?;
            None
        }
        PT_STRING8 | PT_UNICODE | PT_BINARY | PT_OBJECT => {
            let n = c.u32()? as usize;
            let data = c.bytes(n)?;
            c.bytes(padded(n) - n)?;
            match t {
                PT_STRING8 => Some(Value::String8(data.to_vec())),
                PT_UNICODE => Some(Value::Unicode(data.to_vec())),
                // An embedded object starts with its interface ID.
                PT_OBJECT => Some(Value::Binary(data.get(16..).unwrap_or_default().to_vec())),
                _ => Some(Value::Binary(data.to_vec())),
            }
        }
        _ => return Ok(None),
    }))
}
