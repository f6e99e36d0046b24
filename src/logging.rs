//! Logs as go-plugin hosts read them: one hclog-shaped JSON object per line on stderr.
//!
//! Terraform parses each stderr line as JSON, takes `@level`, `@message` and `@timestamp` (which
//! must have exactly six fractional digits, or the whole line is demoted to an unparsed DEBUG
//! string) and shows every other key as a field. The level comes from the same variables users
//! already set for Terraform.
//!
//! Using it from provider code: plain `tracing` macros with structured fields, e.g.
//! `tracing::debug!(zone = %zone, replicas, "scaling the StatefulSet")`. Every line logged while
//! a gRPC call runs already carries `tf_rpc` and `tf_req_id`. Never log request payloads or
//! whole values; wrap anything secret in [`Redacted`]. Fields named like secrets (`token`,
//! `private_key`, `key_pem`, ...) are redacted regardless, and strings over 8 KiB are cut.
use std::io::Write as _;

use serde_json::{Map, Value};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Checked in order; the first one set wins. `TF_LOG_PROVIDER_CRDB` follows the per-provider
/// convention of terraform-plugin-log; the other two are Terraform's own.
pub const LEVEL_VARIABLES: [&str; 3] = ["TF_LOG_PROVIDER_CRDB", "TF_LOG_PROVIDER", "TF_LOG"];

/// Without any variable Terraform discards provider logs, but other hosts and humans running
/// the binary by hand still deserve to see warnings and errors.
const DEFAULT_LEVEL: LevelFilter = LevelFilter::WARN;

/// Dependencies (h2, hyper, tonic) log transport internals: noise at Terraform's TRACE level,
/// and not worth the risk of a header reaching a log. Their warnings still get through.
const DEPENDENCY_MAX_LEVEL: LevelFilter = LevelFilter::WARN;

/// Events from these targets are ours and follow the user's level.
const OWN_CRATE: &str = env!("CARGO_CRATE_NAME");

/// What a sensitive field's value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Field names that must never be written out, matched case-insensitively as substrings. The
/// framework should not log secrets in the first place; this is the belt to its braces.
const SENSITIVE_NAME_PARTS: [&str; 11] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "private_key",
    "privatekey",
    "key_pem",
    "credential",
    "authorization",
    "cookie",
];

/// go-plugin reads plugin stderr in 64 KiB chunks (newer releases) and a line cut in two is no
/// longer JSON, so long strings (a rendered manifest, say) are shortened to keep lines whole.
const MAX_STRING_BYTES: usize = 8 * 1024;

const TIMESTAMP_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// Wraps a value that must never reach a log: both `?` and `%` render it as `[redacted]`, so
/// `tracing::debug!(key = %Redacted(&pem))` records that a field exists without its content.
pub struct Redacted<T>(pub T);

impl<T> std::fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> std::fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Installs the stderr JSON logger at the level the environment asks for.
pub fn init() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let level = level_from_env(|key| std::env::var(key).ok());
    if level == LevelFilter::OFF {
        return;
    }
    // Only fails if a logger is already installed, which is then the one to keep.
    let _ = tracing_subscriber::registry()
        .with(HclogLayer::new(level, Stderr))
        .try_init();
}

/// The level chosen by the first non-empty variable of [`LEVEL_VARIABLES`].
pub fn level_from_env(env: impl Fn(&str) -> Option<String>) -> LevelFilter {
    LEVEL_VARIABLES
        .iter()
        .find_map(|key| env(key).filter(|value| !value.trim().is_empty()))
        .map_or(DEFAULT_LEVEL, |value| parse_level(&value))
}

/// Terraform's reading of a level: `JSON` means TRACE, and so does anything unrecognised
/// (Terraform warns and falls back to TRACE; doing the same keeps both logs in step).
fn parse_level(value: &str) -> LevelFilter {
    match value.trim().to_ascii_uppercase().as_str() {
        "OFF" => LevelFilter::OFF,
        "ERROR" => LevelFilter::ERROR,
        "WARN" => LevelFilter::WARN,
        "INFO" => LevelFilter::INFO,
        "DEBUG" => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

/// `2006-01-02T15:04:05.000000Z`: UTC with exactly six fractional digits, as hosts parse it.
pub fn format_timestamp(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(TIMESTAMP_FORMAT)
        .expect("a UTC date always formats")
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// `crdb.plugin.tls` for our own modules, `h2.codec` for a dependency's.
fn module_for_target(target: &str) -> String {
    let short = match target.strip_prefix(OWN_CRATE) {
        Some(rest) if rest.is_empty() || rest.starts_with("::") => format!("crdb{rest}"),
        _ => target.to_owned(),
    };
    short.replace("::", ".")
}

fn is_own_target(target: &str) -> bool {
    target
        .strip_prefix(OWN_CRATE)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

pub fn is_sensitive_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "key" || SENSITIVE_NAME_PARTS.iter().any(|part| name.contains(part))
}

/// Renders one log line (without the newline). Reserved `@` keys win over fields of the same
/// name; the `message` field becomes `@message`.
pub fn render_line(
    level: &Level,
    module: &str,
    at: OffsetDateTime,
    mut fields: Map<String, Value>,
) -> String {
    let message = match fields.remove("message") {
        Some(Value::String(text)) => text,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    fields.insert("@level".into(), level_name(level).into());
    fields.insert("@message".into(), message.into());
    fields.insert("@module".into(), module.into());
    fields.insert("@timestamp".into(), format_timestamp(at).into());
    Value::Object(fields).to_string()
}

/// Where finished lines go: stderr in the binary, a buffer in tests.
pub trait LineSink: Send + Sync + 'static {
    fn write_line(&self, line: &str);
}

pub struct Stderr;

impl LineSink for Stderr {
    fn write_line(&self, line: &str) {
        let mut buffer = String::with_capacity(line.len() + 1);
        buffer.push_str(line);
        buffer.push('\n');
        // One write under the lock, so concurrent events never interleave within a line. A
        // closed stderr (host gone) is not worth failing over.
        let _ = std::io::stderr().lock().write_all(buffer.as_bytes());
    }
}

/// A tracing layer writing hclog JSON lines.
pub struct HclogLayer<W> {
    max_level: LevelFilter,
    sink: W,
}

impl<W: LineSink> HclogLayer<W> {
    pub fn new(max_level: LevelFilter, sink: W) -> Self {
        Self { max_level, sink }
    }

    fn wants(&self, metadata: &Metadata<'_>) -> bool {
        let limit = if is_own_target(metadata.target()) {
            self.max_level
        } else {
            self.max_level.min(DEPENDENCY_MAX_LEVEL)
        };
        limit >= *metadata.level()
    }
}

/// Field values of a span, kept in its extensions so events inside it carry them.
#[derive(Default)]
struct Fields(Map<String, Value>);

impl Fields {
    fn insert(&mut self, field: &Field, value: Value) {
        let value = if is_sensitive_field(field.name()) {
            REDACTED.into()
        } else {
            match value {
                Value::String(text) => Value::String(truncate(text)),
                other => other,
            }
        };
        self.0.insert(field.name().to_owned(), value);
    }
}

/// Cuts `text` to at most [`MAX_STRING_BYTES`] (on a character boundary) and says so.
fn truncate(mut text: String) -> String {
    if text.len() <= MAX_STRING_BYTES {
        return text;
    }
    let original = text.len();
    let mut end = MAX_STRING_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&format!("... [{} more bytes]", original - end));
    text
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let number = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
        self.insert(field, number);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field, value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.insert(field, format!("{value:?}").into());
    }
}

impl<S, W> Layer<S> for HclogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: LineSink,
{
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // Target and level are static, so the decision is cached per call site: disabled
        // events then cost a single branch.
        if self.wants(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        self.wants(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max_level)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<Fields>() {
            values.record(fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(span_fields) = span.extensions().get::<Fields>() {
                    fields
                        .0
                        .extend(span_fields.0.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        event.record(&mut fields);
        let metadata = event.metadata();
        let line = render_line(
            metadata.level(),
            &module_for_target(metadata.target()),
            OffsetDateTime::now_utc(),
            fields.0,
        );
        self.sink.write_line(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use time::macros::datetime;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<String>>>);

    impl LineSink for Captured {
        fn write_line(&self, line: &str) {
            self.0.lock().unwrap().push(line.to_owned());
        }
    }

    impl Captured {
        fn json_lines(&self) -> Vec<Map<String, Value>> {
            self.0
                .lock()
                .unwrap()
                .iter()
                .map(|line| match serde_json::from_str(line).unwrap() {
                    Value::Object(map) => map,
                    other => panic!("not an object: {other}"),
                })
                .collect()
        }
    }

    fn capture(level: LevelFilter, body: impl FnOnce()) -> Vec<Map<String, Value>> {
        let captured = Captured::default();
        let subscriber =
            tracing_subscriber::registry().with(HclogLayer::new(level, captured.clone()));
        tracing::subscriber::with_default(subscriber, body);
        captured.json_lines()
    }

    use crate::test_env::env;

    #[test]
    fn timestamp_has_exactly_six_fractional_digits_in_utc() {
        assert_eq!(
            format_timestamp(datetime!(2026-11-22 14:00:00.123456789 UTC)),
            "2026-11-22T14:00:00.123456Z"
        );
        assert_eq!(
            format_timestamp(datetime!(2026-11-22 14:00:00 UTC)),
            "2026-11-22T14:00:00.000000Z"
        );
        assert_eq!(
            format_timestamp(datetime!(2026-11-22 16:00:00.5 +02:00)),
            "2026-11-22T14:00:00.500000Z"
        );
    }

    #[test]
    fn level_comes_from_the_most_specific_variable() {
        assert_eq!(level_from_env(env(&[])), LevelFilter::WARN);
        assert_eq!(
            level_from_env(env(&[("TF_LOG", "debug")])),
            LevelFilter::DEBUG
        );
        assert_eq!(
            level_from_env(env(&[("TF_LOG", "debug"), ("TF_LOG_PROVIDER", "Info")])),
            LevelFilter::INFO
        );
        assert_eq!(
            level_from_env(env(&[
                ("TF_LOG", "debug"),
                ("TF_LOG_PROVIDER", "info"),
                ("TF_LOG_PROVIDER_CRDB", "ERROR"),
            ])),
            LevelFilter::ERROR
        );
        // An empty variable counts as unset, as in Terraform.
        assert_eq!(
            level_from_env(env(&[("TF_LOG_PROVIDER", ""), ("TF_LOG", "warn")])),
            LevelFilter::WARN
        );
    }

    #[test]
    fn level_names_follow_terraform() {
        assert_eq!(parse_level("json"), LevelFilter::TRACE);
        assert_eq!(parse_level("TRACE"), LevelFilter::TRACE);
        assert_eq!(parse_level("off"), LevelFilter::OFF);
        assert_eq!(parse_level(" Warn "), LevelFilter::WARN);
        assert_eq!(parse_level("verbose"), LevelFilter::TRACE);
    }

    #[test]
    fn line_has_the_hclog_keys_and_fields_as_json_values() {
        let lines = capture(LevelFilter::TRACE, || {
            tracing::info!(
                count = 3,
                ok = true,
                ratio = 0.5,
                name = "eu",
                "applied {}",
                "x"
            );
        });
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["@level"], "info");
        assert_eq!(line["@message"], "applied x");
        assert_eq!(line["@module"], "crdb.logging.tests");
        assert_eq!(line["count"], 3);
        assert_eq!(line["ok"], true);
        assert_eq!(line["ratio"], 0.5);
        assert_eq!(line["name"], "eu");
        let timestamp = line["@timestamp"].as_str().unwrap();
        assert_eq!(timestamp.len(), "2026-11-22T14:00:00.123456Z".len());
        assert_eq!(timestamp.as_bytes()[19], b'.');
        assert!(timestamp.ends_with('Z'));
    }

    #[test]
    fn every_level_has_its_hclog_name() {
        let lines = capture(LevelFilter::TRACE, || {
            tracing::trace!("t");
            tracing::debug!("d");
            tracing::info!("i");
            tracing::warn!("w");
            tracing::error!("e");
        });
        let levels: Vec<_> = lines.iter().map(|l| l["@level"].clone()).collect();
        assert_eq!(levels, ["trace", "debug", "info", "warn", "error"]);
    }

    #[test]
    fn events_below_the_level_are_dropped() {
        let lines = capture(LevelFilter::INFO, || {
            tracing::debug!("hidden");
            tracing::info!("shown");
        });
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["@message"], "shown");
    }

    #[test]
    fn dependencies_are_held_to_warnings() {
        let lines = capture(LevelFilter::TRACE, || {
            tracing::debug!(target: "h2::codec", "frame");
            tracing::warn!(target: "h2::codec", "connection reset");
        });
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["@module"], "h2.codec");
    }

    #[test]
    fn span_fields_ride_along_and_events_override_them() {
        let lines = capture(LevelFilter::TRACE, || {
            let span = tracing::info_span!("rpc", tf_rpc = "GetSchema", attempt = 1);
            let _entered = span.enter();
            tracing::debug!(attempt = 2, "inside");
        });
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["tf_rpc"], "GetSchema");
        assert_eq!(lines[0]["attempt"], 2);
    }

    #[test]
    fn secret_looking_fields_are_redacted() {
        let lines = capture(LevelFilter::TRACE, || {
            tracing::info!(
                private_key = "-----BEGIN PRIVATE KEY-----",
                token = "eyJhbGciOi",
                key_pem = "pem",
                client_key_pem = ?"debug-formatted",
                Password = 1234,
                zone = "eu-west1-b",
                "connecting"
            );
        });
        let line = &lines[0];
        for name in [
            "private_key",
            "token",
            "key_pem",
            "client_key_pem",
            "Password",
        ] {
            assert_eq!(line[name], REDACTED, "{name}");
        }
        assert_eq!(line["zone"], "eu-west1-b");
        let raw = serde_json::to_string(line).unwrap();
        for secret in ["BEGIN PRIVATE", "eyJhbGciOi", "debug-formatted", "1234"] {
            assert!(!raw.contains(secret), "{secret} leaked: {raw}");
        }
    }

    #[test]
    fn long_strings_are_cut_to_keep_lines_whole() {
        let long = "é".repeat(MAX_STRING_BYTES); // two bytes each: the cut lands mid-character
        let lines = capture(LevelFilter::TRACE, || {
            tracing::info!(manifest = %long, "{long}");
        });
        for key in ["manifest", "@message"] {
            let value = lines[0][key].as_str().unwrap();
            assert!(
                value.len() < MAX_STRING_BYTES + 32,
                "{key} is {} bytes",
                value.len()
            );
            assert!(value.ends_with(&format!("... [{} more bytes]", MAX_STRING_BYTES)));
        }
        assert_eq!(truncate("short".into()), "short");
    }

    #[test]
    fn redacted_wrapper_hides_any_field() {
        let lines = capture(LevelFilter::TRACE, || {
            tracing::info!(
                ca = %Redacted("-----BEGIN CERTIFICATE-----"),
                kubeconfig = ?Redacted(vec!["user: admin"]),
                "loaded"
            );
        });
        assert_eq!(lines[0]["ca"], REDACTED);
        assert_eq!(lines[0]["kubeconfig"], REDACTED);
    }

    #[test]
    fn reserved_keys_cannot_be_spoofed_by_fields() {
        let mut fields = Map::new();
        fields.insert("@level".into(), "error".into());
        fields.insert("message".into(), "hello".into());
        let line = render_line(
            &Level::DEBUG,
            "crdb",
            datetime!(2026-11-22 14:00:00 UTC),
            fields,
        );
        assert_eq!(
            line,
            r#"{"@level":"debug","@message":"hello","@module":"crdb","@timestamp":"2026-11-22T14:00:00.000000Z"}"#
        );
    }

    #[test]
    fn modules_are_short_and_dotted() {
        assert_eq!(module_for_target(OWN_CRATE), "crdb");
        assert_eq!(
            module_for_target(&format!("{OWN_CRATE}::plugin::tls")),
            "crdb.plugin.tls"
        );
        assert_eq!(module_for_target("tonic::transport"), "tonic.transport");
        assert!(!is_own_target(&format!("{OWN_CRATE}_extra")));
    }
}
