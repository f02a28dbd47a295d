use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let app = exposure::App::from_env().await?;
    let app = &app;
    run(service_fn(move |event| exposure::handle(app, event))).await
}
