//! The connector's configuration: the spec users fill in (generated from [`ConfigSpec`] with schemars) and
//! its validation, done once, into a [`Config`] of precise types.
//!
//! Validation reads the raw JSON field by field rather than through serde so that every problem gets its own
//! message and no message can quote the token.

use std::net::IpAddr;
use std::num::NonZeroU32;

use schemars::JsonSchema;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use url::Url;

use crate::input::json_type;
/// How an organization access token begins (redaction knows it too, so it lives there).
pub use crate::redact::TOKEN_PREFIX;

pub const DOCUMENTATION_URL: &str = "https://docs.airbyte.com/integrations/sources/polar";
/// The largest `requests_per_minute` accepted. Polar's own limit is lower (500 in production); more is
/// for proxies and local servers with higher limits, and the client still slows down on 429s.
pub const MAX_REQUESTS_PER_MINUTE: u32 = 100_000;

/// Polar Spec
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(title = "Polar Spec")]
#[allow(dead_code)] // Only its schema is used; validation reads the raw JSON.
pub struct ConfigSpec {
    /// An Organization Access Token (it starts with `polar_oat_`). Create one in the Polar dashboard under
    /// Settings > General > Developers > New Token, for the organization to sync, and grant it the read scopes
    /// of the streams to sync: {scopes}. A sandbox organization needs a token created on sandbox.polar.sh.
    #[schemars(title = "Organization Access Token", extend("airbyte_secret" = true, "order" = 0))]
    organization_access_token: String,

    /// Which Polar environment the token belongs to: `production` (https://api.polar.sh) or `sandbox`
    /// (https://sandbox-api.polar.sh).
    #[serde(default)]
    #[schemars(title = "Server", extend("order" = 1))]
    server: Server,

    /// Optional. Overrides the server's URL, for a proxy or a local Polar-like server. Must be https, except on
    /// a loopback address (127.0.0.1, ::1, localhost). Leave empty to use the server chosen above.
    #[schemars(title = "Base URL", extend("order" = 2, "examples" = ["https://polar-proxy.example.com"]))]
    base_url: Option<String>,

    /// Optional. The most API requests per minute this connector may send. Polar allows about 500 per minute
    /// in production and 100 in sandbox per organization, shared by everything that uses the organization's
    /// tokens: lower this to leave room for your own production traffic. Default: 400 (production), 80 (sandbox),
    /// reached over the sync's first minute from 300 (60) while Polar refuses nothing.
    #[schemars(title = "Requests per minute", range(min = 1, max = 100_000), extend("order" = 3))]
    requests_per_minute: Option<u32>,

    /// Optional. For streams synced incrementally: how far before the previous sync's cursor each sync looks
    /// again for changes, in minutes. Polar writes its system events asynchronously (a delayed event is retried
    /// for minutes) and dates some of them by the object's own time, so a change can appear in its change log
    /// after a sync already passed its time; the window catches it. Larger is safer and costs the re-reading of
    /// what changed in the window. Default: 60.
    #[schemars(title = "Lookback window (minutes)", range(min = 0, max = 10_080), extend("order" = 4))]
    lookback_minutes: Option<u32>,
}

/// The default lookback window of incremental syncs, in minutes.
pub const DEFAULT_LOOKBACK_MINUTES: u32 = 60;
/// The longest lookback window accepted: a week.
pub const MAX_LOOKBACK_MINUTES: u32 = 10_080;

/// A Polar environment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Server {
    #[default]
    Production,
    Sandbox,
}

impl Server {
    const NAMES: [&str; 2] = ["production", "sandbox"];

    pub fn url(self) -> &'static str {
        match self {
            Server::Production => "https://api.polar.sh",
            Server::Sandbox => "https://sandbox-api.polar.sh",
        }
    }

    /// The rate limit Polar documents for an organization on this server, per minute (an organization in its
    /// restricted group gets less).
    pub fn documented_limit_per_minute(self) -> NonZeroU32 {
        match self {
            Server::Production => NonZeroU32::new(500),
            Server::Sandbox => NonZeroU32::new(100),
        }
        .expect("non-zero")
    }

    /// A safe share (80 %) of the organization's default rate limit on this server.
    pub fn default_requests_per_minute(self) -> NonZeroU32 {
        match self {
            Server::Production => NonZeroU32::new(400),
            Server::Sandbox => NonZeroU32::new(80),
        }
        .expect("non-zero")
    }

    /// Where a sync with the default rate starts (60 % of the organization's limit): before any 429 the
    /// connector cannot know how much of the window the merchant's own traffic takes, and a window spent
    /// early refuses the merchant for the rest of it.
    pub fn cautious_start_per_minute(self) -> NonZeroU32 {
        match self {
            Server::Production => NonZeroU32::new(300),
            Server::Sandbox => NonZeroU32::new(60),
        }
        .expect("non-zero")
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Redacted in `Debug`; exposed only where the Authorization header is built.
    pub token: SecretString,
    /// Where the API lives, without a trailing slash (`https://api.polar.sh`, or the override).
    pub base_url: Url,
    pub requests_per_minute: NonZeroU32,
    /// The pace a sync starts at: `requests_per_minute` when the user set it, else a cautious start under the
    /// default ([`Server::cautious_start_per_minute`]).
    pub pace_start: NonZeroU32,
    /// The organization's rate limit per minute that Polar documents for the server
    /// ([`Server::documented_limit_per_minute`]): the pace measures its first spent window against it.
    pub documented_limit: NonZeroU32,
    /// How far before the previous cursor incremental syncs look again for changes.
    pub lookback: std::time::Duration,
}

/// What is wrong with a configuration, in words the user can act on.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("the config must be a JSON object, found {0}")]
    NotAnObject(&'static str),
    #[error(
        "'organization_access_token' is missing: create an Organization Access Token in the Polar dashboard \
         (Settings > General > Developers) and put it in the config"
    )]
    MissingToken,
    #[error("'organization_access_token' must be a string, found {0}")]
    TokenNotString(&'static str),
    #[error(
        "'organization_access_token' does not look like a Polar Organization Access Token: it must start with \
         '{TOKEN_PREFIX}' (personal and OAuth tokens cannot read an organization's data)"
    )]
    TokenPrefix,
    #[error(
        "'organization_access_token' contains spaces or control characters: paste the token alone"
    )]
    TokenCharacters,
    #[error("'server' must be \"production\" or \"sandbox\", found {0}")]
    BadServer(String),
    #[error("'base_url' must be a string URL, found {0}")]
    BaseUrlNotString(&'static str),
    #[error("'base_url' is not a valid URL ({0}): give a full URL such as https://api.polar.sh")]
    BaseUrlInvalid(String),
    #[error(
        "'base_url' must use https (plain http is allowed only on a loopback address), found '{0}'"
    )]
    BaseUrlInsecure(String),
    #[error(
        "'base_url' must not carry a query, fragment or credentials: give just the scheme, host and path"
    )]
    BaseUrlExtras,
    #[error(
        "'requests_per_minute' must be a whole number from 1 to {MAX_REQUESTS_PER_MINUTE}, found {0}"
    )]
    BadRate(String),
    #[error(
        "'lookback_minutes' must be a whole number from 0 to {MAX_LOOKBACK_MINUTES}, found {0}"
    )]
    BadLookback(String),
}

impl Config {
    /// Validates a raw config. Unknown fields are ignored (Airbyte adds its own). No message quotes the token,
    /// even when it was pasted into another field.
    pub fn from_json(raw: &Value) -> Result<Config, ConfigError> {
        let token = raw.get("organization_access_token").and_then(Value::as_str);
        Config::validate(raw).map_err(|error| error.without_secrets(token))
    }

    fn validate(raw: &Value) -> Result<Config, ConfigError> {
        let fields = raw
            .as_object()
            .ok_or(ConfigError::NotAnObject(json_type(raw)))?;
        let token = validate_token(fields)?;
        let server = match present(fields, "server") {
            None => Server::default(),
            Some(Value::String(name)) if Server::NAMES.contains(&name.as_str()) => {
                serde_json::from_value(Value::String(name.clone())).expect("a known server name")
            }
            Some(other) => return Err(ConfigError::BadServer(describe(other))),
        };
        let base_url = match present(fields, "base_url") {
            None => Url::parse(server.url()).expect("a built-in URL parses"),
            Some(Value::String(text)) if text.trim().is_empty() => {
                Url::parse(server.url()).expect("built-in")
            }
            Some(Value::String(text)) => validate_base_url(text.trim())?,
            Some(other) => return Err(ConfigError::BaseUrlNotString(json_type(other))),
        };
        let (requests_per_minute, pace_start) = match present(fields, "requests_per_minute") {
            None => (
                server.default_requests_per_minute(),
                server.cautious_start_per_minute(),
            ),
            Some(value) => {
                let rate = value
                    .as_u64()
                    .filter(|n| (1..=u64::from(MAX_REQUESTS_PER_MINUTE)).contains(n))
                    .and_then(|n| NonZeroU32::new(n as u32))
                    .ok_or_else(|| ConfigError::BadRate(describe(value)))?;
                (rate, rate)
            }
        };
        let lookback_minutes = match present(fields, "lookback_minutes") {
            None => DEFAULT_LOOKBACK_MINUTES,
            Some(value) => value
                .as_u64()
                .filter(|n| *n <= u64::from(MAX_LOOKBACK_MINUTES))
                .map(|n| n as u32)
                .ok_or_else(|| ConfigError::BadLookback(describe(value)))?,
        };
        Ok(Config {
            token,
            base_url,
            requests_per_minute,
            pace_start,
            documented_limit: server.documented_limit_per_minute(),
            lookback: std::time::Duration::from_secs(u64::from(lookback_minutes) * 60),
        })
    }

    /// The URL of an API path such as `/v1/orders/`.
    pub fn endpoint(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}{path}"));
        url
    }
}

impl ConfigError {
    /// The error with the token, and anything that looks like an access token, cut out of the text it quotes
    /// from the config.
    fn without_secrets(self, token: Option<&str>) -> ConfigError {
        let clean = |text: String| redact(&text, token);
        match self {
            ConfigError::BadServer(text) => ConfigError::BadServer(clean(text)),
            ConfigError::BaseUrlInsecure(text) => ConfigError::BaseUrlInsecure(clean(text)),
            ConfigError::BadRate(text) => ConfigError::BadRate(clean(text)),
            ConfigError::BadLookback(text) => ConfigError::BadLookback(clean(text)),
            other => other,
        }
    }
}

/// `text` with `token`, any piece of it, and every credential-shaped word replaced by `[redacted]`.
fn redact(text: &str, token: Option<&str>) -> String {
    crate::redact::Redactor::for_token(token.unwrap_or_default()).text(text)
}

/// A field's value, treating an explicit `null` as absent.
fn present<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    fields.get(name).filter(|value| !value.is_null())
}

/// A short description of a non-secret value for messages.
fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => format!("\"{}\"", text.chars().take(64).collect::<String>()),
        Value::Number(number) => number.to_string(),
        other => json_type(other).to_owned(),
    }
}

fn validate_token(fields: &Map<String, Value>) -> Result<SecretString, ConfigError> {
    let token = match present(fields, "organization_access_token") {
        None => return Err(ConfigError::MissingToken),
        Some(Value::String(token)) => token.trim(),
        Some(other) => return Err(ConfigError::TokenNotString(json_type(other))),
    };
    if token.is_empty() {
        return Err(ConfigError::MissingToken);
    }
    if !token.starts_with(TOKEN_PREFIX) {
        return Err(ConfigError::TokenPrefix);
    }
    if token
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || !c.is_ascii())
    {
        return Err(ConfigError::TokenCharacters);
    }
    Ok(SecretString::from(token.to_owned()))
}

fn validate_base_url(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|error| ConfigError::BaseUrlInvalid(error.to_string()))?;
    if url.host().is_none() || !matches!(url.scheme(), "https" | "http") {
        return Err(ConfigError::BaseUrlInvalid(
            "it needs an http(s) scheme and a host".into(),
        ));
    }
    if url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(ConfigError::BaseUrlExtras);
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(ConfigError::BaseUrlInsecure(text.to_owned()));
    }
    Ok(without_api_prefix(url))
}

/// Polar's base URL is often written with the API's `/v1` (`https://api.polar.sh/v1`), as its docs write the
/// endpoints; the connector adds `/v1/<list>/` itself, so a trailing `/v1` is dropped rather than doubled.
fn without_api_prefix(mut url: Url) -> Url {
    let path = url.path().trim_end_matches('/');
    if let Some(base) = path.strip_suffix("/v1") {
        let base = base.to_owned();
        url.set_path(if base.is_empty() { "/" } else { &base });
    }
    url
}

/// Whether `url` points at this machine, where plain http cannot be intercepted on the way.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The SPEC message's `spec`: documentation URL and the connection specification generated from [`ConfigSpec`].
pub fn spec() -> Value {
    let generator = schemars::generate::SchemaSettings::draft07()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator();
    let mut schema = generator.into_root_schema_for::<ConfigSpec>().to_value();
    // The scopes come from the stream table, so the spec cannot drift from the streams.
    if let Some(Value::String(description)) =
        schema.pointer_mut("/properties/organization_access_token/description")
    {
        *description = description.replace("{scopes}", &crate::streams::scopes_text());
    }
    // Optional fields come out as `["string", "null"]`; Airbyte's form expects the plain type, and absence
    // already means "not set".
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for property in properties.values_mut() {
            if let Some(Value::Array(types)) = property.get("type") {
                let concrete: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                if concrete.len() == 1 {
                    property["type"] = concrete[0].clone();
                }
            }
        }
    }
    json!({
        "documentationUrl": DOCUMENTATION_URL,
        "connectionSpecification": schema,
        "supportsIncremental": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn config(raw: Value) -> Result<Config, ConfigError> {
        Config::from_json(&raw)
    }

    #[test]
    fn minimal_config_defaults_to_production() {
        let config =
            config(json!({"organization_access_token": "polar_oat_abc", "extra": 1})).unwrap();
        assert_eq!(config.base_url.as_str(), "https://api.polar.sh/");
        assert_eq!(config.requests_per_minute.get(), 400);
        assert_eq!(
            config.pace_start.get(),
            300,
            "a cautious start under the default"
        );
        assert_eq!(config.token.expose_secret(), "polar_oat_abc");
        assert!(!format!("{config:?}").contains("polar_oat_abc"));
        assert_eq!(
            config.endpoint("/v1/orders/").as_str(),
            "https://api.polar.sh/v1/orders/"
        );
    }

    #[test]
    fn sandbox_and_overrides() {
        let config = config(
            json!({"organization_access_token": "polar_oat_x", "server": "sandbox",
            "base_url": "http://127.0.0.1:8080/proxy/", "requests_per_minute": 30}),
        )
        .unwrap();
        assert_eq!(
            config.endpoint("/v1/orders/").as_str(),
            "http://127.0.0.1:8080/proxy/v1/orders/"
        );
        assert_eq!(config.requests_per_minute.get(), 30);
        assert_eq!(
            config.pace_start.get(),
            30,
            "a rate the user chose is used from the start"
        );
        for (written, endpoint) in [
            ("https://api.polar.sh/v1", "https://api.polar.sh/v1/orders/"),
            (
                "https://api.polar.sh/v1/",
                "https://api.polar.sh/v1/orders/",
            ),
            (
                "https://proxy.example.com/polar/v1",
                "https://proxy.example.com/polar/v1/orders/",
            ),
            (
                "https://proxy.example.com/v12",
                "https://proxy.example.com/v12/v1/orders/",
            ),
        ] {
            let config = Config::from_json(
                &json!({"organization_access_token": "polar_oat_x", "base_url": written}),
            )
            .unwrap();
            assert_eq!(
                config.endpoint("/v1/orders/").as_str(),
                endpoint,
                "{written}"
            );
        }
        let sandbox = Config::from_json(
            &json!({"organization_access_token": "polar_oat_x", "server": "sandbox"}),
        );
        assert_eq!(
            sandbox.unwrap().base_url.as_str(),
            "https://sandbox-api.polar.sh/"
        );
    }

    #[test]
    fn no_message_quotes_a_token_pasted_into_another_field() {
        let token = "polar_oat_abcdefghijkl0123456789";
        for (field, value) in [
            ("base_url", format!("http://example.com/{token}")),
            ("server", format!("prod {token}")),
            ("base_url", "http://example.com/polar_oat_zzz".to_owned()),
        ] {
            let mut raw = json!({"organization_access_token": token});
            raw[field] = json!(value);
            let message = Config::from_json(&raw).unwrap_err().to_string();
            assert!(
                !message.contains(token) && !message.contains("polar_oat_"),
                "{message}"
            );
            assert!(message.contains("[redacted]"), "{message}");
        }
        // Not the token's own field only: an invalid token that is not prefixed is cut too.
        let raw = json!({"organization_access_token": "notprefixed-secret", "server": "notprefixed-secret"});
        assert!(
            !Config::from_json(&raw)
                .unwrap_err()
                .to_string()
                .contains("notprefixed-secret")
        );
    }

    #[test]
    fn each_problem_has_its_own_message() {
        let cases = [
            (json!([]), ConfigError::NotAnObject("an array")),
            (json!({}), ConfigError::MissingToken),
            (
                json!({"organization_access_token": ""}),
                ConfigError::MissingToken,
            ),
            (
                json!({"organization_access_token": 12}),
                ConfigError::TokenNotString("a number"),
            ),
            (
                json!({"organization_access_token": "polar_pat_x"}),
                ConfigError::TokenPrefix,
            ),
            (
                json!({"organization_access_token": "polar_oat_a b"}),
                ConfigError::TokenCharacters,
            ),
            (
                json!({"organization_access_token": "polar_oat_a", "server": "prod"}),
                ConfigError::BadServer("\"prod\"".into()),
            ),
            (
                json!({"organization_access_token": "polar_oat_a", "base_url": 3}),
                ConfigError::BaseUrlNotString("a number"),
            ),
            (
                json!({"organization_access_token": "polar_oat_a", "base_url": "http://api.polar.sh"}),
                ConfigError::BaseUrlInsecure("http://api.polar.sh".into()),
            ),
            (
                json!({"organization_access_token": "polar_oat_a", "base_url": "https://x.io/?a=1"}),
                ConfigError::BaseUrlExtras,
            ),
            (
                json!({"organization_access_token": "polar_oat_a", "requests_per_minute": 0}),
                ConfigError::BadRate("0".into()),
            ),
            (
                json!({"organization_access_token": "polar_oat_a", "requests_per_minute": 100_001}),
                ConfigError::BadRate("100001".into()),
            ),
            (
                json!({"organization_access_token": "polar_oat_a", "requests_per_minute": 1.5}),
                ConfigError::BadRate("1.5".into()),
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(Config::from_json(&raw).unwrap_err(), expected, "{raw}");
        }
        assert!(matches!(
            config(json!({"organization_access_token": "polar_oat_a", "base_url": "not a url"})),
            Err(ConfigError::BaseUrlInvalid(_))
        ));
    }

    #[test]
    fn loopback_may_use_http() {
        for url in [
            "http://localhost:1",
            "http://127.0.0.2:9",
            "http://[::1]:80",
        ] {
            assert!(
                config(json!({"organization_access_token": "polar_oat_a", "base_url": url}))
                    .is_ok(),
                "{url}"
            );
        }
    }
}
