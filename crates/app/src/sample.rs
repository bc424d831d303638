//! Synthetic B2B lead files for demos, tests and benchmarks (`leadgen sample`).
//!
//! The rows look like an Apollo people export so that the importer, the
//! mapper and dedupe are exercised the way real data exercises them: accented
//! and apostrophised names, titles with commas, several phone and LinkedIn URL
//! formats, company websites in every spelling, personal Gmail addresses.
//!
//! Three guarantees make the file usable as a benchmark *with an answer key*:
//! * **Deterministic**: the same [`SampleSpec`] writes the same bytes.
//! * **Unique leads are unique** on every dedupe key: company domains differ
//!   (distinct word combinations), names differ within a company (first and
//!   last names are drawn without repetition inside a company), Gmail
//!   addresses, LinkedIn slugs and phone numbers embed an injective scramble of
//!   the lead's number. This holds for well over a million leads.
//! * **Planted duplicates** are re-renderings of an earlier lead with the
//!   variations real exports have (case, padding, Gmail dots and `+tags`,
//!   reformatted phones, `https://www.` websites, other LinkedIn URL forms,
//!   missing fields, a newer title) but always with at least one of the
//!   lead's strong keys (email or LinkedIn) intact, so a correct dedupe finds
//!   exactly [`SampleStats::unique_leads`] leads. About 0.2% of rows are
//!   deliberately bad (no valid email, LinkedIn or website) and should be
//!   rejected.
//!
//! Every lead is a pure function of the seed and its number (and every company
//! of the seed and its number), each drawn from its own ChaCha8 stream, so a
//! duplicate can re-create any earlier lead without keeping it in memory.
//! Rows are assembled into a reused byte buffer without `format!`, which keeps
//! generation well above a million rows per second.

use std::io::{self, Write};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleSpec {
    /// Data rows to write (the header is extra).
    pub rows: u64,
    /// Fraction of rows that re-state an earlier lead, in `[0, 0.95]`.
    pub dup_rate: f64,
    /// Same seed, same file.
    pub seed: u64,
}

impl Default for SampleSpec {
    fn default() -> SampleSpec {
        SampleSpec {
            rows: 1000,
            dup_rate: 0.1,
            seed: 42,
        }
    }
}

/// What was written: the answer key for dedupe and rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SampleStats {
    /// Data rows written.
    pub rows: u64,
    /// Distinct leads: what a correct import keeps.
    pub unique_leads: u64,
    /// Rows that repeat an earlier lead.
    pub planted_duplicates: u64,
    /// Rows without a valid email, LinkedIn URL or website.
    pub planted_bad: u64,
}

/// The header, Apollo-style.
pub const SAMPLE_HEADER: &str = "First Name,Last Name,Title,Seniority,Company Name,Website,Email,Phone,Person Linkedin Url,Industry,# Employees,City,State,Country,Tags";

/// Writes `spec.rows` rows plus a header to `out` (buffered internally).
///
/// Fails with `InvalidInput` if `dup_rate` is outside `[0, 0.95]`.
pub fn write_sample<W: Write>(spec: &SampleSpec, mut out: W) -> io::Result<SampleStats> {
    if !(0.0..=0.95).contains(&spec.dup_rate) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "dup_rate must be between 0 and 0.95 (got {}); for example 0.1 plants 10% duplicates",
                spec.dup_rate
            ),
        ));
    }
    let mut generator = Generator::new(spec.seed);
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT + 4096);
    buf.extend_from_slice(SAMPLE_HEADER.as_bytes());
    buf.push(b'\n');

    let mut stats = SampleStats::default();
    let mut main = generator.rng(MAIN_STREAM);
    // Rows at or below `bad_below` are bad; up to `dup_below`, duplicates.
    let bad_below = unit_to_u64(BAD_RATE);
    let dup_below = unit_to_u64(BAD_RATE + spec.dup_rate);
    for _ in 0..spec.rows {
        let roll = main.next_u64();
        if roll < bad_below {
            generator.write_bad(&mut main, &mut buf);
            stats.planted_bad += 1;
        } else if roll < dup_below && generator.next_lead > 0 {
            let lead = below64(&mut main, generator.next_lead);
            generator.write_duplicate(lead, &mut main, &mut buf);
            stats.planted_duplicates += 1;
        } else {
            generator.write_new(&mut buf);
            stats.unique_leads += 1;
        }
        stats.rows += 1;
        if buf.len() >= FLUSH_AT {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()?;
    Ok(stats)
}

const FLUSH_AT: usize = 256 * 1024;
const BAD_RATE: f64 = 0.002;
const MAIN_STREAM: u64 = 1 << 63;
const COMPANY_STREAM: u64 = 1 << 62;
/// Largest number of leads per company; must stay below the name-list sizes
/// so names never repeat inside a company.
const MAX_COMPANY_SIZE: u32 = 150;

fn unit_to_u64(p: f64) -> u64 {
    if p >= 1.0 {
        u64::MAX
    } else {
        (p * 18_446_744_073_709_551_616.0) as u64
    }
}

/// Uniform-enough index below `n` (multiply-shift; bias is irrelevant here).
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((u64::from(rng.next_u32()) * n as u64) >> 32) as usize
}

fn below64(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
}

/// True with probability `per_mille`/1000.
fn chance(rng: &mut ChaCha8Rng, per_mille: u32) -> bool {
    below(rng, 1000) < per_mille as usize
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The smallest step ≥ `from` coprime with `n`: stepping through `0..n` by it
/// visits every index once, so names drawn that way never repeat.
fn coprime_step(n: usize, from: usize) -> usize {
    (from..).find(|s| gcd(*s, n) == 1).unwrap_or(1)
}

/// A name with its precomputed spellings.
struct Name {
    display: &'static str,
    upper: String,
    /// ASCII lower-case letters only: for email local parts.
    fold: String,
    /// ASCII lower-case with hyphens between words: for LinkedIn slugs.
    slug: String,
}

impl Name {
    fn new(display: &'static str) -> Name {
        let mut fold = String::new();
        let mut slug = String::new();
        for c in display.chars() {
            match ascii_fold(c) {
                Some(s) => {
                    fold.push_str(s);
                    slug.push_str(s);
                }
                None if (c == ' ' || c == '-') && !slug.ends_with('-') => slug.push('-'),
                None => {}
            }
        }
        Name {
            display,
            upper: display.to_uppercase(),
            fold,
            slug,
        }
    }
}

/// Lower-case ASCII spelling of a letter, as email providers and LinkedIn
/// transliterate names; `None` for apostrophes, spaces and hyphens.
fn ascii_fold(c: char) -> Option<&'static str> {
    const LOWER: [&str; 26] = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r",
        "s", "t", "u", "v", "w", "x", "y", "z",
    ];
    if c.is_ascii_alphabetic() {
        return Some(LOWER[(c.to_ascii_lowercase() as u8 - b'a') as usize]);
    }
    Some(match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' | 'Á' | 'Å' | 'Ä' => "a",
        'ç' | 'Ç' => "c",
        'é' | 'è' | 'ê' | 'ë' | 'É' => "e",
        'í' | 'ì' | 'î' | 'ï' | 'Í' => "i",
        'ñ' | 'Ñ' => "n",
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' | 'Ó' | 'Ö' | 'Ø' => "o",
        'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ü' => "u",
        'ý' | 'ÿ' => "y",
        'ß' => "ss",
        'ł' | 'Ł' => "l",
        'ś' | 'Ś' => "s",
        'ż' | 'ź' | 'Ż' => "z",
        'æ' => "ae",
        _ => return None,
    })
}

const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Nancy",
    "Daniel",
    "Lisa",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Dorothy",
    "Kevin",
    "Carol",
    "Brian",
    "Amanda",
    "George",
    "Melissa",
    "Edward",
    "Deborah",
    "Ronald",
    "Stephanie",
    "Timothy",
    "Rebecca",
    "Jason",
    "Sharon",
    "Jeffrey",
    "Laura",
    "Ryan",
    "Cynthia",
    "Jacob",
    "Kathleen",
    "Gary",
    "Amy",
    "Nicholas",
    "Shirley",
    "Eric",
    "Angela",
    "Jonathan",
    "Helen",
    "Stephen",
    "Anna",
    "Larry",
    "Brenda",
    "Justin",
    "Pamela",
    "Scott",
    "Nicole",
    "Brandon",
    "Samantha",
    "Benjamin",
    "Katherine",
    "Samuel",
    "Emma",
    "Gregory",
    "Ruth",
    "Frank",
    "Christine",
    "Alexander",
    "Catherine",
    "Raymond",
    "Debra",
    "Patrick",
    "Rachel",
    "Jack",
    "Carolyn",
    "Dennis",
    "Janet",
    "Jerry",
    "Virginia",
    "Tyler",
    "Maria",
    "Aaron",
    "Heather",
    "José",
    "Diane",
    "Adam",
    "Julie",
    "Henry",
    "Joyce",
    "Nathan",
    "Victoria",
    "Douglas",
    "Kelly",
    "Zachary",
    "Christina",
    "Peter",
    "Lauren",
    "Kyle",
    "Joan",
    "Walter",
    "Evelyn",
    "Ethan",
    "Olivia",
    "Jeremy",
    "Judith",
    "Harold",
    "Megan",
    "Keith",
    "Cheryl",
    "Christian",
    "Martha",
    "Roger",
    "Andrea",
    "Noah",
    "Frances",
    "Gerald",
    "Hannah",
    "Carl",
    "Jacqueline",
    "Terry",
    "Ann",
    "Seán",
    "Gloria",
    "Austin",
    "Jean",
    "Arthur",
    "Kathryn",
    "Lawrence",
    "Alice",
    "Jesse",
    "Teresa",
    "Dylan",
    "Sara",
    "Bryan",
    "Janice",
    "Joe",
    "Doris",
    "Jordan",
    "Madison",
    "Billy",
    "Julia",
    "Bruce",
    "Grace",
    "Albert",
    "Judy",
    "Gabriel",
    "Marie",
    "Logan",
    "Denise",
    "Alan",
    "Beverly",
    "Juan",
    "Amber",
    "Wayne",
    "Theresa",
    "Roy",
    "Marilyn",
    "Ralph",
    "Danielle",
    "Randy",
    "Diana",
    "Eugene",
    "Brittany",
    "Vincent",
    "Natalie",
    "Russell",
    "Sophia",
    "Elijah",
    "Rose",
    "Louis",
    "Isabella",
    "Philip",
    "Kayla",
    "Johnny",
    "Charlotte",
    "Zoë",
    "Chloé",
    "Björn",
    "Søren",
    "François",
    "Renée",
    "Jürgen",
    "Siobhán",
    "Noémie",
    "João",
    "Léa",
    "Mónica",
    "Ángel",
    "Anaïs",
    "Raphaël",
    "Sébastien",
    "Ingrid",
    "Lars",
    "Sven",
    "Priya",
    "Arjun",
    "Wei",
    "Mei",
    "Hiroshi",
    "Yuki",
    "Fatima",
    "Omar",
    "Ahmed",
    "Aisha",
    "Chidi",
    "Ngozi",
    "Kwame",
    "Olga",
    "Dmitri",
    "Katarzyna",
    "Piotr",
    "Mateo",
    "Lucía",
    "Valentina",
    "Giulia",
    "Matteo",
    "Luca",
    "Mary-Kate",
    "Jean-Luc",
    "Małgosia",
    "Åsa",
    "Nils",
    "Freya",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "García",
    "Miller",
    "Davis",
    "Rodríguez",
    "Martinez",
    "Hernández",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Pérez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Jimenez",
    "Powell",
    "Jenkins",
    "Perry",
    "Russell",
    "Sullivan",
    "Bell",
    "Coleman",
    "Butler",
    "Henderson",
    "Barnes",
    "Fisher",
    "Vasquez",
    "Simmons",
    "Romero",
    "Jordan",
    "Patterson",
    "Alexander",
    "Hamilton",
    "Graham",
    "Reynolds",
    "Griffin",
    "Wallace",
    "Moreno",
    "West",
    "Cole",
    "Hayes",
    "Bryant",
    "Herrera",
    "Gibson",
    "Ellis",
    "Tran",
    "Medina",
    "Aguilar",
    "Stevens",
    "Murray",
    "Ford",
    "Castro",
    "Marshall",
    "Owens",
    "Harrison",
    "Fernandez",
    "McDonald",
    "Woods",
    "Washington",
    "Kennedy",
    "Wells",
    "Vargas",
    "Henry",
    "Chen",
    "Freeman",
    "Webb",
    "Tucker",
    "Guzman",
    "Burns",
    "Crawford",
    "Olson",
    "Simpson",
    "Porter",
    "Hunter",
    "Gordon",
    "Mendez",
    "Silva",
    "Shaw",
    "Snyder",
    "Mason",
    "Dixon",
    "Muñoz",
    "Hunt",
    "Hicks",
    "Holmes",
    "Palmer",
    "Wagner",
    "Black",
    "Robertson",
    "Boyd",
    "Rose",
    "Stone",
    "Salazar",
    "Fox",
    "Warren",
    "Mills",
    "Meyer",
    "Rice",
    "Schmidt",
    "Garza",
    "Daniels",
    "Ferguson",
    "Nichols",
    "Stephens",
    "Soto",
    "Weaver",
    "Ryan",
    "Gardner",
    "Payne",
    "Grant",
    "Dunn",
    "Spencer",
    "Hawkins",
    "Arnold",
    "Pierce",
    "Hansen",
    "Peters",
    "Santos",
    "Hart",
    "Bradley",
    "Knight",
    "Elliott",
    "Cunningham",
    "Duncan",
    "Armstrong",
    "Hudson",
    "Carroll",
    "Lane",
    "Riley",
    "Andrews",
    "Ray",
    "Berry",
    "Perkins",
    "Hoffman",
    "Johnston",
    "Matthews",
    "Peña",
    "Richards",
    "Willis",
    "Carpenter",
    "Lawrence",
    "Sandoval",
    "O'Neil",
    "O'Brien",
    "D'Angelo",
    "Müller",
    "Schröder",
    "Weiß",
    "Núñez",
    "Søndergaard",
    "Van der Berg",
    "Smith-Jones",
    "MacLeod",
    "Łukasik",
    "Kowalski",
    "Nowak",
    "Rossi",
    "Bianchi",
    "Dubois",
    "Lefèvre",
    "Fischer",
    "Becker",
    "Jansen",
    "De Vries",
    "Andersson",
    "Johansson",
    "Nielsen",
    "Virtanen",
    "Tanaka",
    "Suzuki",
    "Sato",
    "Wang",
    "Zhang",
    "Liu",
    "Singh",
    "Kumar",
    "Sharma",
    "Okafor",
    "Mensah",
    "Ivanov",
    "Popescu",
    "Costa",
    "Ferreira",
    "Oliveira",
];

/// Title, Apollo seniority.
const TITLES: &[(&str, &str)] = &[
    ("CEO", "c_suite"),
    ("Chief Executive Officer", "c_suite"),
    ("CTO", "c_suite"),
    ("CFO", "c_suite"),
    ("COO", "c_suite"),
    ("Chief Marketing Officer", "c_suite"),
    ("Chief Revenue Officer", "c_suite"),
    ("Founder", "founder"),
    ("Co-Founder & CEO", "founder"),
    ("Owner", "owner"),
    ("Managing Partner", "partner"),
    ("VP Sales", "vp"),
    ("VP of Marketing", "vp"),
    ("VP, Engineering", "vp"),
    ("Vice President of Operations", "vp"),
    ("SVP, Business Development", "vp"),
    ("Head of Marketing", "head"),
    ("Head of Growth", "head"),
    ("Head of Sales", "head"),
    ("Head of People", "head"),
    ("Head of Product", "head"),
    ("Director of Engineering", "director"),
    ("Director, Demand Generation", "director"),
    ("Sales Director", "director"),
    ("IT Director", "director"),
    ("Director of Customer Success", "director"),
    ("Marketing Manager", "manager"),
    ("Sales Manager", "manager"),
    ("Engineering Manager", "manager"),
    ("Product Manager", "manager"),
    ("Account Manager", "manager"),
    ("HR Manager", "manager"),
    ("Operations Manager", "manager"),
    ("Senior Software Engineer", "senior"),
    ("Senior Account Executive", "senior"),
    ("Lead Data Scientist", "senior"),
    ("Software Engineer", "entry"),
    ("Account Executive", "entry"),
    ("Sales Development Representative", "entry"),
    ("Marketing Specialist", "entry"),
    ("Recruiter", "entry"),
    ("Data Analyst", "entry"),
    ("Customer Success Manager", "manager"),
    ("Marketing Intern", "intern"),
];

const INDUSTRIES: &[&str] = &[
    "information technology & services",
    "computer software",
    "internet",
    "marketing & advertising",
    "financial services",
    "hospital & health care",
    "logistics & supply chain",
    "real estate",
    "management consulting",
    "staffing & recruiting",
    "e-learning",
    "construction",
    "retail",
    "accounting",
    "insurance",
    "biotechnology",
    "telecommunications",
    "renewables & environment",
    "food & beverages",
    "automotive",
    "legal services",
    "venture capital & private equity",
    "computer & network security",
    "design",
];

const TAGS: &[&str] = &[
    "conference-2024",
    "webinar",
    "q3-outbound",
    "partner-referral",
    "saas-founders",
    "inbound-demo",
    "trade-show",
    "newsletter",
    "abm-tier-1",
    "reactivation",
];

const WORDS_A: &[&str] = &[
    "Granite",
    "Summit",
    "Blue",
    "North",
    "Bright",
    "Silver",
    "Iron",
    "Cedar",
    "Harbor",
    "Maple",
    "Quantum",
    "Vertex",
    "Nimbus",
    "Aurora",
    "Copper",
    "Falcon",
    "Evergreen",
    "Pioneer",
    "Atlas",
    "Beacon",
    "Crimson",
    "Delta",
    "Emerald",
    "Frontier",
    "Golden",
    "Horizon",
    "Indigo",
    "Juniper",
    "Keystone",
    "Lumen",
    "Meridian",
    "Nova",
    "Orchid",
    "Pinnacle",
    "Quartz",
    "Redwood",
    "Sapphire",
    "Tidal",
    "Umber",
    "Vanguard",
    "Willow",
    "Zenith",
    "Apex",
    "Boulder",
    "Cobalt",
    "Driftwood",
    "Ember",
    "Fjord",
    "Glacier",
    "Highland",
    "Ivory",
    "Jasper",
    "Kestrel",
    "Lakeside",
    "Magnolia",
    "Northstar",
    "Onyx",
    "Prairie",
    "Quill",
    "Riverbend",
    "Sequoia",
    "Thunder",
    "Upland",
    "Velvet",
    "Westwind",
    "Yellowstone",
    "Acorn",
    "Bayside",
    "Canyon",
    "Dune",
    "Eastgate",
    "Foxglove",
    "Greystone",
    "Hollow",
    "Inkwell",
    "Jetstream",
    "Kingfisher",
    "Lighthouse",
    "Moonstone",
    "Oakridge",
];

const WORDS_B: &[&str] = &[
    "Labs",
    "Systems",
    "Works",
    "Analytics",
    "Digital",
    "Cloud",
    "Dynamics",
    "Partners",
    "Solutions",
    "Ventures",
    "Logic",
    "Data",
    "Networks",
    "Studio",
    "Metrics",
    "Signal",
    "Stack",
    "Forge",
    "Bridge",
    "Point",
    "Path",
    "Sphere",
    "Scale",
    "Wave",
    "Grid",
    "Hub",
    "Loop",
    "Mind",
    "Pulse",
    "Shift",
    "Spark",
    "Core",
    "Craft",
    "Flow",
    "Gate",
    "Leaf",
    "Mark",
    "Nest",
    "Peak",
    "Quest",
    "Rock",
    "Sky",
    "Tree",
    "Vision",
    "Yard",
    "Field",
    "Harvest",
    "Orbit",
    "Pixel",
    "Ridge",
    "Stream",
    "Track",
    "Union",
    "Vault",
    "Wing",
    "Anchor",
    "Compass",
    "Lantern",
];

const WORDS_C: &[&str] = &[
    "Software",
    "Health",
    "Logistics",
    "Capital",
    "Media",
    "Robotics",
    "Energy",
    "Security",
    "Consulting",
    "Foods",
    "Bio",
    "Insurance",
    "Learning",
    "Realty",
    "Legal",
    "Retail",
    "Telecom",
    "Design",
    "Manufacturing",
    "Marketing",
];

const US_AREA_CODES: [u16; 26] = [
    212, 213, 206, 202, 214, 303, 305, 310, 312, 404, 408, 415, 469, 503, 510, 512, 602, 615, 617,
    646, 650, 702, 704, 718, 773, 917,
];

/// (city, state) per country: United States, United Kingdom, Germany.
const US_CITIES: &[(&str, &str)] = &[
    ("New York", "New York"),
    ("San Francisco", "California"),
    ("Los Angeles", "California"),
    ("Chicago", "Illinois"),
    ("Boston", "Massachusetts"),
    ("Austin", "Texas"),
    ("Dallas", "Texas"),
    ("Seattle", "Washington"),
    ("Denver", "Colorado"),
    ("Atlanta", "Georgia"),
    ("Miami", "Florida"),
    ("Washington", "District of Columbia"),
    ("Portland", "Oregon"),
    ("San Diego", "California"),
    ("Nashville", "Tennessee"),
    ("Phoenix", "Arizona"),
    ("Charlotte", "North Carolina"),
    ("Las Vegas", "Nevada"),
    ("San Jose", "California"),
    ("Brooklyn", "New York"),
];
const UK_CITIES: &[(&str, &str)] = &[
    ("London", "England"),
    ("Manchester", "England"),
    ("Bristol", "England"),
    ("Leeds", "England"),
    ("Edinburgh", "Scotland"),
    ("Glasgow", "Scotland"),
    ("Cardiff", "Wales"),
    ("Cambridge", "England"),
];
const DE_CITIES: &[(&str, &str)] = &[
    ("Berlin", "Berlin"),
    ("Munich", "Bavaria"),
    ("Hamburg", "Hamburg"),
    ("Frankfurt", "Hesse"),
    ("Cologne", "North Rhine-Westphalia"),
    ("Düsseldorf", "North Rhine-Westphalia"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Country {
    Us,
    Uk,
    De,
}

impl Country {
    fn cities(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Country::Us => US_CITIES,
            Country::Uk => UK_CITIES,
            Country::De => DE_CITIES,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Country::Us => "United States",
            Country::Uk => "United Kingdom",
            Country::De => "Germany",
        }
    }
}

/// A company: everything its leads share. A pure function of (seed, number).
struct Company {
    words: [usize; 3],
    three_words: bool,
    /// Number appended to the domain once word combinations run out.
    round: u64,
    suffix: &'static str,
    tld: &'static str,
    country: Country,
    city: usize,
    industry: usize,
    employees: u32,
    email_pattern: u8,
    website_form: u8,
    size: u32,
    first_offset: usize,
    last_offset: usize,
}

/// Number of distinct company word combinations (two- and three-word).
fn combos() -> u64 {
    let ab = (WORDS_A.len() * WORDS_B.len()) as u64;
    ab + ab * WORDS_C.len() as u64
}

/// A bijection on `0..n` that scatters consecutive inputs, so consecutive
/// companies and phone numbers do not look consecutive while staying unique:
/// an invertible bit mixer on the next power of two, walked until it lands
/// inside `0..n` (cycle walking).
fn permute(i: u64, n: u64) -> u64 {
    if n < 2 {
        return 0;
    }
    let bits = 64 - (n - 1).leading_zeros();
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let half = (bits / 2).max(1);
    // Offset first: the mixer alone would keep 0 at 0.
    let mut x = (i % n + n / 3 + 1) % n;
    loop {
        // xor-shift and odd multiplication are both invertible modulo 2^bits.
        for k in [0x9E37_79B9_7F4A_7C15u64, 0xBF58_476D_1CE4_E5B9] {
            x ^= x >> half;
            x = x.wrapping_mul(k) & mask;
        }
        x ^= x >> half;
        if x < n {
            return x;
        }
    }
}

struct Generator {
    key: [u8; 32],
    first: Vec<Name>,
    last: Vec<Name>,
    first_step: usize,
    last_step: usize,
    combo_count: u64,
    /// First lead number of every company generated so far.
    company_starts: Vec<u64>,
    current: Option<Company>,
    slot: u32,
    next_lead: u64,
    scratch: Vec<u8>,
}

/// Per-row choices for a duplicate rendering.
#[derive(Debug, Clone, Copy, Default)]
struct Variation {
    email_case: u8,
    gmail_dots: bool,
    gmail_tag: bool,
    pad: bool,
    name_caps: bool,
    phone_format: Option<u8>,
    website_full: bool,
    linkedin_form: Option<u8>,
    drop_phone: bool,
    drop_title: bool,
    drop_location: bool,
    drop_email: bool,
    drop_linkedin: bool,
    new_title: Option<usize>,
}

/// A lead: indices into the tables, rendered on demand.
struct Lead {
    first: usize,
    last: usize,
    title: usize,
    city: usize,
    gmail: bool,
    has_email: bool,
    phone: Option<u8>,
    linkedin: Option<u8>,
    slug_short: bool,
    tags: Option<(usize, Option<usize>)>,
}

impl Generator {
    fn new(seed: u64) -> Generator {
        let key = ChaCha8Rng::seed_from_u64(seed).get_seed();
        let first: Vec<Name> = FIRST_NAMES.iter().map(|n| Name::new(n)).collect();
        let last: Vec<Name> = LAST_NAMES.iter().map(|n| Name::new(n)).collect();
        let first_step = coprime_step(first.len(), 97);
        let last_step = coprime_step(last.len(), 61);
        let combo_count = combos();
        Generator {
            key,
            first,
            last,
            first_step,
            last_step,
            combo_count,
            company_starts: Vec::new(),
            current: None,
            slot: 0,
            next_lead: 0,
            scratch: Vec::with_capacity(128),
        }
    }

    fn rng(&self, stream: u64) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::from_seed(self.key);
        rng.set_stream(stream);
        rng
    }

    fn company(&self, k: u64) -> Company {
        let mut rng = self.rng(COMPANY_STREAM | k);
        let combo = permute(k, self.combo_count);
        let (a, b) = (WORDS_A.len() as u64, WORDS_B.len() as u64);
        let three_words = combo >= a * b;
        let c = if three_words { combo - a * b } else { combo };
        let words = [
            (c % a) as usize,
            ((c / a) % b) as usize,
            (c / (a * b)) as usize,
        ];
        let country = match below(&mut rng, 100) {
            0..75 => Country::Us,
            75..90 => Country::Uk,
            _ => Country::De,
        };
        let (suffixes, tlds): (&[&str], &[&str]) = match country {
            Country::Us => (
                &["Inc", "Inc", "LLC", "Corp", "", ""],
                &[
                    ".com", ".com", ".com", ".com", ".io", ".io", ".co", ".ai", ".net",
                ],
            ),
            Country::Uk => (
                &["Ltd", "Ltd", "LLP", "PLC", ""],
                &[".co.uk", ".co.uk", ".co.uk", ".com", ".io"],
            ),
            Country::De => (&["GmbH", "GmbH", "AG", ""], &[".de", ".de", ".de", ".com"]),
        };
        let size = match below(&mut rng, 100) {
            0..60 => 1 + below(&mut rng, 5),
            60..85 => 6 + below(&mut rng, 15),
            85..97 => 21 + below(&mut rng, 40),
            _ => 61 + below(&mut rng, (MAX_COMPANY_SIZE - 60) as usize),
        } as u32;
        let employees = match below(&mut rng, 10) {
            0..4 => 2 + below(&mut rng, 48),
            4..7 => 50 + below(&mut rng, 450),
            7..9 => 500 + below(&mut rng, 4500),
            _ => 5000 + below(&mut rng, 95000),
        } as u32;
        Company {
            words,
            three_words,
            round: k / self.combo_count,
            suffix: suffixes[below(&mut rng, suffixes.len())],
            tld: tlds[below(&mut rng, tlds.len())],
            country,
            city: below(&mut rng, country.cities().len()),
            industry: below(&mut rng, INDUSTRIES.len()),
            employees: employees.max(size),
            email_pattern: match below(&mut rng, 100) {
                0..50 => 0,
                50..75 => 1,
                75..85 => 2,
                85..92 => 3,
                92..96 => 4,
                _ => 5,
            },
            website_form: below(&mut rng, 5) as u8,
            size,
            first_offset: below(&mut rng, self.first.len()),
            last_offset: below(&mut rng, self.last.len()),
        }
    }

    fn lead(&self, company: &Company, slot: u32, number: u64) -> Lead {
        let mut rng = self.rng(number);
        let slot = slot as usize;
        let first = (company.first_offset + slot * self.first_step) % self.first.len();
        let last = (company.last_offset + slot * self.last_step) % self.last.len();
        let city = if chance(&mut rng, 850) {
            company.city
        } else {
            below(&mut rng, company.country.cities().len())
        };
        let gmail = chance(&mut rng, 80);
        let has_email = !chance(&mut rng, 40);
        let phone = chance(&mut rng, 700).then(|| below(&mut rng, 6) as u8);
        let linkedin = chance(&mut rng, 850).then(|| below(&mut rng, 6) as u8);
        let tags = if chance(&mut rng, 450) {
            None
        } else {
            let a = below(&mut rng, TAGS.len());
            let b = chance(&mut rng, 150)
                .then(|| (a + 1 + below(&mut rng, TAGS.len() - 1)) % TAGS.len());
            Some((a, b))
        };
        Lead {
            first,
            last,
            title: below(&mut rng, TITLES.len()),
            city,
            gmail,
            has_email,
            phone,
            linkedin,
            slug_short: chance(&mut rng, 300),
            tags,
        }
    }

    /// A new unique lead at the current company (moving on when it is full).
    fn write_new(&mut self, buf: &mut Vec<u8>) {
        let needs_company = match &self.current {
            None => true,
            Some(c) => self.slot >= c.size,
        };
        if needs_company {
            let k = self.company_starts.len() as u64;
            self.company_starts.push(self.next_lead);
            self.current = Some(self.company(k));
            self.slot = 0;
        }
        let number = self.next_lead;
        if let Some(company) = self.current.take() {
            let lead = self.lead(&company, self.slot, number);
            self.render(buf, &company, &lead, number, &Variation::default());
            self.current = Some(company);
        }
        self.slot += 1;
        self.next_lead += 1;
    }

    /// Re-renders earlier lead `number` with realistic variations.
    fn write_duplicate(&mut self, number: u64, rng: &mut ChaCha8Rng, buf: &mut Vec<u8>) {
        let k = self
            .company_starts
            .partition_point(|&start| start <= number)
            .saturating_sub(1);
        let start = self.company_starts.get(k).copied().unwrap_or(0);
        let company = self.company(k as u64);
        let lead = self.lead(&company, (number - start) as u32, number);
        let mut v = Variation::default();
        for _ in 0..1 + below(rng, 3) {
            match below(rng, 10) {
                0 => v.email_case = 1 + below(rng, 2) as u8,
                1 if lead.gmail => {
                    if chance(rng, 500) {
                        v.gmail_dots = true;
                    } else {
                        v.gmail_tag = true;
                    }
                }
                1 | 2 => v.pad = true,
                3 => v.name_caps = true,
                4 => v.phone_format = Some(below(rng, 6) as u8),
                5 => v.website_full = true,
                6 => v.linkedin_form = Some(below(rng, 6) as u8),
                7 => {
                    v.drop_phone = chance(rng, 600);
                    v.drop_title = chance(rng, 400);
                    v.drop_location = chance(rng, 500);
                    // Never drop both strong keys, so the duplicate stays findable.
                    if lead.has_email && lead.linkedin.is_some() {
                        if chance(rng, 300) {
                            v.drop_email = true;
                        } else if chance(rng, 300) {
                            v.drop_linkedin = true;
                        }
                    }
                }
                _ => v.new_title = Some(below(rng, TITLES.len())),
            }
        }
        self.render(buf, &company, &lead, number, &v);
    }

    /// A row no importer should accept: an invalid email and no LinkedIn,
    /// website or phone.
    fn write_bad(&mut self, rng: &mut ChaCha8Rng, buf: &mut Vec<u8>) {
        let first = &self.first[below(rng, self.first.len())];
        let last = &self.last[below(rng, self.last.len())];
        let company = self.company(below64(rng, self.combo_count));
        text(buf, first.display);
        buf.push(b',');
        text(buf, last.display);
        buf.push(b',');
        let (title, seniority) = TITLES[below(rng, TITLES.len())];
        text(buf, title);
        buf.push(b',');
        buf.extend_from_slice(seniority.as_bytes());
        buf.push(b',');
        push_company_name(buf, &company);
        buf.extend_from_slice(b",,");
        match below(rng, 6) {
            0 => buf.extend_from_slice(b"n/a"),
            1 => {
                buf.extend_from_slice(first.fold.as_bytes());
                buf.extend_from_slice(b".");
                buf.extend_from_slice(last.fold.as_bytes());
                buf.push(b'@');
            }
            2 => {
                buf.extend_from_slice(first.fold.as_bytes());
                buf.extend_from_slice(b"(at)");
                push_domain_base(buf, &company);
                buf.extend_from_slice(company.tld.as_bytes());
            }
            3 => {
                buf.extend_from_slice(first.fold.as_bytes());
                buf.extend_from_slice(b"@@");
                push_domain_base(buf, &company);
            }
            4 => buf.extend_from_slice(b"not provided"),
            _ => {
                buf.extend_from_slice(first.fold.as_bytes());
                buf.extend_from_slice(b" at ");
                push_domain_base(buf, &company);
            }
        }
        buf.extend_from_slice(b",,,");
        buf.extend_from_slice(INDUSTRIES[company.industry].as_bytes());
        buf.push(b',');
        push_u64(buf, u64::from(company.employees));
        buf.push(b',');
        let (city, state) = company.country.cities()[company.city];
        buf.extend_from_slice(city.as_bytes());
        buf.push(b',');
        buf.extend_from_slice(state.as_bytes());
        buf.push(b',');
        buf.extend_from_slice(company.country.name().as_bytes());
        buf.extend_from_slice(b",\n");
    }

    fn render(
        &mut self,
        buf: &mut Vec<u8>,
        company: &Company,
        lead: &Lead,
        number: u64,
        v: &Variation,
    ) {
        let first = &self.first[lead.first];
        let last = &self.last[lead.last];
        let pad = |buf: &mut Vec<u8>| {
            if v.pad {
                buf.extend_from_slice(b"  ");
            }
        };

        // First Name, Last Name
        pad(buf);
        text(
            buf,
            if v.name_caps {
                &first.upper
            } else {
                first.display
            },
        );
        buf.push(b',');
        text(
            buf,
            if v.name_caps {
                &last.upper
            } else {
                last.display
            },
        );
        pad(buf);
        buf.push(b',');

        // Title, Seniority
        if !v.drop_title {
            let (title, seniority) = TITLES[v.new_title.unwrap_or(lead.title)];
            text(buf, title);
            buf.push(b',');
            buf.extend_from_slice(seniority.as_bytes());
        } else {
            buf.push(b',');
        }
        buf.push(b',');

        // Company Name, Website
        push_company_name(buf, company);
        buf.push(b',');
        let form = if v.website_full {
            5
        } else {
            company.website_form
        };
        buf.extend_from_slice(match form {
            0 | 5 => b"" as &[u8],
            1 => b"http://www.",
            2 => b"https://",
            3 => b"www.",
            _ => b"https://www.",
        });
        if form == 5 {
            buf.extend_from_slice(b"https://www.");
        }
        push_domain_base(buf, company);
        buf.extend_from_slice(company.tld.as_bytes());
        match form {
            4 => buf.push(b'/'),
            5 => buf.extend_from_slice(
                [
                    &b"/about"[..],
                    b"/contact-us",
                    b"/en/",
                    b"/?utm_source=apollo",
                ][(number % 4) as usize],
            ),
            _ => {}
        }
        buf.push(b',');

        // Email
        if lead.has_email && !v.drop_email {
            pad(buf);
            let scratch = &mut self.scratch;
            scratch.clear();
            if lead.gmail {
                scratch.extend_from_slice(first.fold.as_bytes());
                if !v.gmail_dots {
                    scratch.push(b'.');
                }
                scratch.extend_from_slice(last.fold.as_bytes());
                push_u64(scratch, number);
                if v.gmail_tag {
                    scratch.extend_from_slice(b"+leads");
                }
                scratch.extend_from_slice(b"@gmail.com");
            } else {
                let f = first.fold.as_bytes();
                let l = last.fold.as_bytes();
                match company.email_pattern {
                    0 => {
                        scratch.extend_from_slice(f);
                        scratch.push(b'.');
                        scratch.extend_from_slice(l);
                    }
                    1 => {
                        scratch.extend_from_slice(&f[..1.min(f.len())]);
                        scratch.extend_from_slice(l);
                    }
                    2 => scratch.extend_from_slice(f),
                    3 => {
                        scratch.extend_from_slice(f);
                        scratch.extend_from_slice(&l[..1.min(l.len())]);
                    }
                    4 => {
                        scratch.extend_from_slice(f);
                        scratch.push(b'_');
                        scratch.extend_from_slice(l);
                    }
                    _ => {
                        scratch.extend_from_slice(&f[..1.min(f.len())]);
                        scratch.push(b'.');
                        scratch.extend_from_slice(l);
                    }
                }
                scratch.push(b'@');
                push_domain_base(scratch, company);
                scratch.extend_from_slice(company.tld.as_bytes());
            }
            match v.email_case {
                1 => scratch.make_ascii_uppercase(),
                2 => {
                    if let Some(c) = scratch.first_mut() {
                        c.make_ascii_uppercase();
                    }
                }
                _ => {}
            }
            buf.extend_from_slice(scratch);
            pad(buf);
        }
        buf.push(b',');

        // Phone
        if let Some(format) = lead.phone.filter(|_| !v.drop_phone) {
            push_phone(
                buf,
                company.country,
                number,
                v.phone_format.unwrap_or(format),
            );
        }
        buf.push(b',');

        // Person Linkedin Url
        if let Some(form) = lead.linkedin.filter(|_| !v.drop_linkedin) {
            let form = v.linkedin_form.unwrap_or(form);
            buf.extend_from_slice(match (form, company.country) {
                (0, _) => b"https://www.linkedin.com/in/" as &[u8],
                (1, _) => b"https://www.linkedin.com/in/",
                (2, _) => b"linkedin.com/in/",
                (3, _) => b"http://www.linkedin.com/in/",
                (4, Country::Uk) => b"http://uk.linkedin.com/in/",
                (4, Country::De) => b"https://de.linkedin.com/in/",
                (4, Country::Us) => b"https://linkedin.com/in/",
                _ => b"www.linkedin.com/in/",
            });
            let tag = scramble32(number);
            if lead.slug_short {
                buf.extend_from_slice(first.fold.as_bytes());
                buf.extend_from_slice(last.fold.as_bytes());
                push_base36(buf, tag);
            } else {
                buf.extend_from_slice(first.slug.as_bytes());
                buf.push(b'-');
                buf.extend_from_slice(last.slug.as_bytes());
                buf.push(b'-');
                push_hex8(buf, tag);
            }
            if matches!(form, 1 | 2) {
                buf.push(b'/');
            }
        }
        buf.push(b',');

        // Industry, # Employees
        buf.extend_from_slice(INDUSTRIES[company.industry].as_bytes());
        buf.push(b',');
        push_u64(buf, u64::from(company.employees));
        buf.push(b',');

        // City, State, Country
        if !v.drop_location {
            let (city, state) = company.country.cities()[lead.city];
            buf.extend_from_slice(city.as_bytes());
            buf.push(b',');
            buf.extend_from_slice(state.as_bytes());
            buf.push(b',');
            buf.extend_from_slice(company.country.name().as_bytes());
        } else {
            buf.extend_from_slice(b",,");
        }
        buf.push(b',');

        // Tags
        match lead.tags {
            None => {}
            Some((a, None)) => buf.extend_from_slice(TAGS[a].as_bytes()),
            Some((a, Some(b))) => {
                buf.push(b'"');
                buf.extend_from_slice(TAGS[a].as_bytes());
                buf.extend_from_slice(b", ");
                buf.extend_from_slice(TAGS[b].as_bytes());
                buf.push(b'"');
            }
        }
        buf.push(b'\n');
    }
}

/// Bijective scramble of the low 32 bits: unique per lead, random-looking.
fn scramble32(n: u64) -> u32 {
    let x = (n as u32).wrapping_mul(0x9E37_79B1);
    (x ^ (x >> 15)).wrapping_mul(0x85EB_CA77) ^ 0x5bd1_e995
}

/// Writes a CSV field, quoting it if it holds a comma, quote or line break.
fn text(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if bytes
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        buf.push(b'"');
        for &b in bytes {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(bytes);
    }
}

fn push_company_name(buf: &mut Vec<u8>, company: &Company) {
    buf.extend_from_slice(WORDS_A[company.words[0]].as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(WORDS_B[company.words[1]].as_bytes());
    if company.three_words {
        buf.push(b' ');
        buf.extend_from_slice(WORDS_C[company.words[2]].as_bytes());
    }
    if company.round > 0 {
        buf.push(b' ');
        push_u64(buf, company.round + 1);
    }
    if !company.suffix.is_empty() {
        buf.push(b' ');
        buf.extend_from_slice(company.suffix.as_bytes());
    }
}

/// The domain without its TLD: the company words, lower-cased, run together.
fn push_domain_base(buf: &mut Vec<u8>, company: &Company) {
    let start = buf.len();
    buf.extend_from_slice(WORDS_A[company.words[0]].as_bytes());
    buf.extend_from_slice(WORDS_B[company.words[1]].as_bytes());
    if company.three_words {
        buf.extend_from_slice(WORDS_C[company.words[2]].as_bytes());
    }
    buf[start..].make_ascii_lowercase();
    if company.round > 0 {
        push_u64(buf, company.round + 1);
    }
}

fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Zero-padded to `width` digits.
fn push_padded(buf: &mut Vec<u8>, n: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut v = n;
    for i in (0..width.min(20)).rev() {
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    buf.extend_from_slice(&digits[..width.min(20)]);
}

fn push_base36(buf: &mut Vec<u8>, mut n: u32) {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = [0u8; 7];
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = DIGITS[(n % 36) as usize];
        n /= 36;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&out[i..]);
}

fn push_hex8(buf: &mut Vec<u8>, n: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..8).rev() {
        buf.push(HEX[((n >> (shift * 4)) & 0xF) as usize]);
    }
}

/// US exchanges: 200–999 without N11 service codes and without 555, whose
/// 01xx block is fictional.
const US_EXCHANGES: u64 = 800 - 8 - 1;

/// A phone number unique to lead `number` within its country, in one of the
/// formats real exports mix.
fn push_phone(buf: &mut Vec<u8>, country: Country, number: u64, format: u8) {
    match country {
        Country::Us => {
            let space = US_AREA_CODES.len() as u64 * US_EXCHANGES * 10_000;
            let p = permute(number, space);
            let area = u64::from(US_AREA_CODES[(p / (US_EXCHANGES * 10_000)) as usize]);
            // Exchanges are looked up by index; computed once per row is cheap
            // enough compared with the rest of the row.
            let exchange = US_EXCHANGE_TABLE[((p / 10_000) % US_EXCHANGES) as usize];
            let line = p % 10_000;
            let (pre, s1, s2) = match format {
                0 => (&b"("[..], &b") "[..], &b"-"[..]),
                1 => (&b""[..], &b"-"[..], &b"-"[..]),
                2 => (&b"+1 "[..], &b" "[..], &b" "[..]),
                3 => (&b""[..], &b"."[..], &b"."[..]),
                4 => (&b"+1"[..], &b""[..], &b""[..]),
                _ => (&b"1-"[..], &b"-"[..], &b"-"[..]),
            };
            buf.extend_from_slice(pre);
            push_padded(buf, area, 3);
            buf.extend_from_slice(s1);
            push_padded(buf, u64::from(exchange), 3);
            buf.extend_from_slice(s2);
            push_padded(buf, line, 4);
        }
        Country::Uk => {
            // London 020 3xxx xxxx / 7xxx xxxx; the 7946 0xxx drama block is
            // moved to 8946 0xxx (also London) so numbers stay unique.
            let space = 20_000_000;
            let p = permute(number, space);
            let mut lead_digit = if p < 10_000_000 { 3 } else { 7 };
            let rest = p % 10_000_000;
            if lead_digit == 7 && rest / 1000 == 9460 {
                lead_digit = 8;
            }
            let local_hi = lead_digit * 1000 + rest / 10_000;
            let local_lo = rest % 10_000;
            buf.extend_from_slice(match format % 4 {
                0 => b"+44 20 " as &[u8],
                1 => b"020 ",
                2 => b"+4420",
                _ => b"+44 (0)20 ",
            });
            push_padded(buf, local_hi, 4);
            if format % 4 != 2 {
                buf.push(b' ');
            }
            push_padded(buf, local_lo, 4);
        }
        Country::De => {
            // Berlin 030 with an 8-digit subscriber number starting 2–9.
            let space = 80_000_000;
            let p = permute(number, space) + 20_000_000;
            buf.extend_from_slice(match format % 4 {
                0 => b"+49 30 " as &[u8],
                1 => b"030 ",
                2 => b"+4930",
                _ => b"+49 (0)30 ",
            });
            push_padded(buf, p, 8);
        }
    }
}

/// Valid US exchanges in order, computed at compile time.
const US_EXCHANGE_TABLE: [u16; US_EXCHANGES as usize] = {
    let mut table = [0u16; US_EXCHANGES as usize];
    let mut n = 200u16;
    let mut i = 0;
    while n <= 999 {
        if n % 100 != 11 && n != 555 {
            table[i] = n;
            i += 1;
        }
        n += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn name_spellings_are_unique_so_emails_and_slugs_are() {
        for list in [FIRST_NAMES, LAST_NAMES] {
            let names: Vec<Name> = list.iter().map(|n| Name::new(n)).collect();
            assert!(names.len() as u32 > MAX_COMPANY_SIZE);
            let folds: HashSet<&str> = names.iter().map(|n| n.fold.as_str()).collect();
            assert_eq!(folds.len(), names.len(), "folded names repeat");
            let slugs: HashSet<&str> = names.iter().map(|n| n.slug.as_str()).collect();
            assert_eq!(slugs.len(), names.len(), "slugs repeat");
            assert!(
                names
                    .iter()
                    .all(|n| !n.fold.is_empty() && n.fold.is_ascii())
            );
        }
        assert_eq!(Name::new("O'Neil").fold, "oneil");
        assert_eq!(Name::new("Van der Berg").slug, "van-der-berg");
        assert_eq!(Name::new("Zoë").fold, "zoe");
    }

    #[test]
    fn company_domains_are_unique() {
        let mut seen = HashSet::new();
        let g = Generator::new(1);
        for k in 0..g.combo_count + 500 {
            let c = g.company(k);
            let mut base = Vec::new();
            push_domain_base(&mut base, &c);
            assert!(seen.insert(base), "domain repeats at company {k}");
        }
    }

    #[test]
    fn exchanges_skip_service_codes() {
        assert_eq!(US_EXCHANGE_TABLE.len() as u64, US_EXCHANGES);
        assert!(
            US_EXCHANGE_TABLE
                .iter()
                .all(|&e| e % 100 != 11 && e != 555 && e >= 200)
        );
        let direct: Vec<u16> = (200..=999).filter(|n| n % 100 != 11 && *n != 555).collect();
        assert_eq!(&US_EXCHANGE_TABLE[..], &direct[..]);
    }

    #[test]
    fn phones_are_unique_per_lead() {
        for country in [Country::Us, Country::Uk, Country::De] {
            let mut seen = HashSet::new();
            for n in 0..200_000u64 {
                let mut b = Vec::new();
                push_phone(&mut b, country, n, 4);
                assert!(seen.insert(b), "{country:?} phone repeats at {n}");
            }
        }
    }

    #[test]
    fn permute_is_a_bijection_that_scatters() {
        for n in [2u64, 3, 10, 1000, 4096, 97_440] {
            let mut seen: Vec<u64> = (0..n).map(|i| permute(i, n)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n = {n}");
        }
        let steps: Vec<u64> = (0..5).map(|i| permute(i, 205_660_000)).collect();
        assert!(
            steps.windows(2).all(|w| w[0].abs_diff(w[1]) > 1000),
            "{steps:?}"
        );
    }

    #[test]
    fn scramble_is_injective_on_a_sample() {
        let set: HashSet<u32> = (0..1_000_000u64).map(scramble32).collect();
        assert_eq!(set.len(), 1_000_000);
    }
}
