//! The HTTPS client for the services login calls (WeChat, the identity
//! verifier), built on first use: building one loads the system's root
//! certificates, which would otherwise cost every cold start several
//! milliseconds, also where the development provider never calls out.

use std::sync::OnceLock;
use std::time::Duration;

#[derive(Default)]
pub struct LazyClient(OnceLock<reqwest::Client>);

impl LazyClient {
    /// The client: connect within 1 s, answer within 3 s.
    pub fn get(&self) -> &reqwest::Client {
        self.0.get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(1))
                .timeout(Duration::from_secs(3))
                .build()
                .expect("an HTTP client")
        })
    }
}
