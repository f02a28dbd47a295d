//! Request parsing, responses and problem+json (RFC 9457) errors.
//!
//! Every error a client sees is a [`Problem`] with a stable `code`. Details
//! name fields and rules, never the values sent, so that an error can be
//! logged or shown without leaking what a person typed.

use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Bodies above this size are refused before parsing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub type HttpResult = Result<Response<Body>, Problem>;

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: Option<String>,
    retry_after: Option<u32>,
    allow: Option<&'static str>,
    /// RFC 9457 extension members, such as the rows an import refused.
    extensions: Vec<(&'static str, serde_json::Value)>,
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<&'a str>,
    #[serde(flatten)]
    extensions: serde_json::Map<String, serde_json::Value>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str) -> Self {
        Self {
            status,
            code,
            title,
            detail: None,
            retry_after: None,
            allow: None,
            extensions: Vec::new(),
        }
    }

    /// Adds an extension member to the problem document.
    pub fn extension(mut self, name: &'static str, value: serde_json::Value) -> Self {
        self.extensions.push((name, value));
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request").detail(detail)
    }

    /// A body that parses but does not fit the route: 422 with the route's code.
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, "Invalid request").detail(detail)
    }

    pub fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Authentication required")
            .detail("a valid session token is required: Authorization: Bearer <token>")
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden")
    }

    pub fn identity_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "identity-required",
            "Real-name authentication required",
        )
        .detail("complete real-name authentication with POST /v1/identity first")
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found")
    }

    pub fn conflict(code: &'static str, title: &'static str) -> Self {
        Self::new(StatusCode::CONFLICT, code, title)
    }

    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut p = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
        );
        p.allow = Some(allow);
        p
    }

    pub fn payload_too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large")
            .detail(format!("request bodies are limited to {MAX_BODY_BYTES} bytes"))
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
        )
        .detail("send the body as application/json")
    }

    pub fn too_many(code: &'static str, title: &'static str) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, code, title)
    }

    /// The client may try again after `seconds` (the `Retry-After` header).
    pub fn retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// The store or an upstream service is unavailable: the client may retry.
    pub fn unavailable() -> Self {
        let mut p = Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable")
            .detail("the service is briefly unavailable; retry after the given delay");
        p.retry_after = Some(2);
        p
    }

    /// An unexpected failure. Its cause is logged, never returned.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error")
    }

    pub fn into_response(self) -> Response<Body> {
        self.render(None)
    }

    /// The response, with the request named as the problem's RFC 9457
    /// `instance` (`urn:request:<id>`, [`instance`]) so that a caller's
    /// report leads to the request's log lines. [`serve`] answers so.
    pub fn into_response_for(self, request_id: &str) -> Response<Body> {
        let instance = instance(request_id);
        self.render(instance.as_deref())
    }

    fn render(self, instance: Option<&str>) -> Response<Body> {
        let body = ProblemBody {
            kind: format!("urn:hbhc:problem:{}", self.code),
            title: self.title,
            status: self.status.as_u16(),
            code: self.code,
            detail: self.detail.as_deref(),
            instance,
            extensions: self
                .extensions
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        };
        let mut response = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, "application/problem+json")
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::Text(serde_json::to_string(&body).expect("problem serialises")))
            .expect("valid response");
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(allow) = self.allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    }
}

/// Runs a route handler for one request inside a span that carries the
/// request id ([`request_id`]), turns a [`Problem`] into its response with
/// that id as its `instance`, and logs the outcome: method, route shape,
/// status and duration, never a body, a query or an identifier. Every event
/// logged while the handler runs is inside the span, so every log line of
/// the request carries the id (the text format prints the span's fields
/// before the message, the JSON format of Lambda's `LoggingConfig` as
/// `span` and `spans`).
pub async fn serve<'r, F, Fut>(req: &'r Request, handler: F) -> Response<Body>
where
    F: FnOnce(&'r Request) -> Fut,
    Fut: std::future::Future<Output = HttpResult>,
{
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let route = route_shape(req);
    let id = request_id(req);
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), route = %route);
    async move {
        let response = handler(req)
            .await
            .unwrap_or_else(|problem| problem.into_response_for(&id));
        let status = response.status().as_u16();
        // To the microsecond: enough for a latency, and no long runs of digits.
        let elapsed_ms = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
        if status >= 500 {
            tracing::warn!(status, elapsed_ms, "request failed");
        } else {
            tracing::info!(status, elapsed_ms, "request done");
        }
        response
    }
    .instrument(span)
    .await
}

/// A problem's `instance` for a request id: `urn:request:<id>`; none for an
/// unknown id (`-`) or one that is not plain URI characters.
pub fn instance(request_id: &str) -> Option<String> {
    // API Gateway's ids are base64 (`JEm0ciQGIAMEMfA=`); Lambda's are UUIDs.
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~=+/".contains(&b);
    (request_id != "-" && !request_id.is_empty() && request_id.len() <= 128 && request_id.bytes().all(plain))
        .then(|| format!("urn:request:{request_id}"))
}

/// The words of this API's paths (docs/openapi.yaml).
const ROUTE_WORDS: &[&str] = &[
    "v1",
    "login",
    "identity",
    "logout",
    "me",
    "dependents",
    "declarations",
    "code",
    ".well-known",
    "jwks.json",
    "venues",
    "mine",
    "poster",
    "checkins",
    "scans",
    "admin",
    "risk-areas",
    "risk-persons",
    "subjects",
    "verification",
    "traces",
    "rankings",
    "appeals",
];

/// The path for logs: the words of our routes, and `{id}` for every other segment, so
/// that whatever a caller puts in a path (an id, a name, an ID number) is not logged.
fn route_shape(req: &Request) -> String {
    let mut shape = String::new();
    for segment in req.uri().path().split('/').filter(|s| !s.is_empty()) {
        shape.push('/');
        shape.push_str(if ROUTE_WORDS.contains(&segment) {
            segment
        } else {
            "{id}"
        });
    }
    if shape.is_empty() { "/".to_owned() } else { shape }
}

/// A JSON response. Responses of this API carry personal or short-lived
/// data, so none may be cached.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(serde_json::to_string(value).expect("response serialises")))
        .expect("valid response")
}

pub fn ok<T: Serialize>(value: &T) -> HttpResult {
    Ok(json(StatusCode::OK, value))
}

pub fn created<T: Serialize>(value: &T) -> HttpResult {
    Ok(json(StatusCode::CREATED, value))
}

pub fn no_content() -> HttpResult {
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::Empty)
        .expect("valid response"))
}

/// The body bytes, refused above [`MAX_BODY_BYTES`].
pub fn body_bytes(req: &Request) -> Result<&[u8], Problem> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(s) => s.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Problem::payload_too_large());
    }
    Ok(bytes)
}

/// Parses a JSON body. Malformed JSON (or non-UTF-8 bytes, or nesting beyond
/// serde_json's limit) is 400 `bad-request`; JSON that does not fit `T`
/// (missing fields, wrong types, unknown values) is 422 with the route's own
/// code, or 400 `bad-request` for routes that name none.
pub fn parse_json<T: DeserializeOwned>(req: &Request, invalid_code: Option<&'static str>) -> Result<T, Problem> {
    let bytes = body_bytes(req)?;
    check_content_type(req)?;
    if bytes.is_empty() {
        return Err(Problem::bad_request("a JSON body is required"));
    }
    // Syntax first, then shape: serde_json reports some shape errors (a number
    // where an enum's name belongs) as syntax errors when parsing straight into `T`.
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| Problem::bad_request("the body is not valid JSON"))?;
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let detail = data_error_detail(err.inner(), &path);
        match invalid_code {
            Some(code) => Problem::invalid(code, detail),
            None => Problem::bad_request(detail),
        }
    })
}

/// Describes a schema mismatch by field path only: serde's own messages can
/// quote the offending value, which may be personal data.
fn data_error_detail(err: &serde_json::Error, path: &str) -> String {
    let message = err.to_string();
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        if path == "." || path.is_empty() {
            return format!("missing field `{field}`");
        }
        return format!("missing field `{field}` in `{path}`");
    }
    if path == "." || path.is_empty() {
        "the body does not have the expected shape".to_owned()
    } else {
        format!("invalid value at `{path}`")
    }
}

/// JSON is what every route takes. Clients that send no content type, or the
/// defaults of common tools (curl's form type, text/plain), are accepted, since
/// the body is parsed as JSON either way; declared non-JSON formats are refused.
fn check_content_type(req: &Request) -> Result<(), Problem> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let media = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let accepted = media.is_empty()
        || media == "application/json"
        || (media.starts_with("application/") && media.ends_with("+json"))
        || media == "text/plain"
        || media == "application/x-www-form-urlencoded";
    if accepted {
        Ok(())
    } else {
        Err(Problem::unsupported_media_type())
    }
}

/// A query parameter, percent-decoded; empty values count as absent.
pub fn query(req: &Request, name: &str) -> Option<String> {
    let raw = req.uri().query()?;
    form_urlencoded::parse(raw.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// The `limit` query parameter of a paged list: `default` when absent, else
/// 1 to `max` (400 `bad-request` otherwise).
pub fn page_limit(req: &Request, default: usize, max: usize) -> Result<usize, Problem> {
    match query(req, "limit") {
        None => Ok(default),
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| Problem::bad_request(format!("`limit` is 1 to {max}"))),
    }
}

/// The `next` query parameter of a paged list: the position a page ended at,
/// as [`next_cursor`] wrapped it and `valid` accepts it, so that a client
/// cannot steer a query with a made-up bound (400 `bad-request` otherwise).
pub fn cursor(req: &Request, valid: impl Fn(&str) -> bool) -> Result<Option<String>, Problem> {
    use base64::Engine;
    query(req, "next")
        .map(|c| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c.as_bytes())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|c| valid(c))
                .ok_or_else(|| Problem::bad_request("`next` is not a cursor this route returned"))
        })
        .transpose()
}

/// A page's end position as the opaque `next` cursor of the answer.
pub fn next_cursor(position: Option<String>) -> Option<String> {
    use base64::Engine;
    position.map(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(p))
}

/// The path split into segments: `/v1/venues/mine` → `["v1", "venues", "mine"]`.
pub fn segments(req: &Request) -> Vec<String> {
    req.uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A header value, when it is present and visible ASCII.
pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters. A value
/// that does not fit is refused rather than ignored, so that a retry is
/// never applied twice by mistake.
pub fn idempotency_key(req: &Request) -> Result<Option<&str>, Problem> {
    let refused = || Problem::bad_request("`Idempotency-Key` is 1 to 255 visible ASCII characters");
    match req.headers().get("idempotency-key") {
        None => Ok(None),
        Some(value) => {
            let key = value.to_str().map_err(|_| refused())?.trim();
            if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
                Ok(Some(key))
            } else {
                Err(refused())
            }
        }
    }
}

/// The request id, for log correlation: API Gateway's (`$context.requestId`,
/// the API's access log and the `apigw-requestid` response header name the
/// request by it), else the Lambda invocation's (which the runtime's own span
/// carries as `requestId` anyway), else `-`.
pub fn request_id(req: &Request) -> String {
    let gateway = match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    };
    gateway
        .filter(|id| !id.is_empty())
        .or_else(|| req.lambda_context_ref().map(|c| c.request_id.clone()))
        .unwrap_or_else(|| "-".to_owned())
}

/// The answer for a path that exists with other methods.
pub fn method_check(req: &Request, allowed: &[Method], allow: &'static str) -> Result<(), Problem> {
    if allowed.contains(req.method()) {
        Ok(())
    } else {
        Err(Problem::method_not_allowed(allow))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body1 {
        name: String,
        age: u8,
    }

    fn request(body: &str, content_type: Option<&str>) -> Request {
        let mut builder = lambda_http::http::Request::builder().method("POST").uri("/v1/x");
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        builder.body(Body::Text(body.to_owned())).unwrap()
    }

    #[test]
    fn logged_routes_keep_route_words_and_hide_identifiers() {
        let shape = |path: &str| {
            route_shape(
                &lambda_http::http::Request::builder()
                    .uri(path)
                    .body(Body::Empty)
                    .unwrap(),
            )
        };
        assert_eq!(shape("/v1/venues/mine/poster"), "/v1/venues/mine/poster");
        assert_eq!(shape("/.well-known/jwks.json"), "/.well-known/jwks.json");
        assert_eq!(
            shape("/v1/admin/subjects/s_k4m5n6p7q2r3/verification"),
            "/v1/admin/subjects/{id}/verification"
        );
        // Whatever a caller puts in a path, a log shows at most a short lower-case word.
        assert_eq!(shape("/v1/me/130102199003070011"), "/v1/me/{id}");
        assert_eq!(shape("/v1/张三/wangwu"), "/v1/{id}/{id}");
        assert_eq!(shape("/"), "/");
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let err = parse_json::<Body1>(&request("{\"name\":", None), Some("invalid-x")).unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (400, "bad-request"));
        let err =
            parse_json::<Body1>(&request(r#"{"name":"a","age":1} trailing"#, None), Some("invalid-x")).unwrap_err();
        assert_eq!(err.code, "bad-request");
    }

    #[test]
    fn a_wrong_type_is_the_routes_422_and_does_not_echo_the_value() {
        let err = parse_json::<Body1>(
            &request(r#"{"name":"张三丰","age":"secret-value"}"#, None),
            Some("invalid-x"),
        )
        .unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (422, "invalid-x"));
        let detail = err.detail.unwrap();
        assert!(detail.contains("age") && !detail.contains("secret-value"), "{detail}");
        let err = parse_json::<Body1>(&request(r#"{"name":"张三丰"}"#, None), Some("invalid-x")).unwrap_err();
        assert_eq!(err.detail.unwrap(), "missing field `age`");
    }

    #[test]
    fn oversized_bodies_are_refused() {
        let big = format!("{{\"name\":\"{}\",\"age\":1}}", "a".repeat(MAX_BODY_BYTES));
        let err = parse_json::<Body1>(&request(&big, None), Some("invalid-x")).unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (413, "payload-too-large"));
    }

    #[test]
    fn nesting_beyond_128_levels_is_a_bad_request() {
        // serde_json stops at 128 levels instead of recursing on.
        let deep = format!("{}{}", "[".repeat(8000), "]".repeat(8000));
        assert_eq!(
            parse_json::<Body1>(&request(&deep, None), Some("invalid-x"))
                .unwrap_err()
                .code,
            "bad-request"
        );
        let hidden = format!(
            r#"{{"name":"a","age":1,"extra":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert_eq!(
            parse_json::<Body1>(&request(&hidden, None), Some("invalid-x"))
                .unwrap_err()
                .code,
            "bad-request"
        );
        let shallow = format!(
            r#"{{"name":"a","age":1,"extra":{}{}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        );
        assert!(parse_json::<Body1>(&request(&shallow, None), Some("invalid-x")).is_ok());
    }

    #[test]
    fn a_number_where_a_name_belongs_is_a_shape_error() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        enum Kind {
            A,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct WithKind {
            kind: Kind,
        }
        let err = parse_json::<WithKind>(&request(r#"{"kind": 3}"#, None), Some("invalid-x")).unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (422, "invalid-x"));
    }

    #[test]
    fn content_types() {
        let body = r#"{"name":"a","age":1}"#;
        for ct in [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/merge-patch+json",
        ] {
            assert!(parse_json::<Body1>(&request(body, Some(ct)), Some("x")).is_ok(), "{ct}");
        }
        for ct in ["application/xml", "multipart/form-data; boundary=x", "image/png"] {
            assert_eq!(
                parse_json::<Body1>(&request(body, Some(ct)), Some("x"))
                    .unwrap_err()
                    .code,
                "unsupported-media-type"
            );
        }
    }

    #[test]
    fn problems_are_rfc_9457_json() {
        let response = Problem::unavailable().into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        assert_eq!(response.headers()["retry-after"], "2");
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["code"], "unavailable");
        assert_eq!(v["status"], 503);
        assert_eq!(v["type"], "urn:hbhc:problem:unavailable");
    }

    fn gateway_request(request_id: &str) -> Request {
        let mut ctx = lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
        ctx.request_id = Some(request_id.to_owned());
        lambda_http::http::Request::builder()
            .method("GET")
            .uri("/v1/code")
            .body(Body::Empty)
            .unwrap()
            .with_request_context(lambda_http::request::RequestContext::ApiGatewayV2(ctx))
    }

    fn body_of(response: &Response<Body>) -> serde_json::Value {
        let Body::Text(text) = response.body() else {
            panic!("text body")
        };
        serde_json::from_str(text).unwrap()
    }

    #[tokio::test]
    async fn a_problem_names_the_request_as_its_instance() {
        let req = gateway_request("JEm0ciQGIAMEMfA=");
        assert_eq!(request_id(&req), "JEm0ciQGIAMEMfA=");
        let response = serve(&req, |_| async { Err::<Response<Body>, _>(Problem::not_found()) }).await;
        assert_eq!(
            body_of(&response),
            serde_json::json!({
                "type": "urn:hbhc:problem:not-found",
                "title": "Not found",
                "status": 404,
                "code": "not-found",
                "instance": "urn:request:JEm0ciQGIAMEMfA="
            })
        );
    }

    #[tokio::test]
    async fn without_a_request_id_a_problem_has_no_instance() {
        let req = lambda_http::http::Request::builder()
            .uri("/v1/code")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(request_id(&req), "-");
        let response = serve(&req, |_| async { Err::<Response<Body>, _>(Problem::not_found()) }).await;
        assert!(body_of(&response).get("instance").is_none());
        // Nor with an id that is not plain URI characters.
        let v = body_of(&Problem::not_found().into_response_for("a b\""));
        assert!(v.get("instance").is_none(), "{v}");
        assert_eq!(instance("a+b/c=="), Some("urn:request:a+b/c==".to_owned()));
    }

    /// A writer into a shared buffer, for the subscriber of the test below.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The functions log with `lambda_http::tracing::init_default_subscriber`:
    /// tracing-subscriber's fmt layer, JSON when Lambda's `LoggingConfig`
    /// says so. Built the same way here, every event of a request, the
    /// handler's own included, carries the request span's id in both formats.
    #[tokio::test]
    async fn every_log_line_of_a_request_carries_its_request_id() {
        use tracing::instrument::WithSubscriber;
        for json in [true, false] {
            let out = Captured::default();
            let writer = out.clone();
            let builder = tracing_subscriber::fmt()
                .with_target(false)
                .without_time()
                .with_ansi(false)
                .with_writer(move || writer.clone());
            let subscriber: Box<dyn tracing::Subscriber + Send + Sync> = if json {
                Box::new(builder.json().finish())
            } else {
                Box::new(builder.finish())
            };
            let req = gateway_request("JEm0ciQGIAMEMfA=");
            async {
                serve(&req, |_| async {
                    tracing::warn!("store unavailable");
                    Err::<Response<Body>, _>(Problem::unavailable())
                })
                .await
            }
            .with_subscriber(subscriber)
            .await;
            let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 2, "{text}");
            for line in lines {
                if json {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    assert_eq!(v["span"]["request_id"], "JEm0ciQGIAMEMfA=", "{line}");
                    assert_eq!(v["span"]["route"], "/v1/code", "{line}");
                } else {
                    assert!(line.contains("request_id=JEm0ciQGIAMEMfA="), "{line}");
                }
            }
        }
    }

    #[test]
    fn query_and_segments_are_decoded() {
        let req = lambda_http::http::Request::builder()
            .uri("/v1/dependents/s%5Fabc?subject_id=s_1&from=2026-11-26T08%3A00%3A00%2B08%3A00&empty=")
            .body(Body::Empty)
            .unwrap();
        assert_eq!(segments(&req), ["v1", "dependents", "s_abc"]);
        assert_eq!(query(&req, "subject_id").as_deref(), Some("s_1"));
        assert_eq!(query(&req, "from").as_deref(), Some("2026-11-26T08:00:00+08:00"));
        assert_eq!(query(&req, "empty"), None);
    }
}
