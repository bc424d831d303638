//! What the ad-library clients share: a page of ads, and the small amount
//! of HTML reading the scraped libraries need (tags, attributes, text).
//!
//! The HTML helpers are a scanner, not a parser: they find tags by their
//! attributes and read text up to a closing tag, which is all a list of ad
//! cards needs, and they cannot fail or panic on broken markup.

use leadgen_core::ads::Ad;

/// One page of ads, and how to ask for the next.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdPage {
    pub ads: Vec<Ad>,
    pub next: Option<String>,
}

/// An opening tag found in a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    /// Byte offset of its `<`.
    pub start: usize,
    /// Byte offset just past its `>`.
    pub end: usize,
    /// Lower-case is not enforced; compare with `eq_ignore_ascii_case`.
    pub name: &'a str,
    /// Everything between the name and the `>`.
    pub attrs: &'a str,
}

impl<'a> Tag<'a> {
    /// The (raw, undecoded) value of an attribute.
    pub fn attr(&self, name: &str) -> Option<&'a str> {
        attr_value(self.attrs, name)
    }

    /// Whether its `class` lists `class`.
    pub fn has_class(&self, class: &str) -> bool {
        self.attr("class")
            .is_some_and(|c| c.split_ascii_whitespace().any(|t| t == class))
    }
}

/// Opening tags of `html` from byte `from` on, in document order. Comments,
/// closing tags and declarations are skipped.
pub fn tags(html: &str, from: usize) -> impl Iterator<Item = Tag<'_>> {
    let mut pos = from.min(html.len());
    std::iter::from_fn(move || {
        loop {
            let rel = html.get(pos..)?.find('<')?;
            let start = pos + rel;
            let rest = html.get(start + 1..)?;
            if rest.starts_with("!--") {
                pos = match rest.find("-->") {
                    Some(e) => start + 1 + e + 3,
                    None => html.len(),
                };
                continue;
            }
            let name_len = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .unwrap_or(rest.len());
            if name_len == 0 {
                pos = start + 1;
                continue;
            }
            let end = start + 1 + tag_end(rest)?;
            pos = end;
            return Some(Tag {
                start,
                end,
                name: &rest[..name_len],
                attrs: html.get(start + 1 + name_len..end - 1).unwrap_or(""),
            });
        }
    })
}

/// Offset just past the `>` that ends a tag, skipping quoted values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<u8> = None;
    for (i, b) in s.bytes().enumerate() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'>') => return Some(i + 1),
            _ => {}
        }
    }
    None
}

fn attr_value<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = attrs;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if rest.is_empty() {
            return None;
        }
        let key_len = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let key = &rest[..key_len];
        rest = rest[key_len..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (v, next) = match after.as_bytes().first() {
                Some(&q @ (b'"' | b'\'')) => {
                    let body = &after[1..];
                    match body.find(q as char) {
                        Some(e) => (&body[..e], &body[e + 1..]),
                        None => (body, ""),
                    }
                }
                _ => {
                    let e = after
                        .find(|c: char| c.is_ascii_whitespace())
                        .unwrap_or(after.len());
                    (&after[..e], &after[e..])
                }
            };
            rest = next;
            v
        } else {
            ""
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(value);
        }
    }
}

/// The raw content of the element whose opening tag is `t`, up to the first
/// `</name` (elements of another name may nest inside).
pub fn inner_html<'a>(html: &'a str, t: &Tag<'_>) -> &'a str {
    let rest = html.get(t.end..).unwrap_or("");
    let close = format!("</{}", t.name.to_ascii_lowercase());
    let end = find_ignore_case(rest, &close).unwrap_or(rest.len());
    rest.get(..end).unwrap_or("")
}

fn find_ignore_case(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.len();
    hay.as_bytes()
        .windows(n)
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Text of an HTML fragment: tags dropped (`<br>` and block ends become
/// spaces), entities decoded, whitespace collapsed.
pub fn strip_tags(fragment: &str) -> String {
    let mut raw = String::with_capacity(fragment.len());
    let mut rest = fragment;
    while let Some(i) = rest.find('<') {
        raw.push_str(&rest[..i]);
        raw.push(' ');
        rest = match tag_end(&rest[i + 1..]) {
            Some(e) => &rest[i + 1 + e..],
            None => "",
        };
    }
    raw.push_str(rest);
    let decoded = decode_entities(&raw);
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Decodes the named entities pages use and numeric references; anything
/// else stays as written.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';').filter(|&e| e <= 11);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => ' ',
                _ => {
                    let n = name.strip_prefix('#')?;
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(h) => u32::from_str_radix(h, 16).ok()?,
                        None => n.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_attributes_and_text_survive_quotes_comments_and_nesting() {
        let html = r#"<!-- <div class="x"> --><DIV class="card  big" data-a='1>2'>
            <p class=t>Hello <b>big</b>&nbsp;world &amp; co &#39;24&#x21;</p></DIV>"#;
        let all: Vec<Tag<'_>> = tags(html, 0).collect();
        assert_eq!(
            all.iter().map(|t| t.name).collect::<Vec<_>>(),
            ["DIV", "p", "b"]
        );
        assert!(all[0].has_class("big") && !all[0].has_class("bi"));
        assert_eq!(all[0].attr("data-a"), Some("1>2"));
        assert_eq!(all[1].attr("class"), Some("t"));
        assert_eq!(
            strip_tags(inner_html(html, &all[1])),
            "Hello big world & co '24!"
        );
        assert_eq!(decode_entities("a &bogus; &#xZZ; &"), "a &bogus; &#xZZ; &");
        assert_eq!(decode_entities("&quot;x&quot;"), "\"x\"");
        assert_eq!(tags("<a href='x", 0).count(), 0);
    }
}
