#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::function::run::<admin::App>().await
}
