//! The Anthropic and OpenAI-compatible clients against their loopback
//! fakes: request shapes, usage, 401, 429 with Retry-After, 529, 500,
//! spend limits, timeouts.

use std::time::Duration;

use leadgen_integrations::anthropic::AnthropicClient;
use leadgen_integrations::fake_anthropic::{FAKE_KEY, FakeAnthropic, LlmFake};
use leadgen_integrations::fake_openai::FakeOpenAi;
use leadgen_integrations::http::{HttpClient, RetryPolicy};
use leadgen_integrations::llm::{LlmClient, LlmRequest};
use leadgen_integrations::openai_compat::OpenAiCompatClient;
use leadgen_integrations::{IntegrationError, ServiceConfig};
use serde_json::json;

fn config(base: String, key: &str) -> ServiceConfig {
    ServiceConfig {
        base_url: base,
        api_key: Some(key.to_owned()),
    }
}

fn quick(service: &'static str, timeout: Duration) -> HttpClient {
    HttpClient::new(service, timeout)
        .unwrap()
        .with_policy(RetryPolicy {
            retries: 2,
            base_delay: Duration::from_millis(10),
            max_wait: Duration::from_secs(2),
        })
}

fn request() -> LlmRequest {
    LlmRequest {
        model: "claude-test-model".into(),
        system: "You research companies.".into(),
        user: "Find contacts at acme.com".into(),
        schema: json!({"type": "object", "properties": {"contacts": {"type": "array"}}, "required": ["contacts"]}),
        schema_name: "find_contacts".into(),
        max_tokens: 1024,
    }
}

fn anthropic(fake: &LlmFake, key: &str) -> AnthropicClient {
    AnthropicClient::new(config(fake.base_url(), key))
        .unwrap()
        .with_http(quick("anthropic", Duration::from_secs(5)))
}

fn openai(fake: &LlmFake, key: &str) -> OpenAiCompatClient {
    OpenAiCompatClient::new(config(fake.base_url(), key))
        .unwrap()
        .with_http(quick("openai_compat", Duration::from_secs(5)))
}

#[tokio::test]
async fn anthropic_sends_output_config_and_reads_text_and_usage() {
    let fake = FakeAnthropic::spawn();
    fake.control().answer = std::sync::Arc::new(|_, user| json!({"contacts": [], "echo": user}));
    let r = anthropic(&fake, FAKE_KEY)
        .complete(&request())
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&r.text).unwrap();
    assert_eq!(v["echo"], "Find contacts at acme.com");
    assert_eq!((r.usage.input_tokens, r.usage.output_tokens), (1200, 300));
    assert_eq!(r.model, "claude-test-model");
    let sent = fake.control().requests[0].clone();
    assert_eq!(sent["output_config"]["format"]["type"], "json_schema");
    assert_eq!(
        sent["output_config"]["format"]["schema"]["required"][0],
        "contacts"
    );
    assert!(sent.get("tool_choice").is_none());
    assert_eq!(sent["system"], "You research companies.");
}

#[tokio::test]
async fn openai_compat_sends_response_format_and_reads_usage() {
    let fake = FakeOpenAi::spawn();
    fake.control().answer = std::sync::Arc::new(|_, _| json!({"contacts": [1]}));
    let r = openai(&fake, FAKE_KEY).complete(&request()).await.unwrap();
    assert_eq!(r.text, r#"{"contacts":[1]}"#);
    assert_eq!(r.usage.input_tokens, 1200);
    let sent = fake.control().requests[0].clone();
    assert_eq!(
        sent["response_format"]["json_schema"]["name"],
        "find_contacts"
    );
    assert_eq!(sent["messages"][0]["role"], "system");
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_naming_the_variable() {
    let a = FakeAnthropic::spawn();
    let err = anthropic(&a, "nope")
        .complete(&request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, IntegrationError::Auth { status: 401, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("LEADGEN_ANTHROPIC_API_KEY"));
    let o = FakeOpenAi::spawn();
    let err = openai(&o, "nope").complete(&request()).await.unwrap_err();
    assert!(
        matches!(err, IntegrationError::Auth { status: 401, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn short_429_and_529_and_500_are_retried_in_place() {
    let fake = FakeAnthropic::spawn();
    {
        let mut c = fake.control();
        c.fail_429 = 1;
        c.retry_after_s = 1;
        c.fail_529 = 1;
    }
    let started = std::time::Instant::now();
    let r = anthropic(&fake, FAKE_KEY).complete(&request()).await;
    assert!(r.is_ok(), "{r:?}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry-after honoured"
    );
    let o = FakeOpenAi::spawn();
    o.control().fail_500 = 2;
    assert!(openai(&o, FAKE_KEY).complete(&request()).await.is_ok());
}

#[tokio::test]
async fn a_long_retry_after_goes_back_to_the_queue() {
    let fake = FakeAnthropic::spawn();
    {
        let mut c = fake.control();
        c.fail_429 = 5;
        c.retry_after_s = 60;
    }
    let err = anthropic(&fake, FAKE_KEY)
        .complete(&request())
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)), "{err}");
    assert_eq!(fake.control().fail_429, 4, "not retried in place");
}

#[tokio::test]
async fn persistent_overload_fails_retryably_and_spend_limits_never_retry() {
    let fake = FakeAnthropic::spawn();
    fake.control().fail_529 = 10;
    let err = anthropic(&fake, FAKE_KEY)
        .complete(&request())
        .await
        .unwrap_err();
    assert!(
        matches!(err, IntegrationError::Server { status: 529, .. }),
        "{err}"
    );
    assert!(err.is_retryable());
    assert_eq!(fake.control().fail_529, 7, "three attempts");

    let spent = FakeAnthropic::spawn();
    spent.control().spend_limit = true;
    let err = anthropic(&spent, FAKE_KEY)
        .complete(&request())
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("spend limit"));
}

#[tokio::test]
async fn a_slow_model_times_out() {
    let fake = FakeOpenAi::spawn();
    fake.control().latency = Duration::from_secs(3);
    let c = OpenAiCompatClient::new(config(fake.base_url(), FAKE_KEY))
        .unwrap()
        .with_http(
            quick("openai_compat", Duration::from_millis(300)).with_policy(RetryPolicy {
                retries: 0,
                base_delay: Duration::from_millis(10),
                max_wait: Duration::from_secs(1),
            }),
        );
    let err = c.complete(&request()).await.unwrap_err();
    assert!(matches!(err, IntegrationError::Transport { .. }), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
}
