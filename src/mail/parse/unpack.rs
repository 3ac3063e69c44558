//! A TNEF container (`winmail.dat`) read out into the mail: its body joins
//! the text (and its HTML the HTML), its files become attachments.

use super::body::{PartFate, Source, Walk, Went, owned};

impl Walk<'_, '_> {
    /// A TNEF container: its body joins the text (and HTML), its files are
    /// attachments. False when nothing could be read out of it (it is then
    /// kept as it is).
    pub(super) fn unpack_tnef(
        &mut self,
        data: &[u8],
        path: &str,
        ct: &str,
        name: Option<&str>,
    ) -> bool {
        let Ok(t) = crate::mail::tnef::read(data) else {
            return false;
        };
        if t.body.is_none() && t.html.is_none() && t.files.is_empty() {
            return false;
        }
        self.parts.push(PartFate {
            path: path.to_string(),
            content_type: ct.to_string(),
            filename: name.map(str::to_string),
            size: data.len(),
            charset: None,
            went: Went::Unpacked,
            note: Some(unpacked_note(&t)),
        });
        // What follows the cut is in no other place: the whole container
        // goes along as the file it came as.
        if t.cut_at.is_some() {
            self.attachments.push(Source::Owned(owned(
                Some(name.unwrap_or("winmail.dat").to_string()),
                ct.to_string(),
                None,
                data.to_vec(),
            )));
        }
        if let Some(b) = t.body {
            self.parts.push(PartFate {
                path: format!("{path}/body"),
                content_type: "text/plain".into(),
                filename: None,
                size: b.len(),
                charset: Some(t.body_charset.clone()),
                went: Went::Text,
                note: Some("the TNEF body".into()),
            });
            self.text.push(b);
        }
        if let Some(h) = t.html {
            self.parts.push(PartFate {
                path: format!("{path}/html"),
                content_type: "text/html".into(),
                filename: None,
                size: h.len(),
                charset: Some(t.body_charset.clone()),
                went: Went::Html,
                note: Some("the TNEF HTML body".into()),
            });
            self.html.push(h);
        }
        for (n, f) in t.files.into_iter().enumerate() {
            let ct = f
                .mime_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into());
            self.parts.push(PartFate {
                path: format!("{path}/{}", n + 1),
                content_type: ct.clone(),
                filename: f.name.clone(),
                size: f.data.len(),
                charset: None,
                went: Went::Attachment,
                note: Some("a file of the TNEF container".into()),
            });
            self.attachments
                .push(Source::Owned(owned(f.name, ct, None, f.data)));
        }
        true
    }
}

/// What a TNEF container gave, as its part's note.
fn unpacked_note(t: &crate::mail::tnef::Tnef) -> String {
    format!(
        "TNEF: {}{} file(s) read out of it{}",
        if t.body.is_some() || t.html.is_some() {
            "the body and "
        } else {
            ""
        },
        t.files.len(),
        match t.cut_at {
            Some(at) => format!("; cut short at byte {at}: the container is kept too"),
            None => String::new(),
        }
    )
}
