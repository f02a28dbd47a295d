//! `hcctl trust add|list|remove` and `hcctl partners add|revoke|list`: the
//! national interoperability's operator data (`shared::store::trust`).
//! The functions see a change within `HC_TRUST_TTL_SECONDS`.

use shared::domain::day::rfc3339;
use shared::domain::trust::{self, TrustedIssuer};
use shared::service::partners;
use shared::store::Store;
use shared::store::trust::{IssuerRecord, PartnerRecord};

use crate::Failure;
use crate::cli::{OutputFormat, PartnersAction, TrustAction};

fn now() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

pub async fn trust(store: &Store, action: TrustAction) -> Result<(), Failure> {
    match action {
        TrustAction::Add { issuer, prefix, jwks } => {
            let text = std::fs::read_to_string(&jwks)
                .map_err(|err| Failure::new(format!("cannot read {}: {err}", jwks.display())))?;
            let parsed = TrustedIssuer::new(&issuer, &prefix, &text).map_err(|err| Failure::new(err.to_string()))?;
            // Stored compact, as parsed: the file's layout does not matter.
            let compact = serde_json::from_str::<serde_json::Value>(&text)
                .map(|v| v.to_string())
                .map_err(|_| Failure::new("the JWK Set is not JSON"))?;
            let added_at = now();
            store
                .change_trusted_issuers(|issuers| {
                    if let Some((other, _)) = issuers
                        .iter()
                        .find(|(other, r)| **other != issuer && trust::overlaps(&r.prefix, &prefix))
                    {
                        return Err(format!("the prefix {prefix} overlaps that of {other}"));
                    }
                    issuers.insert(
                        issuer.clone(),
                        IssuerRecord {
                            prefix: prefix.clone(),
                            jwks: compact.clone(),
                            added_at: added_at.clone(),
                        },
                    );
                    Ok(())
                })
                .await?
                .map_err(Failure::new)?;
            println!("trusted {issuer} ({prefix}), keys {}", parsed.kids().join(", "));
            Ok(())
        }
        TrustAction::Remove { issuer } => {
            store
                .change_trusted_issuers(|issuers| {
                    issuers
                        .remove(&issuer)
                        .map(|_| ())
                        .ok_or_else(|| format!("{issuer} is not a trusted issuer"))
                })
                .await?
                .map_err(Failure::new)?;
            println!("removed {issuer}");
            Ok(())
        }
        TrustAction::List { output } => {
            let issuers = store.trusted_issuers().await?;
            let kids = |r: &IssuerRecord| {
                TrustedIssuer::new("any", &r.prefix, &r.jwks)
                    .map(|p| p.kids().join(" "))
                    .unwrap_or_else(|err| format!("(unusable: {err})"))
            };
            match output {
                OutputFormat::Table => {
                    if issuers.is_empty() {
                        println!("no trusted issuers");
                    }
                    for (issuer, r) in &issuers {
                        println!("{issuer}  {}  added {}  keys {}", r.prefix, r.added_at, kids(r));
                    }
                }
                OutputFormat::Json => {
                    let list: Vec<_> = issuers
                        .iter()
                        .map(|(issuer, r)| {
                            serde_json::json!({"issuer": issuer, "prefix": r.prefix, "added_at": r.added_at,
                                "jwks": serde_json::from_str::<serde_json::Value>(&r.jwks).unwrap_or_default()})
                        })
                        .collect();
                    println!("{}", serde_json::json!({ "issuers": list }));
                }
                OutputFormat::Csv => crate::print_csv(
                    &["issuer", "prefix", "added_at", "kids"],
                    issuers
                        .iter()
                        .map(|(issuer, r)| vec![issuer.clone(), r.prefix.clone(), r.added_at.clone(), kids(r)]),
                )?,
            }
            Ok(())
        }
    }
}

pub async fn partners(store: &Store, action: PartnersAction) -> Result<(), Failure> {
    match action {
        PartnersAction::Add { name } => {
            if !partners::is_partner_name(&name) {
                return Err(Failure::new(
                    "a partner name is 2 to 40 of a-z, 0-9 and '-', starting with a letter",
                ));
            }
            let key = partners::new_key();
            let record = PartnerRecord {
                key_hash: partners::key_hash(&key),
                added_at: now(),
                revoked_at: None,
            };
            store
                .change_partners(|list| match list.get(&name) {
                    Some(p) if p.revoked_at.is_none() => {
                        Err(format!("partner {name} exists: revoke it first to give it a new key"))
                    }
                    _ => {
                        list.insert(name.clone(), record.clone());
                        Ok(())
                    }
                })
                .await?
                .map_err(Failure::new)?;
            eprintln!("added partner {name}; its API key follows, shown this once:");
            println!("{key}");
            Ok(())
        }
        PartnersAction::Revoke { name } => {
            let at = now();
            store
                .change_partners(|list| match list.get_mut(&name) {
                    Some(p) if p.revoked_at.is_none() => {
                        p.revoked_at = Some(at.clone());
                        Ok(())
                    }
                    Some(_) => Err(format!("partner {name} is already revoked")),
                    None => Err(format!("no partner {name}")),
                })
                .await?
                .map_err(Failure::new)?;
            println!("revoked {name}");
            Ok(())
        }
        PartnersAction::List { output } => {
            let list = store.partners().await?;
            let revoked = |p: &PartnerRecord| p.revoked_at.clone().unwrap_or_default();
            match output {
                OutputFormat::Table => {
                    if list.is_empty() {
                        println!("no partners");
                    }
                    for (name, p) in &list {
                        match &p.revoked_at {
                            Some(at) => println!("{name}  added {}  revoked {at}", p.added_at),
                            None => println!("{name}  added {}", p.added_at),
                        }
                    }
                }
                OutputFormat::Json => {
                    let rows: Vec<_> = list
                        .iter()
                        .map(|(name, p)| serde_json::json!({"name": name, "added_at": p.added_at, "revoked_at": p.revoked_at}))
                        .collect();
                    println!("{}", serde_json::json!({ "partners": rows }));
                }
                OutputFormat::Csv => crate::print_csv(
                    &["name", "added_at", "revoked_at"],
                    list.iter()
                        .map(|(name, p)| vec![name.clone(), p.added_at.clone(), revoked(p)]),
                )?,
            }
            Ok(())
        }
    }
}
