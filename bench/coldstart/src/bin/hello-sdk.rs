//! Baseline: the echo function that first builds a DynamoDB client from
//! aws-config's defaults, as most Rust Lambdas do.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let client = &client;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let _ = client.config();
        Ok::<_, Error>(event.payload)
    }))
    .await
}
