//! Cold starts measured locally: each release binary is started against a
//! minimal Lambda Runtime API that hands out one event, and the benchmark
//! records the time from exec to the first `GET /runtime/invocation/next`
//! (initialisation done) and to the response of that first event.
//!
//! `cargo build --release --workspace --bins && cargo run --release -p coldstart -- [--runs N]`
//! (bench/coldstart.sh does both).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binaries measured, with the event each gets first: HTTP functions an
/// API Gateway request for an unknown route (answered without the store, so
/// the figure is start-up and routing, not DynamoDB), the aggregator and the
/// exposure worker an empty stream batch.
const SUBJECTS: [(&str, Event); 11] = [
    ("hello", Event::Http),
    ("hello-sdk", Event::Http),
    ("login", Event::Http),
    ("declaration", Event::Http),
    ("code", Event::Http),
    ("venue", Event::Http),
    ("scan", Event::Http),
    ("admin", Event::Http),
    ("aggregator", Event::Stream),
    ("exposure", Event::Stream),
    ("hcctl", Event::None),
];

#[derive(Clone, Copy, PartialEq)]
enum Event {
    Http,
    Stream,
    None,
}

const HTTP_EVENT: &str = r#"{"version":"2.0","routeKey":"$default","rawPath":"/v1/cold-start","rawQueryString":"","headers":{"host":"api.example","user-agent":"coldstart"},"requestContext":{"accountId":"123456789012","apiId":"api","domainName":"api.example","domainPrefix":"api","http":{"method":"GET","path":"/v1/cold-start","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"coldstart"},"requestId":"cold-1","routeKey":"$default","stage":"$default","time":"26/Nov/2026:02:00:00 +0000","timeEpoch":1795658400000},"isBase64Encoded":false}"#;
const STREAM_EVENT: &str = r#"{"Records":[]}"#;

struct Run {
    ready: Duration,
    answered: Duration,
}

enum Seen {
    Next(Instant),
    Response(Instant),
    Error(String),
}

/// Serves one Runtime API connection: the first `next` gets the event, a
/// second `next` is left waiting (the benchmark ends the process then).
fn serve(stream: TcpStream, event: &'static str, seen: mpsc::Sender<Seen>, handed: &std::sync::atomic::AtomicBool) {
    let mut reader = BufReader::new(stream.try_clone().expect("a socket"));
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
        let now = Instant::now();
        if path.ends_with("/invocation/next") {
            if handed.swap(true, std::sync::atomic::Ordering::SeqCst) {
                // The function is idle again: nothing more to hand out.
                std::thread::sleep(Duration::from_secs(3600));
                return;
            }
            let _ = seen.send(Seen::Next(now));
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: cold-1\r\nlambda-runtime-deadline-ms: {}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:cold\r\nlambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\ncontent-length: {}\r\n\r\n{}",
                (std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    + Duration::from_secs(60))
                .as_millis(),
                event.len(),
                event
            );
            let _ = writer.write_all(response.as_bytes());
        } else if path.ends_with("/response") {
            let _ = seen.send(Seen::Response(now));
            let _ = writer.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n");
        } else {
            let _ = seen.send(Seen::Error(format!("{path}: {}", String::from_utf8_lossy(&body))));
            let _ = writer.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n");
        }
    }
}

fn measure(binary: &PathBuf, event: &'static str, env: &BTreeMap<&str, String>) -> Result<Run, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let (seen, saw) = mpsc::channel();
    let handed: &'static std::sync::atomic::AtomicBool = Box::leak(Box::new(std::sync::atomic::AtomicBool::new(false)));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let seen = seen.clone();
            std::thread::spawn(move || serve(stream, event, seen, handed));
        }
    });
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let mut ready = None;
    let outcome = loop {
        match saw.recv_timeout(Duration::from_secs(20)) {
            Ok(Seen::Next(at)) => ready = Some(at - started),
            Ok(Seen::Response(at)) => {
                break Ok(Run {
                    ready: ready.unwrap_or_default(),
                    answered: at - started,
                });
            }
            Ok(Seen::Error(what)) => break Err(format!("the function reported an error: {what}")),
            Err(_) => break Err("no answer within 20 s".to_owned()),
        }
    };
    let _ = child.kill();
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    outcome.map_err(|err| format!("{err}; its stderr: {}", String::from_utf8_lossy(&output.stderr).trim()))
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// 32 random bytes in base64, as the functions read their keys.
fn key() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("random bytes");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn main() {
    let mut runs = 15;
    let mut dir = PathBuf::from("target/release");
    let mut arm64 = PathBuf::from("target/lambda");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--dir" => dir = args.next().map(PathBuf::from).expect("--dir PATH"),
            "--arm64-dir" => arm64 = args.next().map(PathBuf::from).expect("--arm64-dir PATH"),
            other => panic!("unknown argument {other}"),
        }
    }
    let env: BTreeMap<&str, String> = BTreeMap::from([
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIDCOLDSTART".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "cold".to_owned()),
        ("AWS_SESSION_TOKEN", "cold".to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", "cold".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ("HC_TABLE_PREFIX", "hc-".to_owned()),
        ("HC_SESSION_SECRET", key()),
        ("HC_PII_HASH_KEY", key()),
        ("HC_PII_ENC_KEY", key()),
        ("HC_CODE_SIGNING_KEY", key()),
        ("HC_CODE_ISSUER", "https://hc.example".to_owned()),
        ("HC_VENUE_KEY", key()),
        ("HC_VENUE_URL_BASE", "https://hc.example/v".to_owned()),
        ("HC_WECHAT_APPID", "wx-cold".to_owned()),
        ("HC_WECHAT_SECRET", "cold".to_owned()),
        ("HC_VERIFIER_URL", "https://verifier.example/verify".to_owned()),
        ("HC_VERIFIER_API_KEY", "cold".to_owned()),
    ]);

    println!(
        "Cold start: exec → first GET /invocation/next (ready) and → first response (answered); median of {runs} runs."
    );
    println!(
        "{:<12} {:>10} {:>10} {:>9} {:>9} {:>12} {:>12}",
        "binary", "ready", "answered", "÷ sdk", "÷ bare", "x86_64 MB", "arm64 MB"
    );
    let mut baseline = BTreeMap::new();
    for (name, event) in SUBJECTS {
        let binary = dir.join(name);
        let size = |path: PathBuf| {
            std::fs::metadata(path)
                .map(|m| format!("{:.2}", m.len() as f64 / 1e6))
                .unwrap_or_else(|_| "-".into())
        };
        let x86 = size(binary.clone());
        let arm = size(arm64.join(name).join("bootstrap"));
        if event == Event::None {
            println!(
                "{name:<12} {:>10} {:>10} {:>9} {:>9} {x86:>12} {arm:>12}",
                "-", "-", "", ""
            );
            continue;
        }
        let payload = if event == Event::Http { HTTP_EVENT } else { STREAM_EVENT };
        let mut ready = Vec::new();
        let mut answered = Vec::new();
        for _ in 0..runs {
            match measure(&binary, payload, &env) {
                Ok(run) => {
                    ready.push(run.ready);
                    answered.push(run.answered);
                }
                Err(err) => {
                    eprintln!("{name}: {err}");
                    std::process::exit(1);
                }
            }
        }
        let (r, a) = (median(ready), median(answered));
        baseline.insert(name, a);
        let ratio = |base: &str| {
            baseline
                .get(base)
                .map(|b| format!("{:.2}", a.as_secs_f64() / b.as_secs_f64()))
                .unwrap_or_default()
        };
        println!(
            "{name:<12} {:>8.2}ms {:>8.2}ms {:>9} {:>9} {x86:>12} {arm:>12}",
            r.as_secs_f64() * 1000.0,
            a.as_secs_f64() * 1000.0,
            ratio("hello-sdk"),
            ratio("hello"),
        );
    }
}
