//! A fault proxy between the functions' DynamoDB client and the emulator,
//! so that faults land *inside* a request: before a call reaches the store,
//! while the store applies it, after it applied it but before the answer
//! gets back, or as an error DynamoDB itself gives (a transaction conflict,
//! throttling), or as a store that never answers.
//!
//! The proxy forwards each HTTP request on a connection of its own and
//! answers it on the client's connection, then closes that connection (the
//! SDK opens another). Faults are armed by position: "the 3rd DynamoDB call
//! from now, for 2 calls", so a test first records the calls a request makes
//! without faults, then cuts each one in turn.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// What happens to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The connection is closed before the call reaches the store.
    Drop,
    /// The call reaches the store, and the client's connection is closed at
    /// once, while the store applies it: the client never learns the outcome.
    CutDuring,
    /// The store applies the call and answers; the answer is lost.
    CutAfter,
    /// The call waits this long before it is forwarded.
    Delay(Duration),
    /// DynamoDB cancels the transaction for a conflict with another one
    /// (`TransactionCanceledException`, every reason `TransactionConflict`);
    /// for any other call, `TransactionConflictException`.
    TransactionConflict,
    /// `ProvisionedThroughputExceededException`.
    Throttled,
    /// The call is held until [`FaultProxy::release`]: a frozen store.
    Freeze,
}

/// One call as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The DynamoDB operation, from `X-Amz-Target` (`PutItem`, ...).
    pub operation: String,
    /// The fault applied to it, if any.
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct Plan {
    /// Calls still to pass before the fault: the fault hits the next one at 0.
    skip: usize,
    /// How many calls the fault hits in a row.
    times: usize,
    fault: Option<Fault>,
    seen: Vec<Seen>,
}

pub struct FaultProxy {
    port: u16,
    plan: Arc<Mutex<Plan>>,
    released: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy to the emulator at `upstream` (`host:port`), on a free port.
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let plan = Arc::new(Mutex::new(Plan::default()));
        let released = Arc::new(Notify::new());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let task = {
            let plan = plan.clone();
            let released = released.clone();
            tokio::spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    let (plan, released, upstream) = (plan.clone(), released.clone(), upstream.clone());
                    tokio::spawn(async move {
                        let _ = serve(client, &upstream, &plan, &released).await;
                    });
                }
            })
        };
        Self {
            port,
            plan,
            released,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forgets what it saw and arms `fault` for `times` calls in a row,
    /// starting with call `at` (0-based) from now.
    pub fn arm(&self, at: usize, fault: Fault, times: usize) {
        let mut plan = self.plan.lock().unwrap();
        *plan = Plan {
            skip: at,
            times,
            fault: Some(fault),
            seen: Vec::new(),
        };
    }

    /// Forgets what it saw and lets every call through.
    pub fn disarm(&self) {
        *self.plan.lock().unwrap() = Plan::default();
    }

    /// The calls seen since the last `arm` or `disarm`.
    pub fn seen(&self) -> Vec<Seen> {
        self.plan.lock().unwrap().seen.clone()
    }

    /// Lets frozen calls go on.
    pub fn release(&self) {
        self.released.notify_waiters();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The fault for the call just read, counting it.
fn next_fault(plan: &Mutex<Plan>, operation: &str) -> Option<Fault> {
    let mut plan = plan.lock().unwrap();
    let fault = if plan.skip > 0 {
        plan.skip -= 1;
        None
    } else if plan.times > 0 {
        plan.times -= 1;
        plan.fault
    } else {
        None
    };
    plan.seen.push(Seen {
        operation: operation.to_owned(),
        fault,
    });
    fault
}

async fn serve(mut client: TcpStream, upstream: &str, plan: &Mutex<Plan>, released: &Notify) -> std::io::Result<()> {
    let Some(request) = read_message(&mut client).await? else {
        return Ok(());
    };
    let operation = header(&request, "x-amz-target")
        .and_then(|t| t.rsplit('.').next().map(str::to_owned))
        .unwrap_or_default();
    match next_fault(plan, &operation) {
        None => {
            let answer = forward(upstream, &request).await?;
            client.write_all(&answer).await?;
        }
        Some(Fault::Drop) => {}
        Some(Fault::CutDuring) => {
            // The store gets the whole call and applies it on its own; the
            // client's connection is gone before it answers.
            let upstream = upstream.to_owned();
            let pending = tokio::spawn(async move { forward(&upstream, &request).await });
            drop(client);
            let _ = pending.await;
            return Ok(());
        }
        Some(Fault::CutAfter) => {
            forward(upstream, &request).await?;
        }
        Some(Fault::Delay(by)) => {
            tokio::time::sleep(by).await;
            let answer = forward(upstream, &request).await?;
            client.write_all(&answer).await?;
        }
        Some(Fault::TransactionConflict) => {
            client.write_all(&conflict(&operation, &request)).await?;
        }
        Some(Fault::Throttled) => {
            let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded."}"#;
            client.write_all(&error_response(body)).await?;
        }
        Some(Fault::Freeze) => {
            released.notified().await;
            let answer = forward(upstream, &request).await?;
            client.write_all(&answer).await?;
        }
    }
    client.shutdown().await
}

/// The call sent upstream on a connection of its own, and the whole answer.
async fn forward(upstream: &str, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(&with_connection_close(request)).await?;
    let mut answer = Vec::new();
    server.read_to_end(&mut answer).await?;
    Ok(answer)
}

/// Reads one HTTP/1.1 message (headers and a `Content-Length` body).
async fn read_message(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            let length = header(&buffer[..end + 4], "content-length")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(None);
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
            return Ok(Some(buffer));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A header's value, by case-insensitive name.
fn header(message: &[u8], name: &str) -> Option<String> {
    let end = find(message, b"\r\n\r\n").unwrap_or(message.len());
    String::from_utf8_lossy(&message[..end])
        .lines()
        .skip(1)
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
}

/// The request with `Connection: close`, so the upstream answer ends at EOF.
fn with_connection_close(request: &[u8]) -> Vec<u8> {
    let end = find(request, b"\r\n\r\n").unwrap_or(request.len());
    let head = String::from_utf8_lossy(&request[..end]);
    let mut out: Vec<u8> = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect::<Vec<_>>()
        .join("\r\n")
        .into_bytes();
    out.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    out.extend_from_slice(&request[(end + 4).min(request.len())..]);
    out
}

fn error_response(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// DynamoDB's answer to a call that conflicts with another transaction.
fn conflict(operation: &str, request: &[u8]) -> Vec<u8> {
    if operation != "TransactWriteItems" {
        let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionConflictException","message":"Transaction is ongoing for the item"}"#;
        return error_response(body);
    }
    let body_start = find(request, b"\r\n\r\n").map_or(request.len(), |e| e + 4);
    let items = serde_json::from_slice::<serde_json::Value>(&request[body_start..])
        .ok()
        .and_then(|v| v["TransactItems"].as_array().map(Vec::len))
        .unwrap_or(1);
    let reasons: Vec<serde_json::Value> = (0..items)
        .map(|_| serde_json::json!({"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}))
        .collect();
    let body = serde_json::json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]",
        "CancellationReasons": reasons,
    })
    .to_string();
    error_response(&body)
}
