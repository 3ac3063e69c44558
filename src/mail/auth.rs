//! `Authentication-Results` (RFC 8601) as proof that an agent's mail really
//! came from the agent's domain: `[security] trusted_authserv_ids`. Only
//! headers written by a trusted server count; any other server's header is
//! ignored (a sender can write whatever headers it likes).

/// One method result of an Authentication-Results header: `dkim=pass header.d=x`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MethodResult {
    method: String,
    result: String,
    /// `ptype.property=value` pairs, lowercased keys.
    props: Vec<(String, String)>,
}

/// Removes RFC 5322 comments `( … )` (they may nest).
fn strip_comments(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut depth = 0usize;
    for c in v.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The authserv-id and the method results of one header value.
fn parse(value: &str) -> Option<(String, Vec<MethodResult>)> {
    let clean = strip_comments(value);
    let mut parts = clean.split(';');
    let id = parts
        .next()?
        .split_whitespace()
        .next()?
        .to_ascii_lowercase();
    let mut results = Vec::new();
    for part in parts {
        let mut words = part.split_whitespace();
        let Some(first) = words.next() else { continue };
        let Some((method, result)) = first.split_once('=') else {
            continue;
        };
        let method = method.split('/').next().unwrap_or(method);
        let props = words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| {
                (
                    k.to_ascii_lowercase(),
                    v.trim_matches('"').to_ascii_lowercase(),
                )
            })
            .collect();
        results.push(MethodResult {
            method: method.to_ascii_lowercase(),
            result: result.to_ascii_lowercase(),
            props,
        });
    }
    Some((id, results))
}

/// Whether the mail's trusted Authentication-Results show `dmarc=pass` with
/// `header.from` = the agent's domain, or `dkim=pass` with `header.d` = it. `Ok` and `Err` both carry
/// the reason, for the ticket's event.
pub fn verify_sender(
    headers: &[(String, String)],
    trusted: &[String],
    sender: &str,
) -> Result<String, String> {
    let domain = sender
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    let mut seen_trusted = false;
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("Authentication-Results") {
            continue;
        }
        let Some((id, results)) = parse(value) else {
            continue;
        };
        if !trusted.iter().any(|t| t.eq_ignore_ascii_case(&id)) {
            continue;
        }
        seen_trusted = true;
        for r in &results {
            let prop = |key: &str| {
                r.props
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
            };
            // A pass counts only for the agent's own domain: DMARC's
            // header.from (a pass for evil.test says nothing about the
            // agent's From), DKIM's signing domain header.d.
            if r.method == "dmarc" && r.result == "pass" && prop("header.from") == Some(&domain) {
                return Ok(format!("{id} reports dmarc=pass for {domain}"));
            }
            if r.method == "dkim" && r.result == "pass" && prop("header.d") == Some(&domain) {
                return Ok(format!("{id} reports dkim=pass for {domain}"));
            }
        }
    }
    Err(if seen_trusted {
        format!("no dmarc=pass or dkim=pass for {domain} from a trusted server")
    } else {
        format!(
            "no Authentication-Results header from a trusted server ({})",
            trusted.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> Vec<(String, String)> {
        vec![("Authentication-Results".to_string(), v.to_string())]
    }
    const TRUSTED: &[&str] = &["mx.example.test"];

    fn check(v: &str) -> Result<String, String> {
        let trusted: Vec<String> = TRUSTED.iter().map(|s| s.to_string()).collect();
        verify_sender(&h(v), &trusted, "bob@example.test")
    }

    #[test]
    fn dmarc_pass_from_a_trusted_server() {
        assert!(
            check("mx.example.test; spf=pass smtp.mailfrom=example.test; dmarc=pass (p=reject) header.from=example.test").is_ok()
        );
        assert!(
            check("MX.Example.Test 1; dkim=pass (2048-bit key) header.d=example.test header.s=s1")
                .is_ok()
        );
    }

    #[test]
    fn failures_and_untrusted_servers() {
        assert!(check("mx.example.test; dmarc=fail header.from=example.test").is_err());
        // dkim passes, but for someone else's domain.
        assert!(check("mx.example.test; dkim=pass header.d=evil.test").is_err());
        // A header the sender wrote, naming another server, is ignored.
        let e = check("mx.evil.test; dmarc=pass header.from=example.test").unwrap_err();
        assert!(
            e.contains("no Authentication-Results header from a trusted server"),
            "{e}"
        );
        // A comment cannot smuggle a result in.
        assert!(
            check("mx.example.test; dmarc=fail (dmarc=pass) header.from=example.test").is_err()
        );
        assert!(verify_sender(&[], &["mx.example.test".into()], "bob@example.test").is_err());
    }

    #[test]
    fn dmarc_must_pass_for_the_agents_domain() {
        // A DMARC pass for the domain the attacker controls is no proof.
        let e = check("mx.example.test; dmarc=pass (p=none) header.from=evil.test").unwrap_err();
        assert!(e.contains("for example.test"), "{e}");
        // A pass without header.from names no domain at all.
        assert!(check("mx.example.test; dmarc=pass").is_err());
        assert!(check("mx.example.test; dmarc=pass header.from=EXAMPLE.test").is_ok());
        // A pass for a subdomain is another domain.
        assert!(check("mx.example.test; dmarc=pass header.from=mail.example.test").is_err());
    }
}
