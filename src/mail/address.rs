//! Addresses mailroom sends to. `EmailAddress` is one address, checked once
//! where a recipient enters the outbox; `Recipients` is a mail's envelope,
//! each address once, stored as one comma-separated column and read back
//! through `Recipients::read_stored` (the one split and the one join).
//! Subaddresses (`local+tag@domain`, RFC 5233): mailroom gives each mail to an
//! agent a Reply-To of the support address with a token as its tag, so the
//! agent's answer comes back to the support mailbox carrying that token.

/// One address that can be written into an SMTP envelope and into the
/// stored recipient list: `local@domain`, both parts non-empty, no
/// whitespace, control characters, commas, semicolons or angle brackets (a
/// quoted local part with a comma would split the stored list in two), and
/// a quote only around the whole local part.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

/// Why a text is not an `EmailAddress`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{address:?} is not a usable address: {reason}")]
pub struct InvalidAddress {
    pub address: String,
    pub reason: &'static str,
}

impl EmailAddress {
    /// Trimmed and checked; the case is kept as written (mailroom's parser
    /// already lowercases what it reads).
    pub fn parse(text: &str) -> Result<EmailAddress, InvalidAddress> {
        let address = text.trim();
        let invalid = |reason| InvalidAddress {
            address: address.to_string(),
            reason,
        };
        if address
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '<' | '>' | ';'))
        {
            return Err(invalid(
                "it holds a space, control character, comma, semicolon or angle bracket",
            ));
        }
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Err(invalid("it has no @"));
        };
        if local.is_empty() || domain.is_empty() {
            return Err(invalid("the part before or after the @ is empty"));
        }
        // A quoted local part is whole (`"a.b"@x`); a stray quote is half of
        // one that a split cut in two.
        let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
        let inner = if quoted {
            &local[1..local.len() - 1]
        } else {
            local
        };
        if inner.contains('"') || domain.contains('"') {
            return Err(invalid(
                "it has a quote that does not enclose the local part",
            ));
        }
        Ok(EmailAddress(address.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same mailbox as `other` (compared ignoring ASCII case).
    pub fn is(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A mail's envelope recipients, in order, each once (ignoring ASCII case).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Recipients(Vec<EmailAddress>);

/// A stored recipient list read back: the usable addresses, and any entry
/// that is not one (a row written by an older version or edited by hand),
/// which the outbox refuses alone instead of failing the whole mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredRecipients {
    pub usable: Recipients,
    pub unusable: Vec<InvalidAddress>,
}

impl Recipients {
    pub fn one(address: EmailAddress) -> Recipients {
        Recipients(vec![address])
    }

    /// Adds `address` unless it is there already.
    pub fn push(&mut self, address: EmailAddress) {
        if !self.0.iter().any(|a| a.is(address.as_str())) {
            self.0.push(address);
        }
    }

    pub fn as_slice(&self) -> &[EmailAddress] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The stored form: `a@x.test, b@y.test`.
    pub fn to_stored(&self) -> String {
        let mut out = String::new();
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(a.as_str());
        }
        out
    }

    /// A stored list (an outbox row's recipients or delivered-to) read back.
    pub fn read_stored(list: &str) -> StoredRecipients {
        let mut read = StoredRecipients::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match EmailAddress::parse(entry) {
                Ok(a) => read.usable.push(a),
                Err(e) => {
                    if !read.unusable.iter().any(|u| u.address == e.address) {
                        read.unusable.push(e);
                    }
                }
            }
        }
        read
    }
}

impl std::fmt::Display for Recipients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_stored())
    }
}

/// The tag of `email` when it is `base` with a subaddress: `support+t1@x` of
/// `support@x` is `t1`. Addresses compare case-insensitively (domain and, as
/// every mail system here treats it, local part); the tag is returned as
/// written. `None` for `base` itself or any other address.
pub fn subaddress_of<'e>(email: &'e str, base: &str) -> Option<&'e str> {
    let (local, domain) = email.rsplit_once('@')?;
    let (base_local, base_domain) = base.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(base_domain) {
        return None;
    }
    let tag = local
        .get(..base_local.len())
        .filter(|head| head.eq_ignore_ascii_case(base_local))
        .and_then(|_| local[base_local.len()..].strip_prefix('+'))?;
    (!tag.is_empty()).then_some(tag)
}

/// `base` with the subaddress `tag`: `support@x` + `t1` = `support+t1@x`.
pub fn with_subaddress(base: &str, tag: &str) -> String {
    match base.rsplit_once('@') {
        Some((local, domain)) => format!("{local}+{tag}@{domain}"),
        None => format!("{base}+{tag}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_checked_once() {
        assert_eq!(
            EmailAddress::parse(" Bob@Example.test ").map(|a| a.to_string()),
            Ok("Bob@Example.test".to_string())
        );
        for bad in [
            "",
            "no-at-sign",
            "@example.test",
            "bob@",
            "a b@x.test",
            "\"a,b\"@x.test",
            "b\"@x.test",
            "\"@x.test",
            "a@x\".test",
            "a,b@x.test",
            "<a@x.test>",
            "a@x.test\r\nBcc: c@evil.test",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} was taken");
        }
        assert!(EmailAddress::parse("\"a.b\"@x.test").is_ok());
        let e = EmailAddress::parse("nobody").err();
        assert_eq!(
            e.map(|e| e.to_string()),
            Some("\"nobody\" is not a usable address: it has no @".to_string())
        );
    }

    #[test]
    fn recipients_are_joined_and_split_in_one_place() {
        let mut r = Recipients::one(EmailAddress::parse("a@x.test").unwrap());
        r.push(EmailAddress::parse("A@X.test").unwrap());
        r.push(EmailAddress::parse("b@y.test").unwrap());
        assert_eq!(r.to_stored(), "a@x.test, b@y.test");
        let back = Recipients::read_stored(&r.to_stored());
        assert_eq!(back.usable, r);
        assert!(back.unusable.is_empty());
        // Empty entries are nothing; a bad entry is set apart, not dropped.
        let read = Recipients::read_stored(" a@x.test,,B@y.test , broken, a@X.test");
        let usable: Vec<&str> = read.usable.as_slice().iter().map(|a| a.as_str()).collect();
        assert_eq!(usable, ["a@x.test", "B@y.test"]);
        assert_eq!(read.unusable.len(), 1);
        assert_eq!(read.unusable[0].address, "broken");
    }

    #[test]
    fn subaddresses() {
        let base = "support@example.test";
        assert_eq!(
            subaddress_of("support+mr-1-ab@example.test", base),
            Some("mr-1-ab")
        );
        assert_eq!(subaddress_of("Support+X@Example.TEST", base), Some("X"));
        assert_eq!(subaddress_of("support@example.test", base), None);
        assert_eq!(subaddress_of("support+@example.test", base), None);
        assert_eq!(subaddress_of("supportx+a@example.test", base), None);
        assert_eq!(subaddress_of("support+a@evil.test", base), None);
        assert_eq!(subaddress_of("sup@example.test", base), None);
        assert_eq!(subaddress_of("no-at-sign", base), None);
        // A support address that has a tag of its own keeps it.
        assert_eq!(
            subaddress_of("help+desk+t2@example.test", "help+desk@example.test"),
            Some("t2")
        );
        assert_eq!(with_subaddress(base, "t1"), "support+t1@example.test");
        assert_eq!(
            subaddress_of(&with_subaddress(base, "mr-7-0f"), base),
            Some("mr-7-0f")
        );
    }
}
