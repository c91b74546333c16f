//! Phone numbers: one validated type, [`E164`], and the parsers that turn
//! what the outside world sends into it — Aircall's `raw_digits`, numbers
//! stored in a CRM with or without a country code, and `tel:`/`callto:`
//! links. Every parser returns a typed error for bad input; none panics,
//! whatever the input (tested with garbage and very long strings).

use phonenumber::{country, Mode, PhoneNumber};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Longer than any real number with its formatting; longer input is refused
/// before it reaches the parser.
pub const MAX_INPUT_CHARS: usize = 64;

/// A valid phone number in E.164 form (`+33612345678`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

/// A country, for reading numbers written without their country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(country::Id);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("no phone number given")]
    Empty,
    #[error("{len} characters is too long for a phone number")]
    TooLong { len: usize },
    #[error("{input:?} is not a phone number")]
    NotANumber { input: String },
    #[error("{input:?} is not a valid phone number")]
    Invalid { input: String },
    #[error("{input:?} has no country code and no default country is set")]
    NeedsRegion { input: String },
    #[error("{region:?} is not a country code")]
    UnknownRegion { region: String },
    #[error("{input:?} is not a tel: or callto: link")]
    NotALink { input: String },
    #[error("{extension:?} is not an extension (digits, * and # only)")]
    BadExtension { extension: String },
}

/// Longest extension accepted in a link.
pub const MAX_EXTENSION_CHARS: usize = 16;

/// An extension as a phone dials it: digits, `*` and `#`, nothing else (a
/// link from any web page must not smuggle text into what is dialed).
fn checked_extension(value: &str) -> Result<String, PhoneError> {
    let value = value.trim();
    let valid = !value.is_empty()
        && value.chars().count() <= MAX_EXTENSION_CHARS
        && value.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#');
    if valid {
        Ok(value.to_owned())
    } else {
        Err(PhoneError::BadExtension {
            extension: value.chars().take(MAX_EXTENSION_CHARS).collect(),
        })
    }
}

impl Region {
    pub fn parse(code: &str) -> Result<Self, PhoneError> {
        country::Id::from_str(&code.to_ascii_uppercase())
            .map(Region)
            .map_err(|_| PhoneError::UnknownRegion {
                region: code.to_owned(),
            })
    }
}

/// A number and the extension written after it (`x123`, `ext. 12`,
/// `;ext=12`), kept apart: callers match the number; the extension is for
/// the person dialing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberWithExtension {
    pub number: E164,
    pub extension: Option<String>,
}

/// The zero of each Unicode block of decimal digits in the Basic
/// Multilingual Plane (the `Nd` ranges: Arabic-Indic, Devanagari, Thai,
/// full-width…): people paste numbers in these, and libphonenumber reads them.
const UNICODE_ZEROS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0DE6,
    0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0,
    0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
];

/// Any decimal digit as its ASCII digit, full-width plus as `+`, any
/// space (no-break, thin…) as a plain one.
fn ascii_digits(text: &str) -> String {
    text.chars()
        .map(|c| {
            let code = c as u32;
            if c == '\u{FF0B}' {
                return '+';
            }
            if c.is_whitespace() {
                return ' ';
            }
            UNICODE_ZEROS
                .iter()
                .find(|zero| (**zero..**zero + 10).contains(&code))
                .and_then(|zero| char::from_digit(code - zero, 10))
                .unwrap_or(c)
        })
        .collect()
}

/// `number` as `+…` when it starts with `region`'s international prefix
/// (the `phonenumber` crate reads that prefix but then strips the region's
/// national prefix too, which breaks Italian numbers, whose leading 0 stays).
fn without_international_prefix(number: &str, region: Region) -> Option<String> {
    let metadata = phonenumber::metadata::DATABASE.by_id(region.0.as_ref())?;
    let prefix = metadata.international_prefix()?;
    // The prefix is matched on the digits; separators may come anywhere.
    let digits: String = number
        .chars()
        .take_while(|c| c.is_ascii_digit() || " -.()/".contains(*c))
        .filter(char::is_ascii_digit)
        .collect();
    let found = prefix.find(&digits).filter(|m| m.start() == 0)?;
    let mut skipped_digits = 0;
    let at = number.char_indices().find_map(|(at, c)| {
        if skipped_digits == found.end() {
            return Some(at);
        }
        if c.is_ascii_digit() {
            skipped_digits += 1;
        }
        None
    })?;
    let rest = number[at..].trim_start_matches([' ', '-', '.', '(', ')', '/']);
    // A country code never starts with 0: this was a national number.
    (!rest.starts_with('0') && rest.starts_with(|c: char| c.is_ascii_digit())).then(|| format!("+{rest}"))
}

/// Splits off an RFC 3966 style `;ext=12` (the parser reads `x12` and
/// `ext. 12` itself).
fn split_rfc3966_extension(text: &str) -> (&str, Option<String>) {
    let lower = text.to_ascii_lowercase();
    match lower.find(";ext=") {
        Some(at) => {
            let extension: String = text[at + 5..].chars().filter(char::is_ascii_digit).collect();
            (&text[..at], (!extension.is_empty()).then_some(extension))
        }
        None => (text, None),
    }
}

impl E164 {
    /// A number written by a person or stored by a CRM: international
    /// (`+39 06 1234 5678`, `0033 6…`, or with the default region's own
    /// international prefix: `0011 44…` from Australia, `011 33…` from the
    /// US) or national (`06 12…`, read with `region`), in any Unicode digits.
    /// An extension is dropped: see [`Self::parse_with_extension`].
    pub fn parse(input: &str, region: Option<Region>) -> Result<Self, PhoneError> {
        Self::parse_with_extension(input, region).map(|parsed| parsed.number)
    }

    /// As [`Self::parse`], keeping the extension.
    pub fn parse_with_extension(
        input: &str,
        region: Option<Region>,
    ) -> Result<NumberWithExtension, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let len = trimmed.chars().count();
        if len > MAX_INPUT_CHARS {
            return Err(PhoneError::TooLong { len });
        }
        let digits = ascii_digits(trimmed);
        if !digits.chars().any(|c| c.is_ascii_digit()) {
            return Err(PhoneError::NotANumber {
                input: trimmed.to_owned(),
            });
        }
        let (number_part, rfc_extension) = split_rfc3966_extension(&digits);
        let number_part = number_part.trim();
        let international = number_part.starts_with('+');
        let normalized = match (region, number_part.strip_prefix("00")) {
            _ if international => number_part.to_owned(),
            // Without a default region, "00" is the international prefix
            // almost everywhere people type it.
            (None, Some(rest)) => format!("+{rest}"),
            // With one, that region's own (Australia's 0011, the US's 011).
            (Some(region), _) => {
                without_international_prefix(number_part, region).unwrap_or_else(|| number_part.to_owned())
            }
            (None, None) => number_part.to_owned(),
        };
        if !normalized.starts_with('+') && region.is_none() {
            return Err(PhoneError::NeedsRegion {
                input: trimmed.to_owned(),
            });
        }
        // A number with its country code is read without the default
        // region: the `phonenumber` crate would otherwise strip that
        // region's national prefix after the country code (a US default
        // turns +49 1512… into +49 512…).
        let context = if normalized.starts_with('+') {
            None
        } else {
            region.map(|r| r.0)
        };
        let parsed = phonenumber::parse(context, &normalized).map_err(|_| PhoneError::NotANumber {
            input: trimmed.to_owned(),
        })?;
        let extension = rfc_extension.or_else(|| parsed.extension().map(|e| e.to_string()));
        Ok(NumberWithExtension {
            number: Self::from_phonenumber(&parsed, trimmed)?,
            extension,
        })
    }

    fn from_phonenumber(number: &PhoneNumber, input: &str) -> Result<Self, PhoneError> {
        if !phonenumber::is_valid(number) {
            return Err(PhoneError::Invalid {
                input: input.to_owned(),
            });
        }
        let e164 = number.format().mode(Mode::E164).to_string();
        // E.164 allows 15 digits at most; the metadata of some countries
        // takes longer ones (found by the property tests: "0049 21000000000000").
        let digits = e164.chars().filter(char::is_ascii_digit).count();
        if !(7..=15).contains(&digits) {
            return Err(PhoneError::Invalid {
                input: input.to_owned(),
            });
        }
        Ok(Self(e164))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ways a CRM may hold this number, for exact-match searches:
    /// E.164, international with spaces, and national with and without spaces.
    pub fn stored_forms(&self) -> Vec<String> {
        let Ok(number) = phonenumber::parse(None, &self.0) else {
            return vec![self.0.clone()];
        };
        let international = number.format().mode(Mode::International).to_string();
        let national = number.format().mode(Mode::National).to_string();
        let mut forms = vec![self.0.clone(), international, national.clone()];
        forms.push(national.chars().filter(|c| !c.is_whitespace()).collect());
        forms.dedup();
        let mut unique = Vec::new();
        for form in forms {
            if !unique.contains(&form) {
                unique.push(form);
            }
        }
        unique
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for E164 {
    type Error = PhoneError;

    fn try_from(value: String) -> Result<Self, PhoneError> {
        let parsed = Self::parse(&value, None)?;
        if parsed.0 == value {
            Ok(parsed)
        } else {
            Err(PhoneError::Invalid { input: value })
        }
    }
}

impl From<E164> for String {
    fn from(value: E164) -> Self {
        value.0
    }
}

/// The other party of an Aircall call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Number(E164),
    /// Withheld: there is nothing to look up.
    Anonymous,
}

/// Aircall's `raw_digits`: international with spaces (`+33 6 12 34 56 78`),
/// or `anonymous`.
/// Every number a record stores, read with `region`: the readable ones,
/// each once, and the text of those that cannot be read.
pub fn read_numbers<'a>(
    stored: impl IntoIterator<Item = &'a str>,
    region: Option<Region>,
) -> (Vec<E164>, Vec<String>) {
    let mut readable: Vec<E164> = Vec::new();
    let mut unreadable = Vec::new();
    for text in stored.into_iter().map(str::trim).filter(|t| !t.is_empty()) {
        match E164::parse(text, region) {
            Ok(number) if !readable.contains(&number) => readable.push(number),
            Ok(_) => {}
            Err(_) => unreadable.push(text.to_owned()),
        }
    }
    (readable, unreadable)
}

pub fn parse_raw_digits(raw: &str) -> Result<Caller, PhoneError> {
    let trimmed = raw.trim();
    if trimmed.eq_ignore_ascii_case("anonymous") || trimmed.is_empty() {
        return Ok(Caller::Anonymous);
    }
    E164::parse(trimmed, None).map(Caller::Number)
}

/// A number a link asks to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialTarget {
    pub number: E164,
    /// `;ext=123`: Aircall cannot dial it, but the user should see it.
    pub extension: Option<String>,
}

/// Longest link accepted: a real `tel:` link with parameters fits easily.
pub const MAX_LINK_CHARS: usize = 256;

/// `tel:+33-1-23-45-67-89`, `tel:0123456789;phone-context=+33`,
/// `callto://+4420…`, percent-encoded or not, with visual separators
/// (RFC 3966: `-`, `.`, `(`, `)`, spaces) and `;ext=`.
pub fn parse_dial_link(link: &str, region: Option<Region>) -> Result<DialTarget, PhoneError> {
    let link = link.trim();
    if link.chars().count() > MAX_LINK_CHARS {
        return Err(PhoneError::TooLong {
            len: link.chars().count(),
        });
    }
    let (scheme, rest) = link.split_once(':').ok_or_else(|| PhoneError::NotALink {
        input: link.to_owned(),
    })?;
    if !scheme.eq_ignore_ascii_case("tel") && !scheme.eq_ignore_ascii_case("callto") {
        return Err(PhoneError::NotALink {
            input: link.to_owned(),
        });
    }
    let decoded = percent_decode(rest.trim_start_matches("//")).ok_or_else(|| PhoneError::NotANumber {
        input: link.to_owned(),
    })?;
    let mut parts = decoded.split(';');
    let number_part = parts.next().unwrap_or("");
    let mut extension = None;
    let mut context = None;
    for parameter in parts {
        let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        match key.trim().to_ascii_lowercase().as_str() {
            "ext" | "extension" if !value.is_empty() => extension = Some(checked_extension(value)?),
            "phone-context" if value.starts_with('+') => context = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    // Only digits and a leading + matter; RFC 3966 allows these separators.
    let mut cleaned = String::new();
    for (i, c) in number_part.trim().chars().enumerate() {
        match c {
            '0'..='9' => cleaned.push(c),
            '+' if i == 0 => cleaned.push(c),
            '-' | '.' | '(' | ')' | ' ' | '\u{a0}' | '/' => {}
            _ => {
                return Err(PhoneError::NotANumber {
                    input: number_part.to_owned(),
                })
            }
        }
    }
    if cleaned.trim_start_matches('+').is_empty() {
        return Err(PhoneError::Empty);
    }
    if let (false, Some(context)) = (cleaned.starts_with('+'), context) {
        // A local number with its context: the context's country code applies,
        // after the national trunk prefix (the leading 0 in most countries).
        let local = cleaned.trim_start_matches('0');
        let number = E164::parse(&format!("{context}{local}"), None)?;
        return Ok(DialTarget { number, extension });
    }
    let number = E164::parse(&cleaned, region)?;
    Ok(DialTarget { number, extension })
}

/// Decodes `%XX`; `None` for a malformed escape or invalid UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_records_numbers_are_read_once_and_the_unreadable_ones_kept_as_text() {
        let region = Region::parse("GB").ok();
        let (readable, unreadable) = read_numbers(
            ["07400 123456", "+44 7400 123456", "  ", "ext. 12", "0033 1 23"],
            region,
        );
        assert_eq!(readable.len(), 1);
        assert_eq!(readable[0].as_str(), "+447400123456");
        assert_eq!(unreadable, vec!["ext. 12".to_owned(), "0033 1 23".to_owned()]);
    }

    use super::*;

    fn gb() -> Option<Region> {
        Some(Region::parse("GB").unwrap())
    }

    fn e164(s: &str) -> E164 {
        E164::parse(s, None).unwrap()
    }

    #[test]
    fn international_numbers_with_any_spacing_become_e164() {
        for input in [
            "+33 6 12 34 56 78",
            "+33612345678",
            "0033 6 12 34 56 78",
            " +33 (0)6 12 34 56 78 ",
        ] {
            assert_eq!(
                E164::parse(input, None).map(|n| n.to_string()),
                Ok("+33612345678".to_string()),
                "{input}"
            );
        }
    }

    #[test]
    fn national_numbers_are_read_with_the_default_region() {
        assert_eq!(
            E164::parse("07400 123456", gb()).unwrap().as_str(),
            "+447400123456"
        );
        assert_eq!(
            E164::parse("06 12 34 56 78", Some(Region::parse("fr").unwrap()))
                .unwrap()
                .as_str(),
            "+33612345678"
        );
        assert!(matches!(
            E164::parse("07400 123456", None),
            Err(PhoneError::NeedsRegion { .. })
        ));
    }

    #[test]
    fn numbers_as_people_store_them_italian_zeros_extensions_foreign_prefixes_and_unicode_digits() {
        let au = Some(Region::parse("AU").unwrap());
        let us = Some(Region::parse("US").unwrap());
        let cases = [
            ("+39 06 1234 5678", None, "+390612345678", None),
            ("0039 06 1234 5678", gb(), "+390612345678", None),
            ("+44 20 7946 0018 x123", None, "+442079460018", Some("123")),
            ("+44 20 7946 0018 ext. 12", None, "+442079460018", Some("12")),
            ("+44 20 7946 0018;ext=12", None, "+442079460018", Some("12")),
            ("0011 44 20 7946 0018", au, "+442079460018", None),
            ("011 49 1512 3456789", us, "+4915123456789", None),
            ("+49 1512 3456789", us, "+4915123456789", None),
            (
                "０６ １２ ３４ ５６ ７８",
                Some(Region::parse("FR").unwrap()),
                "+33612345678",
                None,
            ),
            ("+٣٣٦١٢٣٤٥٦٧٨", None, "+33612345678", None),
            ("+1\u{a0}201-555-0123", None, "+12015550123", None),
        ];
        for (input, region, number, extension) in cases {
            let parsed = E164::parse_with_extension(input, region).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(parsed.number.as_str(), number, "{input}");
            assert_eq!(parsed.extension.as_deref(), extension, "{input}");
        }
    }

    #[test]
    fn garbage_and_very_long_input_give_typed_errors() {
        assert_eq!(E164::parse("", gb()), Err(PhoneError::Empty));
        assert!(matches!(
            E164::parse("call me maybe", gb()),
            Err(PhoneError::NotANumber { .. })
        ));
        assert!(matches!(
            E164::parse("+33 1", None),
            Err(PhoneError::Invalid { .. }) | Err(PhoneError::NotANumber { .. })
        ));
        assert!(matches!(
            E164::parse(&"9".repeat(10_000), gb()),
            Err(PhoneError::TooLong { len: 10_000 })
        ));
        assert!(matches!(
            Region::parse("ZZ"),
            Err(PhoneError::UnknownRegion { .. })
        ));
    }

    #[test]
    fn raw_digits_anonymous_means_no_lookup() {
        assert_eq!(parse_raw_digits("anonymous"), Ok(Caller::Anonymous));
        assert_eq!(parse_raw_digits("Anonymous"), Ok(Caller::Anonymous));
        assert!(
            parse_raw_digits("+1 800-123-4567").is_err(),
            "800-123 is not a valid US number"
        );
        assert_eq!(
            parse_raw_digits("+44 7400 123456"),
            Ok(Caller::Number(e164("+447400123456")))
        );
    }

    #[test]
    fn tel_links_with_separators_percent_encoding_and_extensions() {
        let cases = [
            ("tel:+33-6-12-34-56-78", "+33612345678", None),
            ("tel:%2B33%206%2012%2034%2056%2078", "+33612345678", None),
            ("TEL:+44.7400.123456;ext=42", "+447400123456", Some("42")),
            ("callto://+447400123456", "+447400123456", None),
            ("callto:+1 (212) 736-1234", "+12127361234", None),
            ("tel:07400123456", "+447400123456", None),
            ("tel:0612345678;phone-context=+33", "+33612345678", None),
        ];
        for (link, number, ext) in cases {
            let target = parse_dial_link(link, gb()).unwrap_or_else(|e| panic!("{link}: {e}"));
            assert_eq!(target.number.as_str(), number, "{link}");
            assert_eq!(target.extension.as_deref(), ext, "{link}");
        }
    }

    #[test]
    fn hostile_links_are_refused_without_panicking() {
        let long = format!("tel:+{}", "1".repeat(5_000));
        let cases = [
            "javascript:alert(1)",
            "tel:",
            "tel:;ext=1",
            "tel:+33<script>",
            "tel:%ZZ",
            "tel:%C3%28",
            "https://example.com/tel:+33612345678",
            long.as_str(),
            "tel:+33 6 12 34 56 78 90 12 34",
            "callto:somebody.skype",
        ];
        for link in cases {
            assert!(parse_dial_link(link, gb()).is_err(), "{link:?} must be refused");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap fuzz: every printable ASCII character in every position of a short link.
        for a in 32u8..127 {
            for b in [b'+', b'0', b'%', b';', b'(', b'\\'] {
                let link = format!("tel:{}{}12{}", a as char, b as char, a as char);
                let _ = parse_dial_link(&link, gb());
                let _ = E164::parse(&link[4..], gb());
            }
        }
    }

    #[test]
    fn stored_forms_cover_what_a_crm_may_hold() {
        let forms = e164("+33612345678").stored_forms();
        assert!(forms.contains(&"+33612345678".to_string()));
        assert!(forms.contains(&"+33 6 12 34 56 78".to_string()));
        assert!(forms.contains(&"06 12 34 56 78".to_string()));
        assert!(forms.contains(&"0612345678".to_string()));
    }

    #[test]
    fn serde_accepts_only_e164() {
        assert_eq!(
            serde_json::from_str::<E164>("\"+33612345678\"").unwrap(),
            e164("+33612345678")
        );
        assert!(serde_json::from_str::<E164>("\"+33 6 12 34 56 78\"").is_err());
    }
}
