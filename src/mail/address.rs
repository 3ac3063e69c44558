//! Subaddresses (`local+tag@domain`, RFC 5233): mailroom gives each mail to an
//! agent a Reply-To of the support address with a token as its tag, so the
//! agent's answer comes back to the support mailbox carrying that token.

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
