#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::function::run::<scan::App>().await
}
