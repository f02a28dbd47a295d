use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let store = shared::store::Store::from_env().await;
    shared::metrics::cold_start();
    let store = &store;
    run(service_fn(move |event| async move {
        let done = aggregator::handle(store, event).await;
        shared::metrics::flush();
        done
    }))
    .await
}
