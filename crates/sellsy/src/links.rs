//! Where records open in Sellsy's web app. Sellsy does not document these
//! URLs, so every pattern lives here, under one configurable base
//! (`CALLCARD_SELLSY_APP_URL`).

use callcard_core::crm::RecordKind;

#[derive(Debug, Clone)]
pub struct SellsyLinks {
    app_url: String,
}

impl SellsyLinks {
    pub fn new(app_url: &str) -> Self {
        Self {
            app_url: app_url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn record(&self, kind: RecordKind, id: &str) -> String {
        let path = match kind {
            RecordKind::Contact => "peoples",
            RecordKind::Company => "companies",
            RecordKind::Individual => "individuals",
            RecordKind::Candidate => "contacts",
        };
        format!("{}/{path}/{id}", self.app_url)
    }

    pub fn opportunity(&self, id: &str) -> String {
        format!("{}/opportunities/{id}", self.app_url)
    }

    pub fn phone_call(&self, id: &str) -> String {
        format!("{}/phonecalls/{id}", self.app_url)
    }
}
