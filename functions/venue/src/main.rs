#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::function::run::<venue::App>().await
}
