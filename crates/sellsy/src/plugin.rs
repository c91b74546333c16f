//! Sellsy as the engine sees it: its descriptor and how to connect. The
//! connector reads who is connected first (the account id that names every
//! key) and keeps it; without the network it starts from the one kept last
//! time, so calls still queue under the right account. A refused login is
//! an error either way.

use crate::{Sellsy, SellsyConfig, SellsyIdentity};
use callcard_core::clock::Clock;
use callcard_core::crm::{ContactSyncMode, Crm, CrmDescriptor, CrmError, SignIn};
use callcard_core::phone::Region;
use callcard_core::store::CrmIdentity;
use callcard_core::{Store, StoreError};
use callcard_crm_http::{BuiltInClient, CrmConfig, CrmPlugin, DefaultUrls};
use callcard_oauth::{OAuthClient, Session};
use std::sync::{Arc, Mutex};

pub const DESCRIPTOR: CrmDescriptor = CrmDescriptor {
    id: "sellsy",
    name: "Sellsy",
    env_prefix: "CALLCARD_SELLSY",
    // A public client: PKCE, no secret.
    sign_in: SignIn::Pkce,
    redirect_port: 47616,
    contact_sync: ContactSyncMode::ChangedContacts,
    imports_contacts: true,
    selected_by_default: false,
};

pub struct Plugin;

#[async_trait::async_trait]
impl CrmPlugin for Plugin {
    fn descriptor(&self) -> &'static CrmDescriptor {
        &DESCRIPTOR
    }

    fn built_in_client(&self) -> Option<BuiltInClient> {
        // A company or a reseller builds with its own client (docs/accounts.md).
        Some(BuiltInClient {
            client_id: option_env!("CALLCARD_BUILD_SELLSY_CLIENT_ID")?,
            client_secret: None,
        })
    }

    fn default_urls(&self) -> DefaultUrls {
        DefaultUrls {
            authorize: crate::AUTHORIZE_URL,
            token: crate::TOKEN_URL,
            api: crate::API_URL,
            app: crate::APP_URL,
        }
    }

    fn oauth_client(&self, config: &CrmConfig) -> OAuthClient {
        crate::oauth_client(&config.authorize_url, &config.token_url, &config.client_id)
    }

    async fn connect(
        &self,
        config: &CrmConfig,
        session: Arc<Session>,
        default_region: Option<Region>,
        store: &Mutex<Store>,
    ) -> Result<Arc<dyn Crm>, String> {
        let sellsy_config = SellsyConfig {
            api_url: config.api_url.clone(),
            app_url: config.app_url.clone(),
            default_region,
        };
        let connection = format!("{}@{}", config.client_id, config.token_url);
        let store = || store.lock().unwrap_or_else(|p| p.into_inner());
        match Sellsy::connect(session.clone(), sellsy_config.clone()).await {
            Ok(sellsy) => {
                if let Err(error) = keep_identity(&store(), &connection, sellsy.identity()) {
                    tracing::warn!(%error, "cannot keep the Sellsy account id");
                }
                Ok(Arc::new(sellsy))
            }
            Err(error @ CrmError::NeedsReconnect(_)) | Err(error @ CrmError::Rejected(_)) => {
                Err(error.to_string())
            }
            Err(error) => {
                let Some(identity) = kept_identity(&store(), &connection) else {
                    return Err(error.to_string());
                };
                tracing::warn!(%error, "Sellsy is unreachable; starting with the account kept from last time");
                Ok(Arc::new(Sellsy::with_identity(session, sellsy_config, identity)))
            }
        }
    }
}

fn keep_identity(store: &Store, connection: &str, identity: SellsyIdentity) -> Result<(), StoreError> {
    let kept = CrmIdentity {
        account: identity.account_id.to_string(),
        user_id: Some(identity.staff_id.to_string()),
    };
    store.keep_crm_identity(
        DESCRIPTOR.id,
        connection,
        &kept,
        callcard_core::clock::SystemClock.now_ms(),
    )
}

/// The identity kept last time; one kept by a Callcard from before the
/// identities had a table of their own is read from where it was then.
fn kept_identity(store: &Store, connection: &str) -> Option<SellsyIdentity> {
    let from_table = store
        .kept_crm_identity(DESCRIPTOR.id, connection)
        .ok()
        .flatten()
        .and_then(|kept| {
            Some(SellsyIdentity {
                account_id: kept.account.parse().ok()?,
                staff_id: kept.user_id?.parse().ok()?,
            })
        });
    from_table.or_else(|| {
        let legacy = |part: &str| {
            store
                .checkpoint(&format!("sellsy_identity:{connection}:{part}"))
                .ok()
                .flatten()
        };
        let identity = SellsyIdentity {
            account_id: legacy("account")?,
            staff_id: legacy("staff")?,
        };
        let _ = keep_identity(store, connection, identity);
        Some(identity)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_kept_by_an_older_callcard_is_read_and_moved_to_its_table() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        let connection = "client@https://login.example/token";
        assert_eq!(kept_identity(&store, connection), None);
        store
            .set_checkpoint(&format!("sellsy_identity:{connection}:account"), 48213)
            .unwrap();
        store
            .set_checkpoint(&format!("sellsy_identity:{connection}:staff"), 301)
            .unwrap();
        let found = SellsyIdentity {
            account_id: 48213,
            staff_id: 301,
        };
        assert_eq!(kept_identity(&store, connection), Some(found));
        assert_eq!(
            store.kept_crm_identity("sellsy", connection).unwrap(),
            Some(CrmIdentity {
                account: "48213".into(),
                user_id: Some("301".into()),
            })
        );
    }
}
