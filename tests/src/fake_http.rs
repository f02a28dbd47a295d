//! Local fake HTTP servers for the services we cannot run here (WeChat,
//! identity verification): real sockets and real HTTP, so that our real
//! clients are tested end to end.

use std::net::SocketAddr;

use axum::Router;

/// Serves `router` on a free loopback port until the test ends.
pub async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("bound address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("fake server runs") });
    format!("http://{address}")
}
