//! A street line in the form the 911 address guides (MSAG) keep it: the street suffix and the
//! directionals abbreviated as USPS Publication 28 writes them (`Avenue` → `Ave`,
//! `North` → `N`). An address validator proposes this form as its candidate; the letters'
//! case is the user's.

/// The common street suffixes written out, and their standard abbreviation (Publication 28,
/// appendix C1).
const SUFFIXES: [(&str, &str); 34] = [
    ("ALLEY", "Aly"),
    ("AVENUE", "Ave"),
    ("BOULEVARD", "Blvd"),
    ("BRIDGE", "Brg"),
    ("CIRCLE", "Cir"),
    ("COURT", "Ct"),
    ("COVE", "Cv"),
    ("CROSSING", "Xing"),
    ("DRIVE", "Dr"),
    ("EXPRESSWAY", "Expy"),
    ("FREEWAY", "Fwy"),
    ("HEIGHTS", "Hts"),
    ("HIGHWAY", "Hwy"),
    ("JUNCTION", "Jct"),
    ("LANE", "Ln"),
    ("MOUNTAIN", "Mtn"),
    ("PARKWAY", "Pkwy"),
    ("PLACE", "Pl"),
    ("PLAZA", "Plz"),
    ("POINT", "Pt"),
    ("ROAD", "Rd"),
    ("ROUTE", "Rte"),
    ("SQUARE", "Sq"),
    ("STREET", "St"),
    ("TERRACE", "Ter"),
    ("TRAIL", "Trl"),
    ("TURNPIKE", "Tpke"),
    ("VALLEY", "Vly"),
    ("VIADUCT", "Via"),
    ("VIEW", "Vw"),
    ("VILLAGE", "Vlg"),
    ("VISTA", "Vis"),
    ("WAY", "Way"),
    ("CENTER", "Ctr"),
];

const DIRECTIONALS: [(&str, &str); 8] = [
    ("NORTH", "N"),
    ("SOUTH", "S"),
    ("EAST", "E"),
    ("WEST", "W"),
    ("NORTHEAST", "NE"),
    ("NORTHWEST", "NW"),
    ("SOUTHEAST", "SE"),
    ("SOUTHWEST", "SW"),
];

fn abbreviation(table: &[(&str, &'static str)], word: &str) -> Option<&'static str> {
    let upper = word.trim_end_matches('.').to_ascii_uppercase();
    table
        .iter()
        .find(|(long, _)| *long == upper)
        .map(|(_, short)| *short)
}

/// A direction, written out or abbreviated.
fn is_directional(word: &str) -> bool {
    let upper = word.trim_end_matches('.').to_ascii_uppercase();
    DIRECTIONALS
        .iter()
        .any(|(long, short)| *long == upper || short.eq_ignore_ascii_case(&upper))
}

/// The abbreviation in the case the user wrote the word in (`STREET` → `ST`).
fn in_case_of(word: &str, abbreviation: &str) -> String {
    if word.chars().any(|c| c.is_ascii_lowercase()) {
        abbreviation.to_string()
    } else {
        abbreviation.to_ascii_uppercase()
    }
}

/// The street line in standard form, or None when it already is (or is not a numbered street
/// line the rules know how to read). Only a suffix or directional in its place is changed:
/// a directional right after the house number (`500 North Lamar Blvd`) or at the end
/// (`100 Main St North`), a suffix as the last word before any final directional, so that
/// `1 Avenue Road` becomes `1 Avenue Rd` and a street named `North` stays as it is.
pub fn standardized(street: &str) -> Option<String> {
    let mut words: Vec<String> = street.split_whitespace().map(str::to_string).collect();
    let numbered = words
        .first()
        .is_some_and(|w| w.starts_with(|c: char| c.is_ascii_digit()));
    if !numbered || words.len() < 3 {
        return None;
    }
    let mut last = words.len() - 1;
    if let Some(d) = abbreviation(&DIRECTIONALS, &words[last]) {
        words[last] = d.to_string();
        last -= 1;
    } else if is_directional(&words[last]) {
        last -= 1;
    }
    // The suffix must leave a name before it (`500 Drive` has no street name to shorten).
    if last >= 2
        && let Some(s) = abbreviation(&SUFFIXES, &words[last])
    {
        words[last] = in_case_of(&words[last], s);
    }
    // A directional before the name needs a name and a suffix after it (`7 North Ave` is
    // North Avenue), and a name that is not itself a direction (`2 East West Hwy`).
    if last >= 3
        && !is_directional(&words[2])
        && let Some(d) = abbreviation(&DIRECTIONALS, &words[1])
    {
        words[1] = d.to_string();
    }
    let line = words.join(" ");
    (line != street.split_whitespace().collect::<Vec<_>>().join(" ")).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suffix_and_directionals_take_their_abbreviation() {
        assert_eq!(
            standardized("500 Congress Avenue").as_deref(),
            Some("500 Congress Ave")
        );
        assert_eq!(
            standardized("500 North Lamar Boulevard").as_deref(),
            Some("500 N Lamar Blvd")
        );
        assert_eq!(
            standardized("100 Main street north").as_deref(),
            Some("100 Main St N")
        );
        assert_eq!(
            standardized("12 Ocean Parkway Southwest").as_deref(),
            Some("12 Ocean Pkwy SW")
        );
    }

    #[test]
    fn a_line_already_standard_has_no_candidate() {
        assert_eq!(standardized("500 Congress Ave"), None);
        assert_eq!(standardized("1 Infinite Loop"), None);
        assert_eq!(standardized("500  Congress   Ave"), None);
    }

    #[test]
    fn only_words_in_their_place_change() {
        // A street named Avenue, or North, keeps its name.
        assert_eq!(
            standardized("1 Avenue Road").as_deref(),
            Some("1 Avenue Rd")
        );
        assert_eq!(standardized("7 North Ave"), None);
        assert_eq!(
            standardized("2 East West Highway").as_deref(),
            Some("2 East West Hwy")
        );
        assert_eq!(
            standardized("1600 Pennsylvania Avenue NW").as_deref(),
            Some("1600 Pennsylvania Ave NW")
        );
        assert_eq!(
            standardized("100 MAIN STREET").as_deref(),
            Some("100 MAIN ST")
        );
        assert_eq!(standardized("5 Drive"), None);
        // Without a house number the guides have nothing to match.
        assert_eq!(standardized("Congress Avenue"), None);
    }
}
