//! The LLM research step: a prompt from an editable file, a JSON schema
//! per prompt kind, the model's answer validated against the schema, and
//! malformed answers repaired (code fences, text around the object) or
//! asked for again — never passed on as if valid. Every call's tokens and
//! dollars are counted, the failed attempts too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use leadgen_integrations::IntegrationError;
use leadgen_integrations::llm::{LlmClient, LlmRequest, LlmUsage, ModelPrice};
use serde::Serialize;
use serde_json::{Value, json};

/// What a prompt is for; each kind has its own file and schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PromptKind {
    FindContacts,
    ResearchCompany,
    ScoreLead,
}

impl PromptKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PromptKind::FindContacts => "find_contacts",
            PromptKind::ResearchCompany => "research_company",
            PromptKind::ScoreLead => "score_lead",
        }
    }

    fn bundled(self) -> &'static str {
        match self {
            PromptKind::FindContacts => include_str!("../prompts/find_contacts.md"),
            PromptKind::ResearchCompany => include_str!("../prompts/research_company.md"),
            PromptKind::ScoreLead => include_str!("../prompts/score_lead.md"),
        }
    }

    /// The JSON schema the answer must follow.
    pub fn schema(self) -> Value {
        let s = json!({"type": "string"});
        let s_or_null = json!({"type": ["string", "null"]});
        let unit = json!({"type": "number", "minimum": 0, "maximum": 1});
        match self {
            PromptKind::FindContacts => json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["contacts"],
                "properties": {"contacts": {"type": "array", "maxItems": 3, "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name", "title", "email", "linkedin", "confidence", "reasoning"],
                    "properties": {"name": s, "title": s, "email": s_or_null, "linkedin": s_or_null,
                                   "confidence": unit, "reasoning": s}}}}
            }),
            PromptKind::ResearchCompany => json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["summary", "industry", "size_estimate", "pain_points", "personalization_hooks"],
                "properties": {"summary": s, "industry": s, "size_estimate": s,
                    "pain_points": {"type": "array", "items": s, "maxItems": 3},
                    "personalization_hooks": {"type": "array", "items": s, "maxItems": 3}}
            }),
            PromptKind::ScoreLead => json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["score", "tier", "reasoning"],
                "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 100},
                    "tier": {"type": "string", "enum": ["A", "B", "C", "D"]}, "reasoning": s}
            }),
        }
    }
}

/// A prompt file: `# system` and `# user` sections, `{{name}}` slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub system: String,
    pub user: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LlmStepError {
    #[error("prompt {path}: {message}")]
    Prompt { path: String, message: String },
    #[error("no price for model {0:?}: add it under [enrich.prices] in the config")]
    NoPrice(String),
    #[error(transparent)]
    Service(#[from] IntegrationError),
    /// The model did not produce a valid answer in the attempts allowed.
    #[error("{provider} gave no valid {kind} answer in {attempts} attempts: {last_error}")]
    Malformed {
        provider: &'static str,
        kind: &'static str,
        attempts: u32,
        last_error: String,
        usage: LlmUsage,
        cost_micros: u64,
    },
}

impl Prompt {
    pub fn parse(text: &str) -> Option<Prompt> {
        let (_, rest) = text.split_once("# system")?;
        let (system, user) = rest.split_once("# user")?;
        Some(Prompt {
            system: system.trim().to_owned(),
            user: user.trim().to_owned(),
        })
    }

    /// Loads `kind`'s prompt from `dir` when given and the file exists,
    /// else the bundled default.
    pub fn load(kind: PromptKind, dir: Option<&Path>) -> Result<Prompt, LlmStepError> {
        let (text, path) = match dir.map(|d| d.join(format!("{}.md", kind.as_str()))) {
            Some(p) if p.exists() => (
                std::fs::read_to_string(&p).map_err(|e| LlmStepError::Prompt {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })?,
                p,
            ),
            _ => (
                kind.bundled().to_owned(),
                PathBuf::from(format!("(bundled) {}.md", kind.as_str())),
            ),
        };
        Prompt::parse(&text).ok_or_else(|| LlmStepError::Prompt {
            path: path.display().to_string(),
            message: "needs a '# system' section followed by a '# user' section".into(),
        })
    }

    /// The user text with `{{name}}` slots filled.
    pub fn render(&self, vars: &BTreeMap<&str, String>) -> String {
        let mut out = self.user.clone();
        for (k, v) in vars {
            out = out.replace(&format!("{{{{{k}}}}}"), v);
        }
        out
    }
}

/// A validated answer with what it cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlmAnswer {
    pub provider: &'static str,
    pub model: String,
    pub kind: PromptKind,
    pub value: Value,
    pub usage: LlmUsage,
    pub cost_micros: u64,
    pub attempts: u32,
}

/// Runs one prompt kind on a client, validating and retrying.
pub struct LlmStep<'a> {
    pub client: &'a dyn LlmClient,
    pub model: String,
    pub price: Option<ModelPrice>,
    pub prompts_dir: Option<PathBuf>,
    /// Calls per answer, the first included.
    pub max_attempts: u32,
    pub max_tokens: u32,
}

impl LlmStep<'_> {
    pub async fn ask(
        &self,
        kind: PromptKind,
        vars: &BTreeMap<&str, String>,
    ) -> Result<LlmAnswer, LlmStepError> {
        let price = self
            .price
            .ok_or_else(|| LlmStepError::NoPrice(self.model.clone()))?;
        let prompt = Prompt::load(kind, self.prompts_dir.as_deref())?;
        let schema = kind.schema();
        let mut req = LlmRequest {
            model: self.model.clone(),
            system: format!(
                "{}\n\nAnswer with one JSON object that follows this schema, and nothing else:\n{}",
                prompt.system, schema
            ),
            user: prompt.render(vars),
            schema: schema.clone(),
            schema_name: kind.as_str().into(),
            max_tokens: self.max_tokens,
        };
        let base_user = req.user.clone();
        let mut usage = LlmUsage::default();
        let mut last_error = String::new();
        let attempts = self.max_attempts.max(1);
        for attempt in 1..=attempts {
            let reply = self.client.complete(&req).await?;
            usage.input_tokens += reply.usage.input_tokens;
            usage.output_tokens += reply.usage.output_tokens;
            match repair(&reply.text).and_then(|v| validate(&v, &schema, "$").map(|()| v)) {
                Ok(value) => {
                    return Ok(LlmAnswer {
                        provider: self.client.provider(),
                        model: if reply.model.is_empty() {
                            self.model.clone()
                        } else {
                            reply.model
                        },
                        kind,
                        value,
                        usage,
                        cost_micros: price.cost_micros(usage),
                        attempts: attempt,
                    });
                }
                Err(e) => {
                    tracing::debug!(kind = kind.as_str(), attempt, error = %e, "invalid model answer");
                    last_error = e;
                    req.user = format!(
                        "{base_user}\n\nYour previous answer was not valid ({last_error}). Answer again with only the JSON object."
                    );
                }
            }
        }
        Err(LlmStepError::Malformed {
            provider: self.client.provider(),
            kind: kind.as_str(),
            attempts,
            last_error,
            usage,
            cost_micros: price.cost_micros(usage),
        })
    }
}

/// The JSON object in a model's text: as is, inside a code fence, or the
/// first balanced `{…}` in surrounding prose.
pub fn repair(text: &str) -> Result<Value, String> {
    let t = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(t) {
        return Ok(v);
    }
    let unfenced = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|s| s.trim_end().strip_suffix("```"))
        .map(str::trim);
    if let Some(u) = unfenced
        && let Ok(v) = serde_json::from_str::<Value>(u)
    {
        return Ok(v);
    }
    if let Some(start) = t.find('{') {
        let mut depth = 0i32;
        let mut in_str = false;
        let mut escaped = false;
        for (i, c) in t[start..].char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_str => escaped = true,
                '"' => in_str = !in_str,
                '{' if !in_str => depth += 1,
                '}' if !in_str => {
                    depth -= 1;
                    if depth == 0 {
                        return serde_json::from_str(&t[start..start + i + 1])
                            .map_err(|e| format!("not JSON: {e}"));
                    }
                }
                _ => {}
            }
        }
    }
    Err("no JSON object in the answer".into())
}

/// Checks `v` against the subset of JSON Schema our schemas use: type
/// (one or a list), required, properties, additionalProperties false,
/// items, maxItems, enum, minimum, maximum.
pub fn validate(v: &Value, schema: &Value, at: &str) -> Result<(), String> {
    if let Some(ty) = schema.get("type") {
        let types: Vec<&str> = match ty {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "number" => v.is_number(),
            "integer" => v.is_i64() || v.is_u64(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: expected {}", types.join(" or ")));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(v)
    {
        return Err(format!(
            "{at}: {v} is not one of {}",
            Value::Array(allowed.clone())
        ));
    }
    if let Some(n) = v.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            return Err(format!("{at}: {n} is below {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            return Err(format!("{at}: {n} is above {max}"));
        }
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !obj.contains_key(r) {
                return Err(format!("{at}: missing {r}"));
            }
        }
        for (k, x) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(s) => validate(x, s, &format!("{at}.{k}"))?,
                None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    return Err(format!("{at}: unexpected field {k}"));
                }
                None => {}
            }
        }
    }
    if let Some(arr) = v.as_array() {
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && arr.len() as u64 > max
        {
            return Err(format!("{at}: more than {max} items"));
        }
        if let Some(items) = schema.get("items") {
            for (i, x) in arr.iter().enumerate() {
                validate(x, items, &format!("{at}[{i}]"))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_prompts_parse_and_render() {
        for k in [
            PromptKind::FindContacts,
            PromptKind::ResearchCompany,
            PromptKind::ScoreLead,
        ] {
            let p = Prompt::load(k, None).unwrap();
            assert!(!p.system.is_empty() && !p.user.is_empty(), "{k:?}");
        }
        let p = Prompt::load(PromptKind::FindContacts, None).unwrap();
        let vars = BTreeMap::from([("domain", "acme.com".to_owned())]);
        assert!(p.render(&vars).contains("Domain: acme.com"));
    }

    #[test]
    fn a_user_prompt_file_overrides_the_bundled_one() {
        let dir = std::env::temp_dir().join(format!("leadgen-prompts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("score_lead.md"),
            "# system\nmine\n# user\nlead {{lead}}",
        )
        .unwrap();
        let p = Prompt::load(PromptKind::ScoreLead, Some(&dir)).unwrap();
        assert_eq!(p.system, "mine");
        std::fs::write(dir.join("score_lead.md"), "no sections").unwrap();
        assert!(Prompt::load(PromptKind::ScoreLead, Some(&dir)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn repair_finds_the_object_in_fences_and_prose() {
        assert_eq!(repair("```json\n{\"a\":1}\n```").unwrap(), json!({"a": 1}));
        assert_eq!(
            repair("Sure! Here it is: {\"a\": \"}\"} hope it helps").unwrap(),
            json!({"a": "}"})
        );
        assert!(repair("I cannot help with that").is_err());
    }

    #[test]
    fn validation_rejects_what_the_schema_forbids() {
        let s = PromptKind::ScoreLead.schema();
        assert!(
            validate(
                &json!({"score": 80, "tier": "A", "reasoning": "x"}),
                &s,
                "$"
            )
            .is_ok()
        );
        for bad in [
            json!({"score": 180, "tier": "A", "reasoning": "x"}),
            json!({"score": 80, "tier": "E", "reasoning": "x"}),
            json!({"score": 80.5, "tier": "A", "reasoning": "x"}),
            json!({"score": 80, "tier": "A"}),
            json!({"score": 80, "tier": "A", "reasoning": "x", "extra": 1}),
            json!([]),
        ] {
            assert!(validate(&bad, &s, "$").is_err(), "{bad}");
        }
        let c = PromptKind::FindContacts.schema();
        let ok = json!({"contacts": [{"name": "A B", "title": "CEO", "email": null,
            "linkedin": null, "confidence": 0.5, "reasoning": "r"}]});
        assert!(validate(&ok, &c, "$").is_ok());
    }
}
