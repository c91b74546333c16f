//! The seeded world: realistic CRM data and an Aircall company, the same for
//! the same seed. Numbers come from France, Germany, the UK, Australia and
//! the US, some stored in national format (as people type them), some shared
//! by two records of one type; some records archived; contacts linked to
//! companies; open and closed opportunities.

use crate::aircall::{AircallUser, AircallWorld};
use crate::jobadder::JobAdderWorld;
use crate::sellsy::SellsyWorld;
use crate::state::Record;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

pub struct Seeded {
    pub aircall: AircallWorld,
    pub jobadder: JobAdderWorld,
    pub sellsy: SellsyWorld,
}

/// The people of the sandbox company: the same e-mails exist as Aircall
/// users, JobAdder users and Sellsy staff, so owners can be matched by e-mail.
pub const PEOPLE: [(&str, &str, &str); 4] = [
    ("Alex", "Martin", "alex.martin@callcard.test"),
    ("Sam", "Weber", "sam.weber@callcard.test"),
    ("Charlie", "Dupont", "charlie.dupont@callcard.test"),
    ("Robin", "Taylor", "robin.taylor@callcard.test"),
];

const FIRST: [&str; 24] = [
    "Léa",
    "Hugo",
    "Chloé",
    "Lucas",
    "Emma",
    "Jonas",
    "Mia",
    "Lukas",
    "Olivia",
    "Jack",
    "Amelia",
    "Noah",
    "Charlotte",
    "Oliver",
    "Isla",
    "William",
    "Sophia",
    "Liam",
    "Ava",
    "Ethan",
    "Zoé",
    "Théo",
    "Hannah",
    "Finn",
];
const LAST: [&str; 24] = [
    "Bernard",
    "Dubois",
    "Moreau",
    "Laurent",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Smith",
    "Jones",
    "Williams",
    "Brown",
    "Wilson",
    "Taylor",
    "Nguyen",
    "Kelly",
    "Johnson",
    "Garcia",
    "Miller",
    "Davis",
    "O'Brien",
    "Lefèvre",
    "Schäfer",
    "Murphy",
];
const COMPANY_WORDS: [&str; 16] = [
    "Acme", "Nordwind", "Bleu", "Harbour", "Summit", "Lumière", "Kiwi", "Atlas", "Eiche", "Coral", "Pioneer",
    "Zenith", "Maple", "Rivage", "Falcon", "Orbit",
];
const COMPANY_SUFFIX: [&str; 6] = ["SAS", "GmbH", "Ltd", "Pty Ltd", "Inc.", "Group"];
const POSITIONS: [&str; 8] = [
    "Head of Talent",
    "CTO",
    "Office Manager",
    "Sales Director",
    "Software Engineer",
    "Nurse",
    "Accountant",
    "Purchasing Manager",
];
pub const REGIONS: [&str; 5] = ["FR", "DE", "GB", "AU", "US"];

/// A phone number of `region`: (as stored, E.164). About one in ten is
/// stored in national format, the rest international with spaces or E.164.
pub fn phone(rng: &mut StdRng, region: &str) -> (String, String) {
    // Some ranges are unallocated (French 069…, say): draw again until the
    // number is one a real phone could have.
    loop {
        let (stored, e164) = draw_phone(rng, region);
        let valid = phonenumber::parse(None, &e164).is_ok_and(|n| phonenumber::is_valid(&n));
        if valid {
            return (stored, e164);
        }
    }
}

fn draw_phone(rng: &mut StdRng, region: &str) -> (String, String) {
    let d = |rng: &mut StdRng, n: usize| -> String {
        (0..n).map(|_| char::from(b'0' + rng.gen_range(0..10))).collect()
    };
    let (cc, national_prefix, subscriber) = match region {
        "FR" => ("33", "0", format!("6{}", d(rng, 8))),
        "DE" => ("49", "0", format!("151{}", d(rng, 8))),
        "GB" => ("44", "0", format!("74{}", d(rng, 8))),
        "AU" => ("61", "0", format!("4{}", d(rng, 8))),
        _ => ("1", "", format!("212{}{}", rng.gen_range(2..10), d(rng, 6))),
    };
    let e164 = format!("+{cc}{subscriber}");
    let stored = match rng.gen_range(0..10) {
        0 => format!("{national_prefix}{}", group(&subscriber)),
        1..=4 => e164.clone(),
        _ => format!("+{cc} {}", group(&subscriber)),
    };
    (stored, e164)
}

fn group(digits: &str) -> String {
    digits
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn name(rng: &mut StdRng) -> (String, String) {
    (
        FIRST.choose(rng).copied().unwrap_or("Ada").to_owned(),
        LAST.choose(rng).copied().unwrap_or("Lovelace").to_owned(),
    )
}

fn email(first: &str, last: &str, domain: &str, n: usize) -> String {
    let clean = |s: &str| {
        s.to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
    };
    format!("{}.{}{}@{}", clean(first), clean(last), n, domain)
}

fn record(id: i64, fields: Value, created_ms: i64, updated_ms: i64, region: &str) -> Record {
    let Value::Object(fields) = fields else {
        unreachable!("fields are objects")
    };
    Record {
        id,
        fields,
        created_ms,
        updated_ms,
        region: region.to_owned(),
    }
}

/// Picks times in the past year, created before updated.
fn times(rng: &mut StdRng, now_ms: i64) -> (i64, i64) {
    let year = 365 * 24 * 3600 * 1000_i64;
    let created = now_ms - rng.gen_range(year / 12..year);
    let updated = rng.gen_range(created..now_ms - 60_000);
    (created, updated)
}

pub fn generate(seed: u64, per_kind: usize, now_ms: i64) -> Seeded {
    let mut rng = StdRng::seed_from_u64(seed);
    Seeded {
        aircall: aircall(&mut rng),
        jobadder: jobadder(&mut rng, per_kind, now_ms),
        sellsy: sellsy(&mut rng, per_kind, now_ms),
    }
}

fn aircall(_rng: &mut StdRng) -> AircallWorld {
    let numbers = vec![
        json!({"id": 1001, "name": "Paris office", "digits": "+33 1 76 11 11 11", "country": "FR", "time_zone": "Europe/Paris"}),
        json!({"id": 1002, "name": "London desk", "digits": "+44 20 3807 1111", "country": "GB", "time_zone": "Europe/London"}),
        json!({"id": 1003, "name": "New York line", "digits": "+1 212-736-1111", "country": "US", "time_zone": "America/New_York"}),
    ];
    let users = PEOPLE
        .iter()
        .enumerate()
        .map(|(i, (first, last, email))| AircallUser {
            id: 2001 + i as i64,
            name: format!("{first} {last}"),
            email: (*email).to_owned(),
            available: true,
            workspace_open: true,
            // Everybody is on the Paris office; each also has one more line.
            numbers: vec![1001, 1002 + (i as i64 % 2)],
        })
        .collect();
    let teams = vec![
        json!({"id": 3001, "name": "Recruitment", "users": [2001, 2002]}),
        json!({"id": 3002, "name": "Sales", "users": [2003, 2004]}),
    ];
    let tags = vec![
        json!({"id": 4001, "name": "Follow-up", "color": "#00B388", "description": "Call back soon"}),
        json!({"id": 4002, "name": "Hot lead", "color": "#FF5D5D", "description": null}),
        json!({"id": 4003, "name": "Interview", "color": "#2B5AF9", "description": null}),
        json!({"id": 4004, "name": "Wrong number", "color": "#8C8C8C", "description": null}),
    ];
    AircallWorld::new(users, numbers, teams, tags)
}

fn jobadder(rng: &mut StdRng, n: usize, now_ms: i64) -> JobAdderWorld {
    let mut world = JobAdderWorld::default();
    for (i, (first, last, email)) in PEOPLE.iter().enumerate() {
        let (c, u) = times(rng, now_ms);
        world.users.push(record(
            101 + i as i64,
            json!({"firstName": first, "lastName": last, "email": email, "position": "Recruiter"}),
            c,
            u,
            "GB",
        ));
    }
    let owner = |rng: &mut StdRng, users: &[Record]| -> Value {
        let user = users.choose(rng).expect("seeded users");
        json!({"userId": user.id, "firstName": user.str("firstName"), "lastName": user.str("lastName"), "email": user.str("email")})
    };
    let mut id = 5000_i64;
    for _ in 0..(n / 4).max(1) {
        id += 1;
        let (c, u) = times(rng, now_ms);
        let region = *REGIONS.choose(rng).unwrap_or(&"GB");
        let (stored, _) = phone(rng, region);
        let name = format!(
            "{} {}",
            COMPANY_WORDS.choose(rng).unwrap_or(&"Acme"),
            COMPANY_SUFFIX.choose(rng).unwrap_or(&"Ltd")
        );
        world.companies.insert(
            id,
            record(id, json!({"name": name, "phone": stored}), c, u, region),
        );
    }
    let company_ids: Vec<i64> = world.companies.keys().copied().collect();
    let mut numbers_by_kind: [Vec<(String, String)>; 2] = [Vec::new(), Vec::new()];
    for (kind, numbers) in numbers_by_kind.iter_mut().enumerate() {
        for i in 0..n {
            id += 1;
            let (c, u) = times(rng, now_ms);
            let region = *REGIONS.choose(rng).unwrap_or(&"GB");
            let (first, last) = name(rng);
            // Duplicates of the same type: about one in thirty reuses a number.
            let (stored, region) = if i > 0 && rng.gen_ratio(1, 30) {
                numbers.choose(rng).cloned().expect("not empty")
            } else {
                (phone(rng, region).0, region.to_owned())
            };
            numbers.push((stored.clone(), region.clone()));
            let (mobile, phone_field) = if rng.gen_bool(0.7) {
                (Value::from(stored), Value::Null)
            } else {
                (Value::Null, Value::from(stored))
            };
            let archived = rng.gen_ratio(1, 20);
            let mut fields = json!({
                "firstName": first, "lastName": last,
                "email": email(&first, &last, "example.com", i),
                "phone": phone_field, "mobile": mobile,
            });
            let owner = owner(rng, &world.users);
            if kind == 0 {
                fields["status"] = if archived {
                    json!({"statusId": 9, "name": "Archived", "active": false, "default": false})
                } else {
                    json!({"statusId": 1, "name": "Available", "active": true, "default": true})
                };
                fields["recruiters"] = json!([owner]);
                world.candidates.insert(id, record(id, fields, c, u, &region));
            } else {
                let company_id = *company_ids.choose(rng).expect("companies");
                let company_name = world
                    .companies
                    .get(&company_id)
                    .and_then(|r| r.str("name"))
                    .unwrap_or("")
                    .to_owned();
                fields["position"] = json!(POSITIONS.choose(rng));
                fields["company"] = json!({"companyId": company_id, "name": company_name});
                fields["owner"] = owner;
                fields["inactive"] = json!(archived);
                world.contacts.insert(id, record(id, fields, c, u, &region));
            }
        }
    }
    world.next_id = id + 1;
    world
}

fn sellsy(rng: &mut StdRng, n: usize, now_ms: i64) -> SellsyWorld {
    let mut world = SellsyWorld::default();
    for (i, (first, last, email)) in PEOPLE.iter().enumerate() {
        let (c, u) = times(rng, now_ms);
        world.staffs.push(record(
            301 + i as i64,
            json!({"firstname": first, "lastname": last, "email": email, "position": "Sales"}),
            c,
            u,
            "FR",
        ));
    }
    let staff_ids: Vec<i64> = world.staffs.iter().map(|s| s.id).collect();
    let mut id = 70_000_i64;
    let mut add = |rng: &mut StdRng, kind: &str, i: usize, world: &mut SellsyWorld| -> i64 {
        id += 1;
        let (c, u) = times(rng, now_ms);
        let region = *REGIONS.choose(rng).unwrap_or(&"FR");
        let (first, last) = name(rng);
        let (stored, _) = phone(rng, region);
        let (mobile, _) = phone(rng, region);
        let owner = json!({"id": staff_ids.choose(rng), "type": "staff"});
        let archived = rng.gen_ratio(1, 20);
        let mut fields = Map::new();
        fields.insert("owner".into(), owner);
        fields.insert("is_archived".into(), json!(archived));
        fields.insert("phone_number".into(), json!(stored));
        fields.insert("mobile_number".into(), json!(mobile));
        match kind {
            "company" => {
                let name = format!(
                    "{} {}",
                    COMPANY_WORDS.choose(rng).unwrap_or(&"Acme"),
                    COMPANY_SUFFIX.choose(rng).unwrap_or(&"SAS")
                );
                fields.insert("name".into(), json!(name));
                fields.insert(
                    "type".into(),
                    json!(if rng.gen_bool(0.5) { "client" } else { "prospect" }),
                );
                let domain: String = name
                    .split(' ')
                    .next()
                    .unwrap_or("acme")
                    .to_lowercase()
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect();
                fields.insert("email".into(), json!(format!("contact{i}@{domain}.example")));
                world
                    .companies
                    .insert(id, record(id, Value::Object(fields), c, u, region));
            }
            "individual" => {
                fields.insert("first_name".into(), json!(first));
                fields.insert("last_name".into(), json!(last));
                fields.insert("email".into(), json!(email(&first, &last, "mail.example", i)));
                fields.insert("type".into(), json!("prospect"));
                world
                    .individuals
                    .insert(id, record(id, Value::Object(fields), c, u, region));
            }
            _ => {
                fields.insert("civility".into(), json!(["mr", "mrs", "ms"].choose(rng)));
                fields.insert("first_name".into(), json!(first));
                fields.insert("last_name".into(), json!(last));
                fields.insert("email".into(), json!(email(&first, &last, "corp.example", i)));
                fields.insert("position".into(), json!(POSITIONS.choose(rng)));
                world
                    .contacts
                    .insert(id, record(id, Value::Object(fields), c, u, region));
            }
        }
        id
    };
    for i in 0..(n / 2).max(1) {
        add(rng, "company", i, &mut world);
        add(rng, "individual", i, &mut world);
    }
    for i in 0..n {
        add(rng, "contact", i, &mut world);
    }
    let company_ids: Vec<i64> = world.companies.keys().copied().collect();
    let individual_ids: Vec<i64> = world.individuals.keys().copied().collect();
    let contact_ids: Vec<i64> = world.contacts.keys().copied().collect();
    for contact in &contact_ids {
        if rng.gen_bool(0.8) {
            world
                .links
                .push((*contact, *company_ids.choose(rng).expect("companies")));
        }
    }
    for i in 0..(n / 2).max(1) {
        id += 1;
        let (c, u) = times(rng, now_ms);
        let (related_type, related_id) = if rng.gen_bool(0.7) {
            ("company", *company_ids.choose(rng).expect("companies"))
        } else {
            ("individual", *individual_ids.choose(rng).expect("individuals"))
        };
        let contacts: Vec<i64> = if related_type == "company" {
            world
                .links
                .iter()
                .filter(|(_, co)| *co == related_id)
                .map(|(ct, _)| *ct)
                .take(2)
                .collect()
        } else {
            Vec::new()
        };
        let status = ["open", "open", "open", "won", "lost"]
            .choose(rng)
            .copied()
            .unwrap_or("open");
        let fields = json!({
            "name": format!("Deal {} #{i}", COMPANY_WORDS.choose(rng).unwrap_or(&"Acme")),
            "status": status,
            "amount": {"value": format!("{}.00", rng.gen_range(5..500) * 100), "currency": "EUR"},
            "due_date": "2027-03-31",
            "pipeline": {"id": 1, "name": "Sales pipeline"},
            "step": {"id": 10 + rng.gen_range(0..4), "name": "Proposal"},
            "contact_ids": contacts,
            "related": [{"type": related_type, "id": related_id}],
            "owner": {"id": staff_ids.choose(rng), "type": "staff"},
        });
        world.opportunities.insert(id, record(id, fields, c, u, "FR"));
    }
    world.next_id = id + 1;
    world
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_world() {
        let a = generate(9, 50, 1_700_000_000_000);
        let b = generate(9, 50, 1_700_000_000_000);
        let first = |s: &Seeded| s.jobadder.candidates.values().next().map(|r| r.fields.clone());
        assert_eq!(first(&a), first(&b));
        assert_eq!(a.sellsy.contacts.len(), 50);
    }

    #[test]
    fn every_generated_number_is_valid_for_its_region() {
        let mut rng = StdRng::seed_from_u64(1);
        for region in REGIONS {
            for _ in 0..200 {
                let (stored, e164) = phone(&mut rng, region);
                let parsed = phonenumber::parse(region.parse().ok(), &stored).expect(&stored);
                assert!(phonenumber::is_valid(&parsed), "{region} {stored}");
                assert_eq!(parsed.format().mode(phonenumber::Mode::E164).to_string(), e164);
            }
        }
    }

    #[test]
    fn the_world_has_duplicates_archived_records_links_and_open_and_closed_deals() {
        let world = generate(42, 400, 1_700_000_000_000);
        let mut numbers = std::collections::HashMap::new();
        for r in world.jobadder.candidates.values() {
            let n = r.str("mobile").or(r.str("phone")).unwrap_or("").to_owned();
            *numbers.entry(n).or_insert(0) += 1;
        }
        assert!(numbers.values().any(|c| *c > 1), "some candidates share a number");
        assert!(world.jobadder.contacts.values().any(|r| r.bool("inactive")));
        assert!(world.sellsy.contacts.values().any(|r| r.bool("is_archived")));
        assert!(!world.sellsy.links.is_empty());
        let statuses: Vec<&str> = world
            .sellsy
            .opportunities
            .values()
            .filter_map(|o| o.str("status"))
            .collect();
        assert!(statuses.contains(&"open") && statuses.contains(&"won"));
    }
}
