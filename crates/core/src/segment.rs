//! Segments: which leads a campaign, export or delivery takes, written in a
//! small filter language.
//!
//! ```text
//! industry = "dentist" and state in ("NY", "NJ") and score >= 70
//!     and email_status = "valid" and not tags has "do-not-call"
//! (tier = "A" or intent = "hot") and created_at >= 2026-01-01
//! running_ads = true and employee_count < 50
//! ```
//!
//! Grammar (keywords are case-insensitive; `and` binds tighter than `or`):
//!
//! ```text
//! expr  := term ("or" term)*
//! term  := unary ("and" unary)*
//! unary := "not" unary | "(" expr ")" | cond
//! cond  := FIELD OP value | FIELD "in" "(" value ("," value)* ")" | "tags" "has" STRING
//! OP    := "=" | "!=" | "<" | "<=" | ">" | ">="
//! value := "string" | integer | YYYY-MM-DD | true | false
//! ```
//!
//! Fields and what they take:
//!
//! | field | values | operators |
//! |---|---|---|
//! | `industry`, `state`, `city`, `country`, `source`, `title`, `company_domain` | string, compared without case | `=` `!=` `in` |
//! | `tier` (`A`/`B`/`C`), `intent` (`hot`/`warm`/`cold`), `status`, `lifecycle`, `email_status` (`valid`/`invalid`/`risky`/`catch_all`/`unknown`) | string | `=` `!=` `in` |
//! | `score`, `employee_count` | integer | all |
//! | `created_at` | date (UTC midnight) | all |
//! | `running_ads` | `true`/`false` (the lead's company runs ads now) | `=` `!=` |
//! | `tags` | string | `has` |
//!
//! A condition on a field the lead lacks is false, and `not` negates it, so
//! `not industry = "x"` holds for leads without an industry while
//! `industry != "x"` does not: that is what the SQL compilation does too.
//!
//! [`Segment::matches`] evaluates a segment on one lead (the reference the
//! store's SQL is tested against); the store compiles it to SQL.

use serde::{Deserialize, Serialize};

use crate::Lead;
use crate::lead::{IntentLevel, LeadStatus, LifecycleStage, Tier};

/// A parsed segment and the text it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub text: String,
    pub expr: Expr,
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum Expr {
    And {
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Or {
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Not {
        expr: Box<Expr>,
    },
    Cmp {
        field: SegField,
        cmp: CmpOp,
        value: Value,
    },
    In {
        field: SegField,
        values: Vec<Value>,
    },
    HasTag {
        tag: String,
    },
}

/// A field a condition can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegField {
    Industry,
    State,
    City,
    Country,
    Source,
    Title,
    CompanyDomain,
    Tier,
    Intent,
    Status,
    Lifecycle,
    EmailStatus,
    Score,
    EmployeeCount,
    CreatedAt,
    RunningAds,
}

str_enum!(SegField {
    Industry => "industry",
    State => "state",
    City => "city",
    Country => "country",
    Source => "source",
    Title => "title",
    CompanyDomain => "company_domain",
    Tier => "tier",
    Intent => "intent",
    Status => "status",
    Lifecycle => "lifecycle",
    EmailStatus => "email_status",
    Score => "score",
    EmployeeCount => "employee_count",
    CreatedAt => "created_at",
    RunningAds => "running_ads",
});

/// The kind of value a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Free text, compared without case.
    Text,
    /// One of a fixed set of words, compared exactly.
    Word(&'static [&'static str]),
    Int,
    /// Unix milliseconds, written as a date.
    Date,
    Bool,
}

const EMAIL_STATUSES: &[&str] = &["valid", "invalid", "risky", "catch_all", "unknown"];
const TIERS: &[&str] = &["A", "B", "C"];
const INTENTS: &[&str] = &["hot", "warm", "cold"];
const STATUSES: &[&str] = &[
    "raw",
    "enriching",
    "enriched",
    "validated",
    "invalid",
    "pushed_to_crm",
    "pushed_to_instantly",
];
const LIFECYCLES: &[&str] = &["new", "contacted", "replied", "meeting", "won", "lost"];

impl SegField {
    pub fn kind(self) -> FieldKind {
        use SegField::*;
        match self {
            Industry | State | City | Country | Source | Title | CompanyDomain => FieldKind::Text,
            Tier => FieldKind::Word(TIERS),
            Intent => FieldKind::Word(INTENTS),
            Status => FieldKind::Word(STATUSES),
            Lifecycle => FieldKind::Word(LIFECYCLES),
            EmailStatus => FieldKind::Word(EMAIL_STATUSES),
            Score | EmployeeCount => FieldKind::Int,
            CreatedAt => FieldKind::Date,
            RunningAds => FieldKind::Bool,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn holds<T: Ord + ?Sized>(self, a: &T, b: &T) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
}

/// A value as stored for comparison: text already lower case for
/// [`FieldKind::Text`] fields, dates as Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Text(String),
}

/// Why a segment did not parse, and where (a byte offset into the text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at column {}: {message}", .pos + 1)]
pub struct ParseError {
    pub pos: usize,
    pub message: String,
}

/// What [`Segment::matches`] needs beyond the lead itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadFacts {
    /// The status of the lead's latest email verification.
    pub email_status: Option<String>,
    /// Whether the lead's company runs ads now.
    pub running_ads: bool,
}

impl Segment {
    pub fn parse(text: &str) -> Result<Segment, ParseError> {
        let tokens = lex(text)?;
        let mut p = Parser {
            tokens,
            at: 0,
            end: text.len(),
        };
        let expr = p.expr(0)?;
        if let Some(t) = p.tokens.get(p.at) {
            return Err(err(
                t.pos,
                format!("expected 'and', 'or' or the end, found {}", t.tok),
            ));
        }
        Ok(Segment {
            text: text.to_owned(),
            expr,
        })
    }

    /// Whether `lead` (with `facts`) is in the segment.
    pub fn matches(&self, lead: &Lead, facts: &LeadFacts) -> bool {
        eval(&self.expr, lead, facts)
    }

    /// Whether the segment tests the lead's email verification.
    pub fn uses(&self, field: SegField) -> bool {
        fn walk(e: &Expr, f: SegField) -> bool {
            match e {
                Expr::And { left, right } | Expr::Or { left, right } => {
                    walk(left, f) || walk(right, f)
                }
                Expr::Not { expr } => walk(expr, f),
                Expr::Cmp { field, .. } | Expr::In { field, .. } => *field == f,
                Expr::HasTag { .. } => false,
            }
        }
        walk(&self.expr, field)
    }
}

/// A field's value on a lead, as a comparable [`Value`]; `None` if unknown.
fn field_value(field: SegField, lead: &Lead, facts: &LeadFacts) -> Option<Value> {
    let text = |s: Option<&str>| s.map(|s| Value::Text(s.to_lowercase()));
    let word = |s: &str| Some(Value::Text(s.to_owned()));
    match field {
        SegField::Industry => text(lead.industry.as_deref()),
        SegField::State => text(lead.state.as_deref()),
        SegField::City => text(lead.city.as_deref()),
        SegField::Country => text(lead.country.as_ref().map(|c| c.as_str())),
        SegField::Source => text(Some(&lead.source)),
        SegField::Title => text(lead.title.as_deref()),
        SegField::CompanyDomain => text(lead.company_domain.as_ref().map(|d| d.as_str())),
        SegField::Tier => word(Tier::as_str(lead.tier)),
        SegField::Intent => word(IntentLevel::as_str(lead.intent)),
        SegField::Status => word(LeadStatus::as_str(lead.status)),
        SegField::Lifecycle => word(LifecycleStage::as_str(lead.lifecycle)),
        SegField::EmailStatus => facts.email_status.clone().map(Value::Text),
        SegField::Score => Some(Value::Int(i64::from(lead.score))),
        SegField::EmployeeCount => lead.employee_count.map(|n| Value::Int(i64::from(n))),
        SegField::CreatedAt => Some(Value::Int(lead.created_at)),
        SegField::RunningAds => Some(Value::Bool(facts.running_ads)),
    }
}

fn eval(e: &Expr, lead: &Lead, facts: &LeadFacts) -> bool {
    match e {
        Expr::And { left, right } => eval(left, lead, facts) && eval(right, lead, facts),
        Expr::Or { left, right } => eval(left, lead, facts) || eval(right, lead, facts),
        Expr::Not { expr } => !eval(expr, lead, facts),
        Expr::Cmp { field, cmp, value } => match (field_value(*field, lead, facts), value) {
            (Some(Value::Text(a)), Value::Text(b)) => cmp.holds(a.as_str(), b.as_str()),
            (Some(Value::Int(a)), Value::Int(b)) => cmp.holds(&a, b),
            (Some(Value::Bool(a)), Value::Bool(b)) => cmp.holds(&a, b),
            _ => false,
        },
        Expr::In { field, values } => {
            field_value(*field, lead, facts).is_some_and(|v| values.contains(&v))
        }
        Expr::HasTag { tag } => lead.tags.iter().any(|t| t == tag),
    }
}

// ------------------------------------------------------------------ lexer

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Date(i64),
    Op(CmpOp),
    LParen,
    RParen,
    Comma,
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "'{s}'"),
            Tok::Str(s) => write!(f, "\"{s}\""),
            Tok::Int(n) => write!(f, "{n}"),
            Tok::Date(_) => f.write_str("a date"),
            Tok::Op(op) => write!(f, "'{}'", op.sql()),
            Tok::LParen => f.write_str("'('"),
            Tok::RParen => f.write_str("')'"),
            Tok::Comma => f.write_str("','"),
        }
    }
}

struct Token {
    tok: Tok,
    pos: usize,
}

fn err(pos: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        pos,
        message: message.into(),
    }
}

fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let single = |tok| Token { tok, pos: start };
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push(single(Tok::LParen));
                i += 1;
            }
            b')' => {
                out.push(single(Tok::RParen));
                i += 1;
            }
            b',' => {
                out.push(single(Tok::Comma));
                i += 1;
            }
            b'=' => {
                out.push(single(Tok::Op(CmpOp::Eq)));
                i += if bytes.get(i + 1) == Some(&b'=') {
                    2
                } else {
                    1
                };
            }
            b'!' | b'<' | b'>' => {
                let eq = bytes.get(i + 1) == Some(&b'=');
                let op = match (c, eq) {
                    (b'!', true) => CmpOp::Ne,
                    (b'<', true) => CmpOp::Le,
                    (b'<', false) if bytes.get(i + 1) == Some(&b'>') => CmpOp::Ne,
                    (b'<', false) => CmpOp::Lt,
                    (b'>', true) => CmpOp::Ge,
                    (b'>', false) => CmpOp::Gt,
                    _ => return Err(err(i, "'!' must be followed by '='")),
                };
                let wide = eq || (c == b'<' && bytes.get(i + 1) == Some(&b'>'));
                out.push(single(Tok::Op(op)));
                i += if wide { 2 } else { 1 };
            }
            b'"' | b'\'' => {
                let quote = c;
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&b) = bytes.get(i) else {
                        return Err(err(start, "unterminated string"));
                    };
                    if b == quote {
                        i += 1;
                        break;
                    }
                    if b == b'\\'
                        && matches!(bytes.get(i + 1), Some(&q) if q == quote || q == b'\\')
                    {
                        i += 1;
                    }
                    // Whole characters: `i` is always on a char boundary here.
                    let ch = text[i..].chars().next().unwrap_or('\u{fffd}');
                    s.push(ch);
                    i += ch.len_utf8();
                }
                out.push(Token {
                    tok: Tok::Str(s),
                    pos: start,
                });
            }
            b'0'..=b'9' | b'-' => {
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'-') {
                    i += 1;
                }
                let word = &text[start..i];
                let tok = if word.len() == 10 && word.as_bytes()[4] == b'-' {
                    let ms = crate::ads::ms_of_date(word)
                        .ok_or_else(|| err(start, format!("'{word}' is not a date")))?;
                    Tok::Date(ms)
                } else {
                    Tok::Int(
                        word.parse()
                            .map_err(|_| err(start, format!("'{word}' is not a number")))?,
                    )
                };
                out.push(Token { tok, pos: start });
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Ident(text[start..i].to_ascii_lowercase()),
                    pos: start,
                });
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(err(i, format!("unexpected character '{ch}'")));
            }
        }
    }
    Ok(out)
}

// ----------------------------------------------------------------- parser

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 64;

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at).map(|t| &t.tok)
    }

    fn pos(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |t| t.pos)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == w)
    }

    fn next(&mut self, what: &str) -> Result<Token, ParseError> {
        match self.tokens.get(self.at) {
            Some(t) => {
                self.at += 1;
                Ok(Token {
                    tok: t.tok.clone(),
                    pos: t.pos,
                })
            }
            None => Err(err(self.end, format!("expected {what}, found the end"))),
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, ParseError> {
        if depth > MAX_DEPTH {
            return Err(err(self.pos(), "nested too deeply"));
        }
        let mut left = self.term(depth)?;
        while self.is_word("or") {
            self.at += 1;
            let right = self.term(depth)?;
            left = Expr::Or {
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok(left)
    }

    fn term(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut left = self.unary(depth)?;
        while self.is_word("and") {
            self.at += 1;
            let right = self.unary(depth)?;
            left = Expr::And {
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ParseError> {
        if depth > MAX_DEPTH {
            return Err(err(self.pos(), "nested too deeply"));
        }
        if self.is_word("not") {
            self.at += 1;
            let expr = self.unary(depth + 1)?;
            return Ok(Expr::Not {
                expr: Box::new(expr),
            });
        }
        if self.peek() == Some(&Tok::LParen) {
            self.at += 1;
            let e = self.expr(depth + 1)?;
            let t = self.next("')'")?;
            if t.tok != Tok::RParen {
                return Err(err(t.pos, format!("expected ')', found {}", t.tok)));
            }
            return Ok(e);
        }
        self.cond()
    }

    fn cond(&mut self) -> Result<Expr, ParseError> {
        let t = self.next("a field")?;
        let Tok::Ident(name) = &t.tok else {
            return Err(err(t.pos, format!("expected a field, found {}", t.tok)));
        };
        if name == "tags" {
            let has = self.next("'has'")?;
            if has.tok != Tok::Ident("has".into()) {
                return Err(err(
                    has.pos,
                    format!("expected 'has' after tags, found {}", has.tok),
                ));
            }
            let v = self.next("a tag")?;
            let Tok::Str(tag) = v.tok else {
                return Err(err(
                    v.pos,
                    format!("expected a quoted tag, found {}", v.tok),
                ));
            };
            return Ok(Expr::HasTag { tag });
        }
        let field = SegField::parse(name).ok_or_else(|| {
            let names: Vec<&str> = SegField::ALL.iter().map(|f| f.as_str()).collect();
            err(
                t.pos,
                format!("unknown field '{name}'; fields: {}, tags", names.join(", ")),
            )
        })?;
        let op = self.next("an operator")?;
        match op.tok {
            Tok::Op(cmp) => {
                let ordered = matches!(field.kind(), FieldKind::Int | FieldKind::Date);
                if !ordered && !matches!(cmp, CmpOp::Eq | CmpOp::Ne) {
                    return Err(err(
                        op.pos,
                        format!(
                            "{} can only be compared with '=', '!=' or 'in'",
                            field.as_str()
                        ),
                    ));
                }
                let value = self.value(field)?;
                Ok(Expr::Cmp { field, cmp, value })
            }
            Tok::Ident(ref w) if w == "in" => {
                if field.kind() == FieldKind::Bool {
                    return Err(err(op.pos, format!("{} takes '=' or '!='", field.as_str())));
                }
                let open = self.next("'('")?;
                if open.tok != Tok::LParen {
                    return Err(err(
                        open.pos,
                        format!("expected '(' after in, found {}", open.tok),
                    ));
                }
                let mut values = vec![self.value(field)?];
                loop {
                    let t = self.next("',' or ')'")?;
                    match t.tok {
                        Tok::Comma => values.push(self.value(field)?),
                        Tok::RParen => break,
                        other => {
                            return Err(err(t.pos, format!("expected ',' or ')', found {other}")));
                        }
                    }
                }
                Ok(Expr::In { field, values })
            }
            other => Err(err(
                op.pos,
                format!("expected an operator (=, !=, <, <=, >, >=, in), found {other}"),
            )),
        }
    }

    fn value(&mut self, field: SegField) -> Result<Value, ParseError> {
        let t = self.next("a value")?;
        let name = field.as_str();
        match (field.kind(), t.tok) {
            (FieldKind::Text, Tok::Str(s)) => Ok(Value::Text(s.to_lowercase())),
            (FieldKind::Word(words), Tok::Str(s)) => {
                // Tiers are upper case, every other word lower case.
                let s = if words == TIERS {
                    s.to_uppercase()
                } else {
                    s.to_lowercase()
                };
                if words.contains(&s.as_str()) {
                    Ok(Value::Text(s))
                } else {
                    Err(err(t.pos, format!("{name} is one of {}", words.join(", "))))
                }
            }
            (FieldKind::Int, Tok::Int(n)) => Ok(Value::Int(n)),
            (FieldKind::Date, Tok::Date(ms)) => Ok(Value::Int(ms)),
            (FieldKind::Bool, Tok::Ident(w)) if w == "true" || w == "false" => {
                Ok(Value::Bool(w == "true"))
            }
            (kind, tok) => {
                let want = match kind {
                    FieldKind::Text | FieldKind::Word(_) => "a quoted string",
                    FieldKind::Int => "a number",
                    FieldKind::Date => "a date (YYYY-MM-DD)",
                    FieldKind::Bool => "true or false",
                };
                Err(err(t.pos, format!("{name} takes {want}, found {tok}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RecordId, SourceRef};

    fn lead() -> Lead {
        let mut l = Lead::empty(
            "apollo",
            SourceRef {
                at: 1_767_225_600_000, // 2026-01-01
                record: RecordId::new(1, 2),
            },
        );
        l.industry = Some("Dentist".into());
        l.state = Some("NY".into());
        l.score = 75;
        l.tags = vec!["vip".into()];
        l
    }

    fn m(text: &str, facts: &LeadFacts) -> bool {
        Segment::parse(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .matches(&lead(), facts)
    }

    #[test]
    fn the_issue_example_parses_and_matches() {
        let valid = LeadFacts {
            email_status: Some("valid".into()),
            running_ads: false,
        };
        let q = r#"industry = "dentist" and state in ("NY","NJ","CT") and score >= 70 and email_status = "valid""#;
        assert!(m(q, &valid));
        assert!(!m(q, &LeadFacts::default()));
        assert!(!m(&q.replace("70", "80"), &valid));
    }

    #[test]
    fn precedence_not_and_parentheses() {
        let f = LeadFacts::default();
        assert!(m(r#"state = "CA" or state = "NY" and score > 70"#, &f));
        assert!(!m(r#"(state = "CA" or state = "NY") and score > 80"#, &f));
        assert!(m(r#"not tags has "spam" and tags has "vip""#, &f));
        assert!(!m(r#"not (tags has "vip")"#, &f));
        assert!(m(
            "created_at >= 2026-01-01 and created_at < 2026-01-02",
            &f
        ));
        assert!(m(
            r#"tier = "c" and intent = "COLD" and source = "Apollo""#,
            &f
        ));
        assert!(m("running_ads = false", &f));
    }

    #[test]
    fn a_missing_field_fails_every_comparison_but_not_its_negation() {
        let f = LeadFacts::default();
        assert!(!m(r#"city = "x""#, &f));
        assert!(!m(r#"city != "x""#, &f));
        assert!(m(r#"not city = "x""#, &f));
        assert!(!m("employee_count < 10", &f));
    }

    #[test]
    fn errors_name_the_position() {
        let e = |t: &str| Segment::parse(t).unwrap_err();
        assert_eq!(e(r#"industry = "x" and"#).pos, 18);
        let unknown = e(r#"score >= 70 and colour = "red""#);
        assert_eq!(unknown.pos, 16);
        assert!(unknown.message.contains("unknown field 'colour'"));
        assert_eq!(e("score >= \"high\"").pos, 9);
        assert_eq!(e(r#"tier = "Z""#).message, "tier is one of A, B, C");
        assert_eq!(e(r#"industry > "a""#).pos, 9);
        assert_eq!(e(r#"industry = "dentist"#).message, "unterminated string");
        assert_eq!(e("(score > 1").message, "expected ')', found the end");
        assert_eq!(e("created_at > 2026-13-01").pos, 13);
        assert_eq!(e("score > 1 score").pos, 10);
        assert!(e("").message.contains("expected a field"));
        assert_eq!(e(&"(".repeat(500)).message, "nested too deeply");
        assert_eq!(e(&"not ".repeat(500)).message, "nested too deeply");
    }

    #[test]
    fn the_json_form_round_trips() {
        let s = Segment::parse(r#"not (tags has "a" or score in (1, 2)) and running_ads = true"#)
            .unwrap();
        let json = serde_json::to_string(&s).unwrap();
        let back: Segment = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    proptest::proptest! {
        #[test]
        fn no_input_panics(text in "\\PC{0,80}") {
            let _ = Segment::parse(&text);
        }

        #[test]
        fn keyword_soup_never_panics(words in proptest::collection::vec(
            proptest::sample::select(vec!["and", "or", "not", "(", ")", "score", ">=", "1",
                "\"x\"", "in", ",", "tags", "has", "industry", "=", "2026-01-01", "true"]), 0..20)) {
            let _ = Segment::parse(&words.join(" "));
        }
    }
}
