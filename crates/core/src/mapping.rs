//! Header auto-mapping: which CSV column feeds which lead [`Field`].
//!
//! Lead exports from Apollo, Sales Navigator tools, HubSpot, Clay, ZoomInfo,
//! Google-Maps scrapers and CRMs name the same thing in a dozen ways
//! (`Email`, `Email Address`, `email_1`, `(Lusha) Work email`). Users should
//! not have to spell out `--map` for every file, so [`auto_map`] recognises the
//! headers after normalising them (lower-case, spaces and punctuation removed)
//! and applies the rules each export format needs:
//!
//! * a recognised *preset* (the export format) changes the meaning of a few
//!   generic names: in a Google-Maps scrape `title`/`name` are the business,
//!   not the person, and `phone` is the business phone;
//! * when several columns could feed one field, the better one wins (a
//!   person's `City` over `Company City`, PhantomBuster's public
//!   `linkedInProfileUrl` over the Sales Navigator `profileUrl`) and the others
//!   are kept as custom fields, so no data is dropped;
//! * `--map FIELD=COLUMN` overrides always win.
//!
//! This module is pure: it sees header strings only, never the file.

use std::fmt::Write as _;

use thiserror::Error;

use crate::lead::Field;

/// Number of [`Field`] variants, for per-field lookup tables.
const FIELD_COUNT: usize = Field::ALL.len();

/// Why a header row could not be mapped. Every message says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MappingError {
    /// The header row is missing or every header is blank.
    #[error(
        "the header row is empty: the first line of the file must name the columns \
         (for example `First Name,Last Name,Email`); add a header line and import again"
    )]
    EmptyHeader,
    /// `--map FIELD=COLUMN` named a column the file does not have.
    #[error(
        "--map {field}={column}: the file has no column named \"{column}\"; \
         its columns are: {available}"
    )]
    UnknownColumn {
        field: &'static str,
        column: String,
        available: String,
    },
    /// The same field was given twice in `--map`.
    #[error("--map {field}=… is given twice (columns \"{first}\" and \"{second}\"); keep only one")]
    FieldMappedTwice {
        field: &'static str,
        first: String,
        second: String,
    },
    /// Two `--map` options point at the same column.
    #[error(
        "--map sends column \"{column}\" to both {first} and {second}; \
         a column can feed only one field, remove one of the two options"
    )]
    ColumnMappedTwice {
        column: String,
        first: &'static str,
        second: &'static str,
    },
}

/// The result of mapping a header row: for every column, the field it feeds
/// (if any), plus the columns kept as custom fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMapping {
    /// Indexed by column: the field this column feeds.
    by_column: Vec<Option<Field>>,
    /// Indexed by `Field as usize`: the column feeding this field.
    by_field: [Option<usize>; FIELD_COUNT],
    /// Unmapped columns with a non-empty header, named by their (deduplicated) header.
    custom: Vec<(usize, String)>,
    /// Headers as given (trimmed), for `describe`.
    headers: Vec<String>,
    /// Fields that came from `--map` rather than auto-mapping.
    overridden: Vec<Field>,
    preset: Option<Preset>,
}

impl ColumnMapping {
    /// The field column `col` feeds, if any.
    pub fn field_of(&self, col: usize) -> Option<Field> {
        self.by_column.get(col).copied().flatten()
    }

    /// The column feeding `field`, if any.
    pub fn column_of(&self, field: Field) -> Option<usize> {
        self.by_field[field as usize]
    }

    /// Unmapped columns whose header is not blank, as `(column, name)`.
    ///
    /// They are kept as custom fields so that nothing in the file is lost.
    /// A repeated header gets a numbered name (`Name`, `Name (2)`) so custom
    /// field names stay unique.
    pub fn custom_columns(&self) -> &[(usize, String)] {
        &self.custom
    }

    /// The export format recognised from the headers, if any (for example
    /// `"apollo"` or `"gmaps_gosom"`).
    pub fn preset(&self) -> Option<&'static str> {
        self.preset.map(Preset::id)
    }

    /// Number of columns in the header row.
    pub fn column_count(&self) -> usize {
        self.by_column.len()
    }

    /// All mapped `(field, column)` pairs in field order.
    pub fn mapped(&self) -> impl Iterator<Item = (Field, usize)> + '_ {
        Field::ALL
            .into_iter()
            .filter_map(|f| self.column_of(f).map(|c| (f, c)))
    }

    /// The factor to multiply the revenue column by to get dollars.
    ///
    /// ZoomInfo reports revenue in thousands (`Revenue (in 000s USD)`); every
    /// other known export uses plain amounts.
    pub fn revenue_scale(&self) -> u64 {
        match self.column_of(Field::Revenue) {
            Some(col) if normalize(&self.headers[col]).contains("000s") => 1000,
            _ => 1,
        }
    }

    /// A human summary of the mapping, one field per line, for `leadgen import`
    /// to print before importing so the user can check it and fix it with `--map`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        match self.preset {
            Some(p) => {
                let _ = writeln!(out, "Recognised format: {} ({})", p.label(), p.id());
            }
            None => out.push_str("Format not recognised: mapped by header names\n"),
        }
        let width = Field::ALL.iter().map(|f| f.name().len()).max().unwrap_or(0);
        for (field, col) in self.mapped() {
            let how = if self.overridden.contains(&field) {
                " (--map)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {:<width$} <- \"{}\" (column {}){how}",
                field.name(),
                self.headers[col],
                col + 1,
            );
        }
        if self.column_of(Field::Revenue).is_some() && self.revenue_scale() != 1 {
            let _ = writeln!(
                out,
                "  revenue is given in thousands and will be multiplied by 1000"
            );
        }
        if !self.custom.is_empty() {
            let names: Vec<String> = self
                .custom
                .iter()
                .map(|(_, n)| format!("\"{n}\""))
                .collect();
            let _ = writeln!(
                out,
                "  kept as custom fields ({}): {}",
                self.custom.len(),
                names.join(", ")
            );
        }
        let blank: Vec<String> = self
            .by_column
            .iter()
            .enumerate()
            .filter(|(i, f)| f.is_none() && self.headers[*i].is_empty())
            .map(|(i, _)| (i + 1).to_string())
            .collect();
        if !blank.is_empty() {
            let _ = writeln!(out, "  ignored (blank header): column {}", blank.join(", "));
        }
        if self.column_of(Field::Email).is_none()
            && self.column_of(Field::LinkedinUrl).is_none()
            && self.column_of(Field::CompanyDomain).is_none()
        {
            out.push_str(
                "  warning: no email, LinkedIn or website column found; \
                 use --map email=COLUMN if the file has one\n",
            );
        }
        out
    }
}

/// Export formats whose headers are recognised. Knowing the format lets the
/// mapper resolve names that mean different things in different exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Preset {
    Apollo,
    Hubspot,
    SalesNavigatorPhantombuster,
    LinkedinConnections,
    Clay,
    Zoominfo,
    GmapsGosom,
    Outscraper,
    ApifyGmaps,
    Salesforce,
    Evaboot,
    Seamless,
}

impl Preset {
    fn id(self) -> &'static str {
        match self {
            Preset::Apollo => "apollo",
            Preset::Hubspot => "hubspot",
            Preset::SalesNavigatorPhantombuster => "sales_navigator_phantombuster",
            Preset::LinkedinConnections => "linkedin_connections",
            Preset::Clay => "clay",
            Preset::Zoominfo => "zoominfo",
            Preset::GmapsGosom => "gmaps_gosom",
            Preset::Outscraper => "outscraper",
            Preset::ApifyGmaps => "apify_gmaps",
            Preset::Salesforce => "salesforce",
            Preset::Evaboot => "evaboot",
            Preset::Seamless => "seamless",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Preset::Apollo => "Apollo.io export",
            Preset::Hubspot => "HubSpot contacts export",
            Preset::SalesNavigatorPhantombuster => "PhantomBuster Sales Navigator export",
            Preset::LinkedinConnections => "LinkedIn connections export",
            Preset::Clay => "Clay table export",
            Preset::Zoominfo => "ZoomInfo contact export",
            Preset::GmapsGosom => "Google Maps scrape (gosom/google-maps-scraper)",
            Preset::Outscraper => "Google Maps scrape (Outscraper)",
            Preset::ApifyGmaps => "Google Maps scrape (Apify crawler-google-places)",
            Preset::Salesforce => "Salesforce export",
            Preset::Evaboot => "Evaboot Sales Navigator export",
            Preset::Seamless => "Seamless.ai export",
        }
    }

    /// Maps scrapes describe businesses: their `title`/`name`/`phone` are the
    /// company's.
    fn is_maps(self) -> bool {
        matches!(
            self,
            Preset::GmapsGosom | Preset::Outscraper | Preset::ApifyGmaps
        )
    }
}

/// Lower-cases and keeps only letters and digits, so `# Employees`,
/// `first_name` and `State/Region` compare as `employees`, `firstname` and
/// `stateregion`.
fn normalize(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Recognises the export format from its tell-tale columns. Checked in order
/// from the most to the least specific signature.
fn detect_preset(norm: &[String]) -> Option<Preset> {
    let has = |name: &str| norm.iter().any(|n| n == name);
    let any = |names: &[&str]| names.iter().any(|n| has(n));

    if any(&[
        "zoominfocontactid",
        "zoominfocompanyid",
        "zoominfocontactprofileurl",
        "jobtitlehierarchylevel",
        "personprourl",
    ]) {
        return Some(Preset::Zoominfo);
    }
    if any(&[
        "apollocontactid",
        "apolloaccountid",
        "apollorecordid",
        "companynameforemails",
        "personlinkedinurl",
    ]) {
        return Some(Preset::Apollo);
    }
    if any(&[
        "vmid",
        "defaultprofileurl",
        "sharedconnectionscount",
        "regularcompanyurl",
    ]) || (has("profileurl") && has("linkedinprofileurl"))
    {
        return Some(Preset::SalesNavigatorPhantombuster);
    }
    if has("connectedon") && has("url") {
        return Some(Preset::LinkedinConnections);
    }
    if any(&[
        "contactliprofileurl",
        "companynamecleaned",
        "companystaffcount",
    ]) || (has("email1") && has("contactmobilephone"))
    {
        return Some(Preset::Seamless);
    }
    if any(&["prospectposition", "prospectconnections", "yearsinposition"]) {
        return Some(Preset::Evaboot);
    }
    if has("companytabledata")
        || (has("linkedinprofile") && has("companydomain") && has("fullname"))
    {
        return Some(Preset::Clay);
    }
    if has("recordid")
        && any(&[
            "lifecyclestage",
            "contactowner",
            "associatedcompany",
            "leadstatus",
            "stateregion",
        ])
    {
        return Some(Preset::Hubspot);
    }
    if any(&["nameforemails", "kgmid", "googleid", "reviewsperscore"]) {
        return Some(Preset::Outscraper);
    }
    if any(&[
        "phoneunformatted",
        "totalscore",
        "permanentlyclosed",
        "categoryname",
    ]) && has("title")
    {
        return Some(Preset::ApifyGmaps);
    }
    if any(&["completeaddress", "reviewsperrating", "pluscode", "inputid"]) && has("title") {
        return Some(Preset::GmapsGosom);
    }
    if any(&[
        "mailingcity",
        "mailingstateprovince",
        "mailingcountry",
        "leadsource",
        "ownerid",
    ]) || (has("contactid") && has("accountname"))
    {
        return Some(Preset::Salesforce);
    }
    None
}

/// Rank of a candidate column: lower is better. Ties go to the earlier column.
type Rank = u8;

/// What a normalised header means inside a recognised preset, when that
/// differs from (or is more precise than) the generic table.
///
/// `Some(None)` means "known, deliberately not a field" (kept as custom).
fn preset_synonym(preset: Preset, norm: &str) -> Option<Option<(Field, Rank)>> {
    use Field::*;
    let hit = |f: Field, r: Rank| Some(Some((f, r)));
    if preset.is_maps() {
        return match norm {
            "title" | "name" => hit(CompanyName, 0),
            "phoneunformatted" => hit(CompanyPhone, 0),
            "phone" => hit(CompanyPhone, 1),
            "phone1" => hit(CompanyPhone, 2),
            "website" | "site" => hit(CompanyDomain, 0),
            "categoryname" => hit(Industry, 0),
            "category" => hit(Industry, 1),
            "type" => hit(Industry, 2),
            "emails" => hit(Email, 1),
            "linkedin" => hit(CompanyLinkedinUrl, 0),
            "countrycode" => hit(Country, 1),
            // Maps links and place URLs, not company websites.
            "link" | "url" | "locationlink" | "reviewslink" => Some(None),
            _ => None,
        };
    }
    match (preset, norm) {
        (Preset::SalesNavigatorPhantombuster, n) => match n {
            "linkedinprofileurl" => hit(LinkedinUrl, 0),
            "defaultprofileurl" => hit(LinkedinUrl, 1),
            // A Sales Navigator URL: usable only when nothing better exists.
            "profileurl" => hit(LinkedinUrl, 3),
            "regularcompanyurl" => hit(CompanyLinkedinUrl, 0),
            "companyurl" => hit(CompanyLinkedinUrl, 1),
            "name" => hit(FullName, 1),
            _ => None,
        },
        (Preset::LinkedinConnections, "url") => hit(LinkedinUrl, 0),
        (Preset::Zoominfo, "emaildomain") => hit(CompanyDomain, 2),
        (Preset::Clay, "companytabledata") => hit(CompanyName, 1),
        _ => None,
    }
}

/// The generic synonym table: normalised header → field and rank.
///
/// Person-level columns rank before company-level ones so that, for example,
/// Apollo's `City` beats `Company City` and `Work Direct Phone` feeds `phone`
/// while `Corporate Phone` feeds `company_phone`.
fn generic_synonym(norm: &str) -> Option<(Field, Rank)> {
    use Field::*;
    let hit = match norm {
        // Short company names, never addresses: see EXPORT-FORMATS.md pitfalls.
        "companynameforemails" | "nameforemails" => return None,

        "email" | "emailaddress" | "workemail" | "businessemail" | "primaryemail"
        | "emailaddress1" => (Email, 0),
        "email1" => (Email, 1),
        "emails" => (Email, 2),

        "firstname" | "givenname" | "fname" | "first" | "prenom" => (FirstName, 0),
        "email1firstname" => (FirstName, 2),
        "lastname" | "surname" | "familyname" | "lname" | "last" => (LastName, 0),
        "email1lastname" => (LastName, 2),
        "fullname" | "contactname" | "personname" | "contactfullname" => (FullName, 0),
        "email1fullname" => (FullName, 2),

        "title" | "jobtitle" | "position" | "prospectposition" | "jobposition" | "role"
        | "jobrole" | "designation" | "contacttitle" => (Title, 0),
        "email1title" => (Title, 2),
        "seniority" | "senioritylevel" | "managementlevel" => (Seniority, 0),
        "departments" | "department" => (Department, 0),
        "jobfunction" | "function" => (Department, 1),

        "workdirectphone" | "directphonenumber" | "directphone" | "workphone" | "directdial" => {
            (Phone, 0)
        }
        "phone" | "phonenumber" | "firstphone" | "contactphone1" | "contactphone" | "telephone"
        | "email1phone" => (Phone, 1),
        "phone1" | "tel" => (Phone, 2),
        "mobilephone" | "mobilephonenumber" | "mobile" | "contactmobilephone" | "mobilenumber"
        | "cellphone" | "cell" => (Mobile, 0),
        "corporatephone" | "companyhqphone" | "hqphone" | "companyphonenumber" => (CompanyPhone, 0),
        "companyphone" | "mainphone" | "officephone" | "businessphone" => (CompanyPhone, 1),

        "personlinkedinurl"
        | "linkedinprofile"
        | "linkedincontactprofileurl"
        | "linkedinprofileurl"
        | "contactliprofileurl"
        | "linkedinurl"
        | "personlinkedin"
        | "linkedinprofilelink" => (LinkedinUrl, 0),
        "defaultprofileurl" | "linkedin" => (LinkedinUrl, 1),
        "companylinkedinurl"
        | "linkedincompanyprofileurl"
        | "regularcompanyurl"
        | "companylinkedin"
        | "linkedincompanyurl"
        | "linkedincompany" => (CompanyLinkedinUrl, 0),

        "companyname" | "company" | "accountname" | "companynamecleaned" | "organization"
        | "organisation" | "organizationname" | "businessname" | "employer" => (CompanyName, 0),
        "associatedcompany" | "companytabledata" => (CompanyName, 1),

        "website" | "websiteurl" | "companydomain" | "companydomainname" | "companywebsite"
        | "site" | "companyurl" | "webaddress" | "homepage" => (CompanyDomain, 0),
        "domain" | "web" | "url" => (CompanyDomain, 1),
        "emaildomain" => (CompanyDomain, 2),

        "industry" | "companyindustry" | "primaryindustry" | "categoryname" => (Industry, 0),
        "sector" | "companyinsightsindustry" | "category" => (Industry, 1),

        "employees" | "numberofemployees" | "employeecount" | "companystaffcount"
        | "noofemployees" | "numemployees" | "headcount" | "staffcount" => (EmployeeCount, 0),
        "employeerange" | "employeesrange" | "companysize" | "companyinsightsemployees" => {
            (EmployeeCount, 1)
        }

        "annualrevenue"
        | "revenue"
        | "revenuein000susd"
        | "revenuein000s"
        | "companyannualrevenue"
        | "companyrevenue" => (Revenue, 0),
        "revenuerangeinusd" | "revenuerange" | "companyinsightsrevenue" => (Revenue, 1),

        "city" | "personcity" | "town" => (City, 0),
        "mailingcity" => (City, 1),
        "companycity" => (City, 2),
        "state" | "stateregion" | "personstate" | "stateprovince" | "region" | "province" => {
            (State, 0)
        }
        "mailingstateprovince" | "usstate" => (State, 1),
        "companystate" => (State, 2),
        "country" | "countryregion" | "personcountry" => (Country, 0),
        "mailingcountry" | "countrycode" => (Country, 1),
        "companycountry" => (Country, 2),
        "postalcode" | "zip" | "zipcode" | "personzipcode" | "postcode" | "zippostalcode"
        | "personpostalcode" => (PostalCode, 0),
        "mailingzippostalcode" => (PostalCode, 1),
        "companyzipcode" | "companypostalcode" => (PostalCode, 2),

        "tags" | "tag" | "lists" => (Tags, 0),
        "labels" | "list" => (Tags, 1),
        _ => return fuzzy_synonym(norm),
    };
    Some(hit)
}

/// Last-resort rules for headers no table names, such as `Work Email Address`
/// or `Contact Mobile Number`. They rank below every exact synonym.
fn fuzzy_synonym(norm: &str) -> Option<(Field, Rank)> {
    const NOT_PRIMARY: [&str; 7] = [
        "secondary",
        "tertiary",
        "personal",
        "other",
        "home",
        "alternate",
        "alt",
    ];
    if NOT_PRIMARY.iter().any(|p| norm.starts_with(p)) {
        return None;
    }
    if norm.ends_with("email") || norm.ends_with("emailaddress") {
        return Some((Field::Email, 3));
    }
    if norm.contains("linkedin") && !norm.contains("salesnav") {
        return Some(if norm.contains("company") {
            (Field::CompanyLinkedinUrl, 3)
        } else {
            (Field::LinkedinUrl, 3)
        });
    }
    if norm.ends_with("phone") || norm.ends_with("phonenumber") {
        if norm.contains("fax") {
            return None;
        }
        if norm.contains("mobile") || norm.contains("cell") {
            return Some((Field::Mobile, 3));
        }
        if ["company", "corporate", "hq", "office", "main", "business"]
            .iter()
            .any(|w| norm.contains(w))
        {
            return Some((Field::CompanyPhone, 3));
        }
        return Some((Field::Phone, 3));
    }
    None
}

/// Maps a header row to lead fields.
///
/// `overrides` come from `--map FIELD=COLUMN`: the column is matched against
/// the headers exactly first, then case-insensitively; they win over
/// auto-mapping, and a column they claim is not auto-mapped to anything else.
/// Columns that feed no field but have a header are kept as custom fields.
pub fn auto_map(
    headers: &[&str],
    overrides: &[(Field, String)],
) -> Result<ColumnMapping, MappingError> {
    let trimmed: Vec<String> = headers
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    if trimmed.iter().all(|h| h.is_empty()) {
        return Err(MappingError::EmptyHeader);
    }
    let norm: Vec<String> = trimmed.iter().map(|h| normalize(h)).collect();
    let preset = detect_preset(&norm);

    let mut by_column: Vec<Option<Field>> = vec![None; trimmed.len()];
    let mut by_field: [Option<usize>; FIELD_COUNT] = [None; FIELD_COUNT];
    let mut overridden = Vec::new();

    for (field, column) in overrides {
        let col = find_column(&trimmed, column).ok_or_else(|| MappingError::UnknownColumn {
            field: field.name(),
            column: column.clone(),
            available: list_headers(&trimmed),
        })?;
        if let Some(prev) = by_field[*field as usize] {
            return Err(MappingError::FieldMappedTwice {
                field: field.name(),
                first: trimmed[prev].clone(),
                second: trimmed[col].clone(),
            });
        }
        if let Some(other) = by_column[col] {
            return Err(MappingError::ColumnMappedTwice {
                column: trimmed[col].clone(),
                first: other.name(),
                second: field.name(),
            });
        }
        by_column[col] = Some(*field);
        by_field[*field as usize] = Some(col);
        overridden.push(*field);
    }

    // Without a preset a bare `name` is ambiguous: a person in a contact list,
    // a business in a places list. Person columns next to it decide.
    let has_person_columns = norm.iter().any(|n| {
        matches!(
            generic_synonym(n),
            Some((
                Field::Email | Field::FirstName | Field::LastName | Field::Title,
                _
            )) | Some((Field::LinkedinUrl, _))
        )
    });

    let mut best: [Option<(Rank, usize)>; FIELD_COUNT] = [None; FIELD_COUNT];
    for (col, n) in norm.iter().enumerate() {
        if by_column[col].is_some() || n.is_empty() {
            continue;
        }
        let candidate = match preset.and_then(|p| preset_synonym(p, n)) {
            Some(explicit) => explicit,
            None if n == "name" => Some(if has_person_columns {
                (Field::FullName, 2)
            } else {
                (Field::CompanyName, 2)
            }),
            None => generic_synonym(n),
        };
        let Some((field, rank)) = candidate else {
            continue;
        };
        let slot = &mut best[field as usize];
        if by_field[field as usize].is_none() && slot.is_none_or(|(r, _)| rank < r) {
            *slot = Some((rank, col));
        }
    }
    for field in Field::ALL {
        if let Some((_, col)) = best[field as usize] {
            by_column[col] = Some(field);
            by_field[field as usize] = Some(col);
        }
    }

    let custom = custom_names(&trimmed, &by_column);
    Ok(ColumnMapping {
        by_column,
        by_field,
        custom,
        headers: trimmed,
        overridden,
        preset,
    })
}

/// Finds the column an override names: exact header first, then ignoring case.
fn find_column(headers: &[String], wanted: &str) -> Option<usize> {
    let wanted = wanted.trim();
    headers.iter().position(|h| h == wanted).or_else(|| {
        let lower = wanted.to_lowercase();
        headers.iter().position(|h| h.to_lowercase() == lower)
    })
}

fn list_headers(headers: &[String]) -> String {
    let shown: Vec<String> = headers
        .iter()
        .filter(|h| !h.is_empty())
        .map(|h| format!("\"{h}\""))
        .collect();
    shown.join(", ")
}

/// Names unmapped, non-blank columns; the second `Name` becomes `Name (2)`.
fn custom_names(headers: &[String], by_column: &[Option<Field>]) -> Vec<(usize, String)> {
    let mut custom = Vec::new();
    for (col, header) in headers.iter().enumerate() {
        if by_column[col].is_some() || header.is_empty() {
            continue;
        }
        let lower = header.to_lowercase();
        let occurrence = 1 + headers[..col]
            .iter()
            .filter(|h| h.to_lowercase() == lower)
            .count();
        let name = if occurrence == 1 {
            header.clone()
        } else {
            format!("{header} ({occurrence})")
        };
        custom.push((col, name));
    }
    custom
}

#[cfg(test)]
mod tests {
    use super::*;
    use Field::*;

    fn split(list: &str) -> Vec<&str> {
        list.split(", ").collect()
    }

    fn map(list: &str) -> ColumnMapping {
        auto_map(&split(list), &[]).expect("maps")
    }

    /// The header name feeding `field`, for readable assertions.
    fn header_of<'a>(m: &ColumnMapping, headers: &[&'a str], field: Field) -> Option<&'a str> {
        m.column_of(field).map(|c| headers[c])
    }

    fn assert_fields(list: &str, preset: Option<&str>, expected: &[(Field, Option<&str>)]) {
        let headers = split(list);
        let m = auto_map(&headers, &[]).expect("maps");
        assert_eq!(m.preset(), preset, "preset of {list}");
        for (field, want) in expected {
            assert_eq!(
                header_of(&m, &headers, *field),
                *want,
                "{} in {:?}\n{}",
                field.name(),
                preset,
                m.describe()
            );
        }
    }

    const APOLLO: &str = "First Name, Last Name, Title, Company Name, Company Name for Emails, Email, Email Status, Primary Email Source, Primary Email Verification Source, Email Confidence, Primary Email Catch-all Status, Primary Email Last Verified At, Seniority, Departments, Sub Departments, Contact Owner, Work Direct Phone, Home Phone, Mobile Phone, Corporate Phone, Other Phone, Do Not Call, Stage, Lists, Last Contacted, Account Owner, # Employees, Industry, Keywords, Person Linkedin Url, Website, Company Linkedin Url, Facebook Url, Twitter Url, City, State, Country, Company Address, Company City, Company State, Company Country, Company Phone, Technologies, Annual Revenue, Total Funding, Latest Funding, Latest Funding Amount, Last Raised At, Subsidiary of, Subsidiary of (Organization ID), Email Sent, Email Open, Email Bounced, Replied, Demoed, Number of Retail Locations, Apollo Contact Id, Apollo Account Id, Secondary Email, Secondary Email Source, Secondary Email Status, Tertiary Email, Primary Intent Topic, Primary Intent Score";

    #[test]
    fn apollo_people_export() {
        assert_fields(
            APOLLO,
            Some("apollo"),
            &[
                (Email, Some("Email")),
                (FirstName, Some("First Name")),
                (LastName, Some("Last Name")),
                (Title, Some("Title")),
                (Seniority, Some("Seniority")),
                (Department, Some("Departments")),
                (CompanyName, Some("Company Name")),
                (CompanyDomain, Some("Website")),
                (Phone, Some("Work Direct Phone")),
                (Mobile, Some("Mobile Phone")),
                (CompanyPhone, Some("Corporate Phone")),
                (LinkedinUrl, Some("Person Linkedin Url")),
                (CompanyLinkedinUrl, Some("Company Linkedin Url")),
                (City, Some("City")),
                (State, Some("State")),
                (Country, Some("Country")),
                (EmployeeCount, Some("# Employees")),
                (Industry, Some("Industry")),
                (Revenue, Some("Annual Revenue")),
                (Tags, Some("Lists")),
                (PostalCode, None),
            ],
        );
        let m = map(APOLLO);
        let custom: Vec<&str> = m.custom_columns().iter().map(|(_, n)| n.as_str()).collect();
        for kept in [
            "Company Name for Emails",
            "Email Status",
            "Company City",
            "Company Phone",
            "Secondary Email",
            "Home Phone",
        ] {
            assert!(custom.contains(&kept), "{kept} kept as custom: {custom:?}");
        }
    }

    #[test]
    fn apollo_subset_and_older_layouts() {
        assert_fields(
            "Company, First Phone, Email, Person Linkedin Url, Company City",
            Some("apollo"),
            &[
                (CompanyName, Some("Company")),
                (Phone, Some("First Phone")),
                (City, Some("Company City")),
            ],
        );
        assert_fields(
            "Company Name, Company Name for Emails, # Employees, Industry, Website, Company Linkedin Url, Company Country, Keywords, Apollo Record Id, Short Description, Founded Year, Subsidiary of (Organization ID)",
            Some("apollo"),
            &[
                (CompanyName, Some("Company Name")),
                (Email, None),
                (CompanyDomain, Some("Website")),
                (CompanyLinkedinUrl, Some("Company Linkedin Url")),
                (Country, Some("Company Country")),
            ],
        );
    }

    #[test]
    fn phantombuster_sales_navigator_export() {
        assert_fields(
            "profileUrl, fullName, firstName, lastName, companyName, title, companyId, companyUrl, regularCompanyUrl, summary, titleDescription, industry, companyLocation, location, durationInRole, durationInCompany, pastExperienceCompanyName, connectionDegree, profileImageUrl, sharedConnectionsCount, name, vmid, linkedInProfileUrl, isPremium, isOpenLink, query, timestamp, defaultProfileUrl",
            Some("sales_navigator_phantombuster"),
            &[
                (Email, None),
                (FullName, Some("fullName")),
                (FirstName, Some("firstName")),
                (LastName, Some("lastName")),
                (Title, Some("title")),
                (CompanyName, Some("companyName")),
                (CompanyDomain, None),
                (Phone, None),
                (LinkedinUrl, Some("linkedInProfileUrl")),
                (CompanyLinkedinUrl, Some("regularCompanyUrl")),
                (Industry, Some("industry")),
            ],
        );
        // Only the Sales Navigator URL: better than nothing.
        assert_fields(
            "profileUrl, fullName, companyName, title, companyUrl, vmid",
            Some("sales_navigator_phantombuster"),
            &[
                (LinkedinUrl, Some("profileUrl")),
                (CompanyLinkedinUrl, Some("companyUrl")),
                (CompanyDomain, None),
            ],
        );
    }

    #[test]
    fn linkedin_connections_export() {
        assert_fields(
            "First Name, Last Name, URL, Email Address, Company, Position, Connected On",
            Some("linkedin_connections"),
            &[
                (Email, Some("Email Address")),
                (FirstName, Some("First Name")),
                (LastName, Some("Last Name")),
                (Title, Some("Position")),
                (CompanyName, Some("Company")),
                (LinkedinUrl, Some("URL")),
                (CompanyDomain, None),
                (Phone, None),
            ],
        );
    }

    #[test]
    fn hubspot_contacts_export() {
        assert_fields(
            "Record ID, First Name, Last Name, Email, Phone Number, Mobile Phone Number, Job Title, Company Name, Associated Company, Contact owner, Lifecycle Stage, Lead Status, Create Date, Last Activity Date, Last Modified Date, City, State/Region, Postal Code, Country/Region, Original Source, Website URL, Industry, Number of Employees, Annual Revenue",
            Some("hubspot"),
            &[
                (Email, Some("Email")),
                (FirstName, Some("First Name")),
                (LastName, Some("Last Name")),
                (Title, Some("Job Title")),
                (CompanyName, Some("Company Name")),
                (CompanyDomain, Some("Website URL")),
                (Phone, Some("Phone Number")),
                (Mobile, Some("Mobile Phone Number")),
                (LinkedinUrl, None),
                (State, Some("State/Region")),
                (PostalCode, Some("Postal Code")),
                (Country, Some("Country/Region")),
                (EmployeeCount, Some("Number of Employees")),
            ],
        );
    }

    #[test]
    fn clay_people_export() {
        assert_fields(
            "First Name, Last Name, Full Name, Job Title, Location, Company Domain, LinkedIn Profile, Company Table Data, Email, (Lusha) Work email, Use AI Relevance Score",
            Some("clay"),
            &[
                (Email, Some("Email")),
                (FirstName, Some("First Name")),
                (FullName, Some("Full Name")),
                (Title, Some("Job Title")),
                (CompanyName, Some("Company Table Data")),
                (CompanyDomain, Some("Company Domain")),
                (LinkedinUrl, Some("LinkedIn Profile")),
                (Phone, None),
            ],
        );
        // Without a plain Email column the Lusha one is used.
        assert_fields(
            "Full Name, Job Title, Company Domain, LinkedIn Profile, Company Table Data, (Lusha) Work email",
            Some("clay"),
            &[(Email, Some("(Lusha) Work email"))],
        );
    }

    #[test]
    fn zoominfo_contact_export() {
        assert_fields(
            "ZoomInfo Contact ID, Last Name, First Name, Middle Name, Salutation, Suffix, Job Title, Job Title Hierarchy Level, Management Level, Job Function, Department, Direct Phone Number, Email Address, Email Domain, Mobile phone, Contact Accuracy Score, ZoomInfo Contact Profile URL, LinkedIn Contact Profile URL, Person Street, Person City, Person State, Person Zip Code, Country, ZoomInfo Company ID, Company Name, Website, Company HQ Phone, Revenue (in 000s USD), Revenue Range (in USD), Employees, Employee Range, SIC Code 1, NAICS Code 1, Primary Industry, LinkedIn Company Profile URL, Company Street Address, Company City, Company State, Company Zip Code, Company Country, Full Address, Number of Locations",
            Some("zoominfo"),
            &[
                (Email, Some("Email Address")),
                (FirstName, Some("First Name")),
                (LastName, Some("Last Name")),
                (Title, Some("Job Title")),
                (Seniority, Some("Management Level")),
                (Department, Some("Department")),
                (CompanyName, Some("Company Name")),
                (CompanyDomain, Some("Website")),
                (Phone, Some("Direct Phone Number")),
                (Mobile, Some("Mobile phone")),
                (CompanyPhone, Some("Company HQ Phone")),
                (LinkedinUrl, Some("LinkedIn Contact Profile URL")),
                (CompanyLinkedinUrl, Some("LinkedIn Company Profile URL")),
                (City, Some("Person City")),
                (State, Some("Person State")),
                (PostalCode, Some("Person Zip Code")),
                (Country, Some("Country")),
                (Revenue, Some("Revenue (in 000s USD)")),
                (EmployeeCount, Some("Employees")),
                (Industry, Some("Primary Industry")),
            ],
        );
        let headers =
            split("ZoomInfo Contact ID, Email Address, Company Name, Revenue (in 000s USD)");
        assert_eq!(auto_map(&headers, &[]).unwrap().revenue_scale(), 1000);
    }

    #[test]
    fn zoominfo_legacy_layout() {
        assert_fields(
            "Last name, First name, Job title, Email address, Company domain name, Revenue (in 000s), Employees Range, Person Pro URL",
            Some("zoominfo"),
            &[
                (Email, Some("Email address")),
                (FirstName, Some("First name")),
                (Title, Some("Job title")),
                (CompanyDomain, Some("Company domain name")),
                (EmployeeCount, Some("Employees Range")),
                (LinkedinUrl, None),
            ],
        );
    }

    #[test]
    fn gosom_google_maps_scrape() {
        assert_fields(
            "input_id, link, title, category, address, open_hours, popular_times, website, phone, plus_code, review_count, review_rating, reviews_per_rating, latitude, longitude, cid, status, descriptions, reviews_link, thumbnail, timezone, price_range, data_id, street_view_url, place_id, images, reservations, order_online, menu, owner, complete_address, credit_cards_accepted, about, user_reviews, user_reviews_extended, emails",
            Some("gmaps_gosom"),
            &[
                (Email, Some("emails")),
                (FullName, None),
                (Title, None),
                (CompanyName, Some("title")),
                (CompanyDomain, Some("website")),
                (Phone, None),
                (CompanyPhone, Some("phone")),
                (LinkedinUrl, None),
                (Industry, Some("category")),
            ],
        );
    }

    #[test]
    fn outscraper_google_maps_scrape() {
        assert_fields(
            "query, name, name_for_emails, site, subtypes, category, type, phone, full_address, borough, street, city, postal_code, state, us_state, country, country_code, latitude, longitude, h3, time_zone, plus_code, rating, reviews, reviews_link, reviews_per_score, photos_count, photo, located_in, working_hours, business_status, about, range, description, verified, owner_id, owner_title, location_link, place_id, google_id, cid, kgmid, email_1, email_1_full_name, email_1_first_name, email_1_last_name, email_1_title, email_1_phone, phone_1, facebook, instagram, linkedin, twitter, company_insights.employees, company_insights.industry, company_insights.revenue",
            Some("outscraper"),
            &[
                (Email, Some("email_1")),
                (FullName, Some("email_1_full_name")),
                (FirstName, Some("email_1_first_name")),
                (Title, Some("email_1_title")),
                (CompanyName, Some("name")),
                (CompanyDomain, Some("site")),
                (Phone, Some("email_1_phone")),
                (CompanyPhone, Some("phone")),
                (CompanyLinkedinUrl, Some("linkedin")),
                (LinkedinUrl, None),
                (City, Some("city")),
                (State, Some("state")),
                (PostalCode, Some("postal_code")),
                (Country, Some("country")),
                (Industry, Some("category")),
                (EmployeeCount, Some("company_insights.employees")),
                (Revenue, Some("company_insights.revenue")),
            ],
        );
    }

    #[test]
    fn apify_google_maps_scrape() {
        assert_fields(
            "title, subTitle, categoryName, categories/0, address, street, neighborhood, city, state, postalCode, countryCode, locatedIn, website, phone, phoneUnformatted, totalScore, reviewsCount, placeId, cid, fid, url, price, permanentlyClosed",
            Some("apify_gmaps"),
            &[
                (Email, None),
                (Title, None),
                (CompanyName, Some("title")),
                (CompanyDomain, Some("website")),
                (CompanyPhone, Some("phoneUnformatted")),
                (Phone, None),
                (Industry, Some("categoryName")),
                (PostalCode, Some("postalCode")),
                (Country, Some("countryCode")),
            ],
        );
    }

    #[test]
    fn salesforce_exports() {
        assert_fields(
            "Contact ID, First Name, Last Name, Account Name, Email, Phone, Mobile, Mailing Street, Mailing City, Mailing State/Province, Mailing Zip/Postal Code, Mailing Country, Last Activity",
            Some("salesforce"),
            &[
                (Email, Some("Email")),
                (FirstName, Some("First Name")),
                (CompanyName, Some("Account Name")),
                (Phone, Some("Phone")),
                (Mobile, Some("Mobile")),
                (City, Some("Mailing City")),
                (State, Some("Mailing State/Province")),
                (PostalCode, Some("Mailing Zip/Postal Code")),
                (Country, Some("Mailing Country")),
            ],
        );
        assert_fields(
            "FirstName, LastName, Company, Email, Phone, MobilePhone, Title, LeadSource, Status, OwnerId",
            Some("salesforce"),
            &[
                (Email, Some("Email")),
                (FirstName, Some("FirstName")),
                (LastName, Some("LastName")),
                (Title, Some("Title")),
                (CompanyName, Some("Company")),
                (Phone, Some("Phone")),
                (Mobile, Some("MobilePhone")),
            ],
        );
    }

    #[test]
    fn evaboot_export() {
        assert_fields(
            "First Name, Last Name, Prospect Position, Company Name, Company Domain, Company Industry, Prospect Connections, Years in Position, Years in Company",
            Some("evaboot"),
            &[
                (FirstName, Some("First Name")),
                (Title, Some("Prospect Position")),
                (CompanyName, Some("Company Name")),
                (CompanyDomain, Some("Company Domain")),
                (Industry, Some("Company Industry")),
                (Email, None),
            ],
        );
    }

    #[test]
    fn seamless_export() {
        assert_fields(
            "First Name, Last Name, Title, Email 1, Contact Mobile Phone, Contact Phone 1, Contact LI Profile URL, Company Name - Cleaned, Website, Company Staff Count, Company Annual Revenue",
            Some("seamless"),
            &[
                (Email, Some("Email 1")),
                (Title, Some("Title")),
                (Mobile, Some("Contact Mobile Phone")),
                (Phone, Some("Contact Phone 1")),
                (LinkedinUrl, Some("Contact LI Profile URL")),
                (CompanyName, Some("Company Name - Cleaned")),
                (CompanyDomain, Some("Website")),
                (EmployeeCount, Some("Company Staff Count")),
                (Revenue, Some("Company Annual Revenue")),
            ],
        );
    }

    #[test]
    fn instantly_style_upload_has_no_preset_but_maps() {
        assert_fields(
            "email, first_name, last_name, company_name, job_title, website, phone, personalization",
            None,
            &[
                (Email, Some("email")),
                (FirstName, Some("first_name")),
                (Title, Some("job_title")),
                (CompanyName, Some("company_name")),
                (CompanyDomain, Some("website")),
                (Phone, Some("phone")),
            ],
        );
    }

    #[test]
    fn bare_name_is_a_person_next_to_person_columns_else_a_business() {
        assert_fields(
            "Name, Email, Company",
            None,
            &[(FullName, Some("Name")), (CompanyName, Some("Company"))],
        );
        assert_fields(
            "Name, Website, Phone, Address",
            None,
            &[(CompanyName, Some("Name")), (FullName, None)],
        );
    }

    #[test]
    fn fuzzy_headers_rank_below_exact_ones() {
        assert_fields(
            "Work Email Address, Contact Mobile Number, LinkedIn Link, Personal Email, Fax Phone",
            None,
            &[
                (Email, Some("Work Email Address")),
                (LinkedinUrl, Some("LinkedIn Link")),
                (Phone, None),
            ],
        );
        assert_fields("Work Email Address, Email", None, &[(Email, Some("Email"))]);
    }

    #[test]
    fn duplicate_headers_keep_first_and_number_the_rest() {
        let headers = ["Name", "Email", "Name", "email", "Notes", "Notes"];
        let m = auto_map(&headers, &[]).unwrap();
        assert_eq!(m.column_of(FullName), Some(0));
        assert_eq!(m.column_of(Email), Some(1));
        assert_eq!(
            m.custom_columns(),
            &[
                (2, "Name (2)".to_string()),
                (3, "email (2)".to_string()),
                (4, "Notes".to_string()),
                (5, "Notes (2)".to_string()),
            ]
        );
    }

    #[test]
    fn blank_headers_are_not_custom_columns() {
        let m = auto_map(&["Email", "", "  "], &[]).unwrap();
        assert!(m.custom_columns().is_empty());
        assert_eq!(m.column_count(), 3);
        assert!(m.describe().contains("ignored (blank header): column 2, 3"));
    }

    #[test]
    fn empty_header_row_is_an_error() {
        assert_eq!(auto_map(&[], &[]), Err(MappingError::EmptyHeader));
        assert_eq!(auto_map(&["", " "], &[]), Err(MappingError::EmptyHeader));
    }

    #[test]
    fn overrides_win_and_free_the_auto_mapped_field() {
        let headers = ["E-mail", "Work Email", "Company", "Org"];
        let m = auto_map(
            &headers,
            &[(Email, "work email".into()), (CompanyName, "Org".into())],
        )
        .unwrap();
        assert_eq!(m.column_of(Email), Some(1));
        assert_eq!(m.column_of(CompanyName), Some(3));
        assert_eq!(m.field_of(0), None);
        assert_eq!(m.field_of(2), None);
        let custom: Vec<usize> = m.custom_columns().iter().map(|(c, _)| *c).collect();
        assert_eq!(custom, vec![0, 2]);
        assert!(m.describe().contains("(--map)"));
    }

    #[test]
    fn override_prefers_exact_case() {
        let m = auto_map(&["notes", "Notes"], &[(Tags, "Notes".into())]).unwrap();
        assert_eq!(m.column_of(Tags), Some(1));
    }

    #[test]
    fn override_of_missing_column_lists_the_headers() {
        let err = auto_map(&["Email", "Firm"], &[(CompanyName, "Company".into())]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("company_name=Company"), "{msg}");
        assert!(msg.contains("\"Email\", \"Firm\""), "{msg}");
    }

    #[test]
    fn conflicting_overrides_are_errors() {
        let err = auto_map(&["A", "B"], &[(Email, "A".into()), (Email, "B".into())]).unwrap_err();
        assert!(matches!(err, MappingError::FieldMappedTwice { .. }));
        let err = auto_map(&["A", "B"], &[(Email, "A".into()), (Phone, "A".into())]).unwrap_err();
        assert!(matches!(err, MappingError::ColumnMappedTwice { .. }));
    }

    #[test]
    fn company_name_for_emails_is_never_an_email() {
        let headers = ["Company Name for Emails", "name_for_emails"];
        let m = auto_map(&headers, &[]).unwrap();
        assert_eq!(m.column_of(Email), None);
        assert_eq!(m.custom_columns().len(), 2);
    }

    #[test]
    fn bom_and_padding_in_headers_are_ignored() {
        let m = auto_map(&["\u{feff}Email ", " First Name"], &[]).unwrap();
        assert_eq!(m.column_of(Email), Some(0));
        assert_eq!(m.column_of(FirstName), Some(1));
    }

    #[test]
    fn every_column_is_mapped_or_custom_or_blank() {
        let headers = split(APOLLO);
        let m = auto_map(&headers, &[]).unwrap();
        let mapped = m.mapped().count();
        assert_eq!(mapped + m.custom_columns().len(), headers.len());
        for (field, col) in m.mapped() {
            assert_eq!(m.field_of(col), Some(field));
        }
    }
}
