//! The generator interface every entity implements, and shared pools of realistic fake values.

use std::sync::Arc;

use super::rng::Rng;
use super::schema::EntitySchema;
use super::value::Value;

/// Produces and changes the rows of one entity. Adding an entity (RescoItem, a standard API v2.0
/// entity, …) means a schema plus one implementation of this trait; storage, paging, filtering,
/// `$metadata` and the control endpoints are generic.
pub trait Generator: Send + Sync + std::fmt::Debug {
    fn schema(&self) -> &'static EntitySchema;

    /// The key values of the `seq`-th row (1-based). Inserts continue the sequence, and random picks
    /// of existing rows probe it, so it must be a bijection.
    fn key(&self, seq: u64) -> Vec<Value>;

    /// Every field of a new row in schema order. System fields (SystemId, ModifiedAt, RowVersion) may
    /// be left `Null`: the store assigns them.
    fn new_row(&self, seq: u64, rng: &mut Rng, refs: &mut dyn RefPicker) -> Vec<Value>;

    /// Changes a few business fields to values different from the current ones.
    fn update(&self, row: &mut [Value], rng: &mut Rng, refs: &mut dyn RefPicker);

    /// Called after a lookup field (index `field`) was blanked because its target row was deleted, so
    /// dependent fields can follow (e.g. a contact's business relation).
    fn reference_cleared(&self, _row: &mut [Value], _field: usize) {}

    /// Called after a client write changed `row`, so computed columns follow (Dataverse's
    /// `fullname` from first and last name).
    fn after_write(&self, _row: &mut [Value]) {}

    /// A new row with only its key set, for `new_row` to fill in.
    fn keyed_row(&self, seq: u64) -> Vec<Value> {
        let schema = self.schema();
        let mut row = vec![Value::Null; schema.fields.len()];
        for (name, v) in schema.key.iter().zip(self.key(seq)) {
            put(schema, &mut row, name, v);
        }
        row
    }
}

/// Gives generators the key of an existing row of another entity, for lookup fields.
pub trait RefPicker {
    /// The sequence number of a random existing row of `entity` (generators derive keys, numbers
    /// and GUIDs of the referenced row from it).
    fn pick_seq(&mut self, entity: &str, rng: &mut Rng) -> Option<u64>;

    /// The (single, text) key of a random existing row of `entity`.
    fn pick(&mut self, entity: &str, rng: &mut Rng) -> Option<Arc<str>>;
}

/// Picks during initial generation: every row `1..=count` of each entity will exist once
/// generation finishes, so any sequence number in range is a valid reference.
#[derive(Debug)]
pub struct InitialRefs<'a> {
    pub counts: &'a [(&'static str, u64)],
    pub generators: &'a [Arc<dyn Generator>],
}

impl RefPicker for InitialRefs<'_> {
    fn pick_seq(&mut self, entity: &str, rng: &mut Rng) -> Option<u64> {
        let count = self.counts.iter().find(|(n, _)| *n == entity)?.1;
        (count > 0).then(|| rng.range(1, count))
    }

    fn pick(&mut self, entity: &str, rng: &mut Rng) -> Option<Arc<str>> {
        let count = self.counts.iter().find(|(n, _)| *n == entity)?.1;
        if count == 0 {
            return None;
        }
        let generator = self.generators.iter().find(|g| g.schema().name == entity)?;
        let key = generator.key(rng.range(1, count));
        key.first().and_then(|v| v.as_str()).map(Arc::from)
    }
}

pub const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Daniel",
    "Nancy",
    "Matthew",
    "Lisa",
    "Anthony",
    "Betty",
    "Mark",
    "Margaret",
    "Steven",
    "Sandra",
    "Paul",
    "Ashley",
    "Andrew",
    "Emily",
    "Joshua",
    "Donna",
    "Kevin",
    "Michelle",
    "Brian",
    "Carol",
    "George",
    "Amanda",
    "Edward",
    "Melissa",
];

pub const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Hill",
    "Green",
    "Adams",
    "Baker",
    "Nelson",
    "Carter",
    "Mitchell",
    "Roberts",
    "Turner",
    "Phillips",
    "Campbell",
    "Parker",
];

const NAME_PARTS: &[&str] = &[
    "Adatum",
    "Alpine",
    "Atlas",
    "Blue Ridge",
    "Cascade",
    "Coho",
    "Contoso",
    "Fabrikam",
    "Granite",
    "Harbor",
    "Litware",
    "Lucerne",
    "Margie's",
    "Northwind",
    "Proseware",
    "Relecloud",
    "School of Fine Art",
    "Summit",
    "Tailspin",
    "Trey",
    "Wide World",
    "Woodgrove",
    "Evergreen",
    "Pioneer",
    "Redwood",
    "Silver Lake",
    "Keystone",
    "Lakeshore",
    "Prairie",
    "Golden Gate",
    "Liberty",
    "Meridian",
    "Crescent",
    "Sterling",
    "Beacon",
    "Cobalt",
];

const NAME_TRADES: &[&str] = &[
    "Traders",
    "Furniture",
    "Outfitters",
    "Supplies",
    "Engineering",
    "Logistics",
    "Motors",
    "Foods",
    "Electric",
    "Hardware",
    "Medical",
    "Consulting",
    "Construction",
    "Design",
    "Systems",
    "Bikes",
    "Toys",
    "Printing",
    "Landscaping",
    "Plumbing",
    "Office Solutions",
    "Wholesale",
    "Manufacturing",
    "Labs",
];

const NAME_SUFFIXES: &[&str] = &[
    "Inc.", "LLC", "Corp.", "Ltd.", "Co.", "Group", "& Sons", "Partners", "Company",
];

const STREETS: &[&str] = &[
    "Main",
    "Oak",
    "Pine",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Sunset",
    "Lincoln",
    "Jackson",
    "Franklin",
    "Highland",
    "Church",
    "River",
    "Spring",
    "Meadow",
    "Madison",
    "Jefferson",
    "Walnut",
];

const STREET_KINDS: &[&str] = &["St", "Ave", "Blvd", "Rd", "Dr", "Ln", "Way", "Ct", "Pkwy"];

/// (city, state, first three digits of its post codes, area code)
pub const CITIES: &[(&str, &str, &str, &str)] = &[
    ("Atlanta", "GA", "303", "404"),
    ("Austin", "TX", "787", "512"),
    ("Boston", "MA", "021", "617"),
    ("Charlotte", "NC", "282", "704"),
    ("Chicago", "IL", "606", "312"),
    ("Columbus", "OH", "432", "614"),
    ("Dallas", "TX", "752", "214"),
    ("Denver", "CO", "802", "303"),
    ("Detroit", "MI", "482", "313"),
    ("Houston", "TX", "770", "713"),
    ("Indianapolis", "IN", "462", "317"),
    ("Jacksonville", "FL", "322", "904"),
    ("Kansas City", "MO", "641", "816"),
    ("Las Vegas", "NV", "891", "702"),
    ("Los Angeles", "CA", "900", "213"),
    ("Miami", "FL", "331", "305"),
    ("Milwaukee", "WI", "532", "414"),
    ("Minneapolis", "MN", "554", "612"),
    ("Nashville", "TN", "372", "615"),
    ("New York", "NY", "100", "212"),
    ("Philadelphia", "PA", "191", "215"),
    ("Phoenix", "AZ", "850", "602"),
    ("Portland", "OR", "972", "503"),
    ("Raleigh", "NC", "276", "919"),
    ("Salt Lake City", "UT", "841", "801"),
    ("San Antonio", "TX", "782", "210"),
    ("San Diego", "CA", "921", "619"),
    ("San Francisco", "CA", "941", "415"),
    ("San Jose", "CA", "951", "408"),
    ("Seattle", "WA", "981", "206"),
    ("St. Louis", "MO", "631", "314"),
    ("Tampa", "FL", "336", "813"),
];

const MAIL_HOSTS: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "icloud.com",
    "hotmail.com",
];

/// A company-like name, e.g. "Northwind Traders Inc." or "Garcia Plumbing LLC".
pub fn company_name(rng: &mut Rng) -> String {
    let lead = if rng.chance(35) {
        rng.pick(LAST_NAMES)
    } else {
        rng.pick(NAME_PARTS)
    };
    format!(
        "{lead} {} {}",
        rng.pick(NAME_TRADES),
        rng.pick(NAME_SUFFIXES)
    )
}

pub fn person_name(rng: &mut Rng) -> String {
    format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES))
}

/// A DNS-ish label from a name: "Northwind Traders Inc." → "northwindtraders".
pub fn domain_of(name: &str) -> String {
    let mut words: Vec<&str> = name.split_whitespace().collect();
    if words.len() > 2 {
        words.pop(); // drop the legal suffix
    }
    let slug: String = words
        .concat()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("{}.com", slug.to_ascii_lowercase())
}

/// A mailbox at the company's domain, or a personal one.
pub fn email(rng: &mut Rng, person: Option<&str>, domain: &str) -> String {
    let local = match person {
        Some(p) => p.to_ascii_lowercase().replace(' ', "."),
        None => {
            (*rng.pick(&["info", "sales", "office", "contact", "orders", "billing"])).to_string()
        }
    };
    let host = if person.is_some() && rng.chance(25) {
        rng.pick(MAIL_HOSTS)
    } else {
        domain
    };
    let n = if rng.chance(20) {
        rng.range(1, 99).to_string()
    } else {
        String::new()
    };
    format!("{local}{n}@{host}")
}

pub fn street_address(rng: &mut Rng) -> String {
    format!(
        "{} {} {}",
        rng.range(1, 9999),
        rng.pick(STREETS),
        rng.pick(STREET_KINDS)
    )
}

pub fn address2(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 | 1 => format!("Suite {}", rng.range(100, 999)),
        2 => format!("Floor {}", rng.range(2, 40)),
        _ => String::new(),
    }
}

pub fn city(rng: &mut Rng) -> &'static (&'static str, &'static str, &'static str, &'static str) {
    rng.pick(CITIES)
}

pub fn post_code(rng: &mut Rng, prefix: &str) -> String {
    format!("{prefix}{:02}", rng.below(100))
}

pub fn phone(rng: &mut Rng, area: &str) -> String {
    format!("({area}) 555-{:04}", rng.below(10_000))
}

/// Sets the field called `name` (generators of wide entities address fields by name; a typo is a
/// silently empty field, caught by the tests that check every field is filled).
pub fn put(schema: &EntitySchema, row: &mut [Value], name: &str, value: Value) {
    if let Some(i) = schema.fields.iter().position(|f| f.name == name) {
        row[i] = value;
    }
}

/// A money or quantity amount rounded to `places` decimals, as BC stores them.
pub fn amount(x: f64, places: i32) -> Value {
    let f = 10f64.powi(places);
    Value::Decimal((x * f).round() / f)
}

/// A date in 2023..=2025.
pub fn date(rng: &mut Rng) -> Value {
    let base = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap_or_default();
    Value::Date(base + chrono::Duration::days(rng.below(3 * 365) as i64))
}

/// A deterministic GUID per (entity tag, sequence number): a bijection, so it can be a key that
/// other rows reference by sequence number.
pub fn seq_guid(tag: u32, seq: u64) -> uuid::Uuid {
    let mut z = seq.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let hi = (u64::from(tag) << 32) | 0x4000 | (z >> 52);
    let lo = (z & 0x0fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    uuid::Uuid::from_u64_pair(hi, lo)
}

/// One of a few constant values, shared (interned) across rows.
pub fn one_of(rng: &mut Rng, items: &'static [&'static str]) -> Value {
    Value::interned(items[rng.below(items.len() as u64) as usize])
}
