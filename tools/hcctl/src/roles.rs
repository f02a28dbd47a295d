//! `hcctl roles grant|revoke|list`: the roles of an account.

use shared::domain::role::Role;
use shared::store::Store;

use crate::Failure;
use crate::cli::{OutputFormat, RolesAction};

pub async fn run(store: &Store, action: RolesAction) -> Result<(), Failure> {
    let (user, role, grant) = match action {
        RolesAction::Grant { user, role } => (user, role, true),
        RolesAction::Revoke { user, role } => (user, role, false),
        RolesAction::List { user, output } => return list(store, &user, output).await,
    };
    let role = Role::from(role);
    let at = grant.then(time::OffsetDateTime::now_utc);
    if !store.set_role(&user, role, at).await? {
        return Err(no_account(store, &user));
    }
    println!(
        "{} {} {} {user}",
        if grant { "granted" } else { "revoked" },
        role.as_str(),
        if grant { "to" } else { "from" }
    );
    Ok(())
}

async fn list(store: &Store, user: &str, output: OutputFormat) -> Result<(), Failure> {
    let account = store.get_account(user).await?.ok_or_else(|| no_account(store, user))?;
    match output {
        OutputFormat::Table => {
            if account.roles.is_empty() {
                println!("{user} has no roles");
            }
            for (role, granted) in &account.roles {
                println!("{role}  granted {granted}");
            }
        }
        OutputFormat::Json => {
            let roles: Vec<_> = account
                .roles
                .iter()
                .map(|(role, granted)| serde_json::json!({ "role": role, "granted": granted }))
                .collect();
            println!("{}", serde_json::json!({ "user": user, "roles": roles }));
        }
        OutputFormat::Csv => crate::print_csv(
            &["role", "granted"],
            account.roles.iter().map(|(role, granted)| vec![role, granted]),
        )?,
    }
    Ok(())
}

fn no_account(store: &Store, user: &str) -> Failure {
    Failure::new(format!("no account `{user}` in table {}", store.tables.accounts))
}
