//! The phone parser against libphonenumber's answers: a corpus of numbers in
//! the forms people and CRMs store them (18 countries, seen from five default
//! regions and from none: spacing, dots and dashes, `00` and the region's own
//! international prefix, `(0)`, extensions, full-width and Arabic-Indic
//! digits), with what the reference implementation reads in each. Generated
//! by `scripts/dev/phone-corpus.py` through the `phonenumbers` port.

use callcard_core::phone::{Region, E164};

#[test]
fn the_parser_reads_every_form_of_the_corpus_as_libphonenumber_does() {
    let corpus = include_str!("fixtures/phone-corpus.tsv");
    let mut checked = 0;
    let mut countries = std::collections::BTreeSet::new();
    let mut regions = std::collections::BTreeSet::new();
    let mut disagreements = Vec::new();
    for line in corpus
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split('\t').collect();
        let [country, region, input, expected, extension] = fields[..] else {
            panic!("a corpus line has five fields: {line:?}");
        };
        countries.insert(country);
        regions.insert(region);
        let default_region = (region != "-").then(|| Region::parse(region).expect("a region"));
        let ours = match E164::parse_with_extension(input, default_region) {
            Ok(parsed) => (parsed.number.to_string(), parsed.extension.unwrap_or_default()),
            Err(_) => ("error".to_owned(), String::new()),
        };
        if (ours.0.as_str(), ours.1.as_str()) != (expected, extension) {
            disagreements.push(format!(
                "{input:?} from {region}: libphonenumber {expected} {extension:?}, ours {} {:?}",
                ours.0, ours.1
            ));
        }
        checked += 1;
    }
    assert!(checked >= 300, "{checked} forms");
    assert!(
        countries.len() >= 10 && regions.len() >= 5,
        "{countries:?} {regions:?}"
    );
    assert!(
        disagreements.is_empty(),
        "{} of {checked} forms read differently:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
