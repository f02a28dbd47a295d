//! Creating the tables from their definitions, for the local stack and the
//! tests. In AWS the tables come from `template.yaml`, which a test keeps in
//! step with [`super::tables::ALL`].

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};

use super::tables::{self, TableDef, Tables};
use super::{Store, StoreError};

/// What `create_all` did with one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    Created(String),
    Existed(String),
}

impl Store {
    /// Creates every table that does not exist yet; existing ones are left
    /// as they are, so running it twice is harmless.
    pub async fn create_tables(&self) -> Result<Vec<Created>, StoreError> {
        let mut existing = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .list_tables()
                .set_exclusive_start_table_name(start)
                .send()
                .await?;
            existing.extend(page.table_names().iter().cloned());
            start = page.last_evaluated_table_name().map(str::to_owned);
            if start.is_none() {
                break;
            }
        }
        let mut report = Vec::new();
        for def in tables::ALL {
            let name = self.tables.name_of(def);
            if existing.contains(&name) {
                report.push(Created::Existed(name));
            } else {
                self.create_table(def, &name).await?;
                report.push(Created::Created(name));
            }
        }
        Ok(report)
    }

    async fn create_table(&self, def: &TableDef, name: &str) -> Result<(), StoreError> {
        let mut attributes = vec![def.pk];
        attributes.extend(def.sk);
        for index in def.indexes {
            attributes.extend([index.pk, index.sk]);
        }
        let mut request = self
            .client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema(def.pk, def.sk)));
        for attribute in attributes {
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(attribute)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("complete attribute definition"),
            );
        }
        for index in def.indexes {
            let projection = match index.projection {
                tables::Projection::KeysOnly => Projection::builder().projection_type(ProjectionType::KeysOnly).build(),
                tables::Projection::Include(attrs) => Projection::builder()
                    .projection_type(ProjectionType::Include)
                    .set_non_key_attributes(Some(attrs.iter().map(|a| a.to_string()).collect()))
                    .build(),
            };
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name)
                    .set_key_schema(Some(key_schema(index.pk, Some(index.sk))))
                    .projection(projection)
                    .build()
                    .expect("complete index definition"),
            );
        }
        if let Some(view) = def.stream {
            request = request.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(view.as_str()))
                    .build()
                    .expect("complete stream specification"),
            );
        }
        request.send().await?;
        if let Some(attribute) = def.ttl {
            self.client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .enabled(true)
                        .attribute_name(attribute)
                        .build()
                        .expect("complete TTL specification"),
                )
                .send()
                .await?;
        }
        Ok(())
    }
}

fn key_schema(pk: &str, sk: Option<&str>) -> Vec<KeySchemaElement> {
    let mut schema = vec![
        KeySchemaElement::builder()
            .attribute_name(pk)
            .key_type(KeyType::Hash)
            .build()
            .expect("key"),
    ];
    if let Some(sk) = sk {
        schema.push(
            KeySchemaElement::builder()
                .attribute_name(sk)
                .key_type(KeyType::Range)
                .build()
                .expect("key"),
        );
    }
    schema
}

/// The table names of a deployment, for reports.
pub fn names(tables: &Tables) -> Vec<String> {
    tables::ALL.iter().map(|def| tables.name_of(def)).collect()
}
