use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let app = login::App::from_env().await?;
    let app = &app;
    run(service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(login::handle(app, req).await)
    }))
    .await
}
