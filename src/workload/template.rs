//! Message values shaped like real services' events, of an exact size.
//!
//! Each [`Template`] is the JSON a team's producer sends (the field names are theirs): an
//! audit entry and an authentication event from an HTTP middleware, a webhook event, an
//! invoice event and a compliance update. [`Template::Raw`] is random bytes. The message
//! key is also a field of the value (see [`key_field`]), as those producers do.
//!
//! A value is the template's fields, then a final `"pad"` field of text words that brings
//! it to exactly the requested size:
//!
//! ```text
//!   {"action":"paid","invoiceId":"INV-000042",...,"timestamp":"2025-01-01T00:00:01.234Z","pad":"lorem ipsum ..."}
//!   └───────────────────────── natural part ────────────────────────────────────────────┘└──── padding ─────┘
//! ```
//!
//! The padding is words, not one repeated byte, so the value compresses roughly like text
//! rather than to nothing. Values are written by hand into a reused buffer (no allocation,
//! no serde per message) and are a pure function of (seed, key, sequence number).

#[cfg(doc)]
use super::keys::key_string;
use crate::scenario::Template;
use crate::scenario::seeds::{derive, mix64};

/// The JSON field that holds the message key ("" for [`Template::Raw`], which has none).
pub fn key_field(template: Template) -> &'static str {
    match template {
        Template::Audit | Template::Auth => "id",
        Template::Webhook => "account_id",
        Template::Invoice => "invoiceId",
        Template::Compliance => "workspaceId",
        Template::Raw | Template::Verifiable => "",
    }
}

/// The smallest size that [`Generator::value`] meets exactly for this key, whatever the
/// seed and sequence number; 0 for [`Template::Raw`].
pub fn min_size_for_key(template: Template, key: &str) -> usize {
    if matches!(template, Template::Raw | Template::Verifiable) {
        return 0;
    }
    let mut m = Measure(0);
    body(template, &mut m, key, 0);
    m.0 + PAD_OVERHEAD
}

/// Writes message values of one template and size.
#[derive(Debug, Clone)]
pub struct Generator {
    template: Template,
    size: usize,
    seed: u64,
}

impl Generator {
    /// A generator of `template` values of `size` bytes, varied by `seed`.
    pub fn new(template: Template, size: usize, seed: u64) -> Generator {
        Generator {
            template,
            size,
            seed,
        }
    }

    /// The template.
    pub fn template(&self) -> Template {
        self.template
    }

    /// The requested size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Replaces `out` with the value of message `seq` with key `key`.
    ///
    /// The value is exactly [`size`](Self::size) bytes when that is at least
    /// [`min_size_for_key`] (always the case from [`Template::min_size`] up, for keys made by
    /// [`key_string`]). A smaller size cannot hold the fields: the value is then the shortest
    /// this key and message give (with an empty pad), at most `min_size_for_key` bytes. The
    /// bytes depend only on the generator's template, size and seed, and on `key` and `seq`.
    pub fn value(&mut self, key: &str, seq: u64, out: &mut Vec<u8>) {
        out.clear();
        let mut rng = Wy(message_seed(self.seed, key, seq));
        match self.template {
            Template::Raw => {
                out.resize(self.size, 0);
                rng.fill(out);
                return;
            }
            // VerifiableProducer's values without its prefix: the sequence number.
            Template::Verifiable => {
                out.extend_from_slice(seq.to_string().as_bytes());
                return;
            }
            _ => {}
        }
        out.reserve(self.size.max(512));
        let mut json = Json {
            out: &mut *out,
            rng: &mut rng,
            seed: self.seed,
        };
        body(self.template, &mut json, key, seq);
        let natural = out.len() + PAD_OVERHEAD;
        out.extend_from_slice(PAD_OPEN);
        if self.size > natural {
            fill_words(out, self.size - natural, &mut rng);
        }
        out.extend_from_slice(PAD_CLOSE);
    }
}

const PAD_OPEN: &[u8] = b",\"pad\":\"";
const PAD_CLOSE: &[u8] = b"\"}";
/// `,"pad":""}`: what closes every JSON value, with an empty pad.
const PAD_OVERHEAD: usize = PAD_OPEN.len() + PAD_CLOSE.len();

/// The per-message random state: from the seed, the key and the sequence number only.
fn message_seed(seed: u64, key: &str, seq: u64) -> u64 {
    derive(seed, key.as_bytes(), seq)
}

/// wyrand: a tiny, fast generator, fully specified here so values never change with a
/// dependency's version.
struct Wy(u64);

impl Wy {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.0) * u128::from(self.0 ^ 0xe703_7ed1_a0b4_28db);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// A number in `0..n` (Lemire's multiply-shift; the bias is below 2^-40 for our `n`).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    fn fill(&mut self, out: &mut [u8]) {
        let mut chunks = out.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next().to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
    }
}

/// Words of the padding, each with its trailing space (64, so 6 random bits pick one).
const WORDS: [&str; 64] = [
    "the ",
    "request ",
    "was ",
    "processed ",
    "by ",
    "service ",
    "and ",
    "forwarded ",
    "to ",
    "downstream ",
    "consumer ",
    "with ",
    "retry ",
    "policy ",
    "after ",
    "validation ",
    "of ",
    "tenant ",
    "scope ",
    "token ",
    "audit ",
    "trail ",
    "record ",
    "updated ",
    "for ",
    "account ",
    "customer ",
    "invoice ",
    "payment ",
    "settled ",
    "pending ",
    "review ",
    "compliance ",
    "framework ",
    "control ",
    "mapped ",
    "evidence ",
    "attached ",
    "note ",
    "internal ",
    "reference ",
    "batch ",
    "queue ",
    "delivery ",
    "attempt ",
    "succeeded ",
    "failed ",
    "timeout ",
    "region ",
    "eu-west-1 ",
    "us-east-1 ",
    "cluster ",
    "node ",
    "partition ",
    "offset ",
    "committed ",
    "lorem ",
    "ipsum ",
    "dolor ",
    "sit ",
    "amet ",
    "data ",
    "user ",
    "session ",
];

/// Appends exactly `n` bytes of space-separated words.
fn fill_words(out: &mut Vec<u8>, n: usize, rng: &mut Wy) {
    let end = out.len() + n;
    loop {
        let mut r = rng.next();
        for _ in 0..10 {
            let word = WORDS[(r & 63) as usize].as_bytes();
            r >>= 6;
            let room = end - out.len();
            if word.len() >= room {
                out.extend_from_slice(&word[..room]);
                return;
            }
            out.extend_from_slice(word);
        }
    }
}

/// An element of a pick list, weighed by the bytes it writes.
trait Weigh {
    fn weight(&self) -> usize;
}

impl Weigh for &str {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weigh for (&str, &str) {
    fn weight(&self) -> usize {
        self.0.len() + self.1.len()
    }
}

/// Where a template writes. [`Json`] writes a real value; [`Measure`] runs the same
/// template taking the longest choice everywhere, which bounds every value's natural size.
///
/// Templates must only use choices monotonically (a larger `below` or a heavier `pick`
/// never writes fewer bytes) for that bound to hold.
trait Sink {
    /// Appends JSON-safe ASCII as is.
    fn lit(&mut self, s: &str);
    /// One element of `list` (the heaviest when measuring).
    fn pick<T: Weigh>(&mut self, list: &'static [T]) -> &'static T;
    /// A number in `0..n` (`n - 1` when measuring).
    fn below(&mut self, n: u64) -> u64;
    /// Appends `v` in decimal.
    fn uint(&mut self, v: u64);
    /// Appends `digits` random lowercase hex digits.
    fn hex(&mut self, digits: usize);
    /// Appends a random version-4 UUID.
    fn uuid(&mut self);
    /// Appends the UUID of entity `n` of a kind (tenant, customer, ...) under the seed.
    fn entity_uuid(&mut self, kind: u64, n: u64);
    /// Appends `s` escaped as the inside of a JSON string.
    fn escaped(&mut self, s: &str);
    /// Appends an RFC 3339 UTC time, with milliseconds or without.
    fn timestamp(&mut self, unix_millis: u64, with_millis: bool);

    /// Appends a picked string.
    fn put(&mut self, list: &'static [&'static str]) {
        let s = *self.pick(list);
        self.lit(s);
    }
}

/// The real writer.
struct Json<'a> {
    out: &'a mut Vec<u8>,
    rng: &'a mut Wy,
    seed: u64,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl Sink for Json<'_> {
    fn lit(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn pick<T: Weigh>(&mut self, list: &'static [T]) -> &'static T {
        &list[self.rng.below(list.len() as u64) as usize]
    }

    fn below(&mut self, n: u64) -> u64 {
        self.rng.below(n)
    }

    fn uint(&mut self, mut v: u64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.out.extend_from_slice(&buf[i..]);
    }

    fn hex(&mut self, digits: usize) {
        let mut left = digits;
        while left > 0 {
            let mut r = self.rng.next();
            for _ in 0..left.min(16) {
                self.out.push(HEX[(r & 15) as usize]);
                r >>= 4;
            }
            left -= left.min(16);
        }
    }

    fn uuid(&mut self) {
        let hi = (self.rng.next() & !0xf000) | 0x4000;
        let lo = (self.rng.next() & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        self.out.extend_from_slice(&uuid_text(hi, lo));
    }

    fn entity_uuid(&mut self, kind: u64, n: u64) {
        let a = mix64(self.seed ^ mix64(kind ^ mix64(n)));
        let b = mix64(a ^ 0x2545_f491_4f6c_dd1d);
        let hi = (a & !0xf000) | 0x4000;
        let lo = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        self.out.extend_from_slice(&uuid_text(hi, lo));
    }

    fn escaped(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let short: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0x08 => b"\\b",
                0x0c => b"\\f",
                // Other control characters: `\u00XX` below.
                0..=0x1f => b"",
                _ => continue,
            };
            self.out.extend_from_slice(&bytes[start..i]);
            if short.is_empty() {
                let u = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 15)],
                ];
                self.out.extend_from_slice(&u);
            } else {
                self.out.extend_from_slice(short);
            }
            start = i + 1;
        }
        self.out.extend_from_slice(&bytes[start..]);
    }

    fn timestamp(&mut self, unix_millis: u64, with_millis: bool) {
        rfc3339(unix_millis, with_millis, self.out);
    }
}

/// The bounding writer: counts bytes, taking the longest choice everywhere.
struct Measure(usize);

impl Sink for Measure {
    fn lit(&mut self, s: &str) {
        self.0 += s.len();
    }

    fn pick<T: Weigh>(&mut self, list: &'static [T]) -> &'static T {
        let mut best = &list[0];
        for item in list {
            if item.weight() > best.weight() {
                best = item;
            }
        }
        best
    }

    fn below(&mut self, n: u64) -> u64 {
        n - 1
    }

    fn uint(&mut self, v: u64) {
        self.0 += decimal_len(v);
    }

    fn hex(&mut self, digits: usize) {
        self.0 += digits;
    }

    fn uuid(&mut self) {
        self.0 += 36;
    }

    fn entity_uuid(&mut self, _kind: u64, _n: u64) {
        self.0 += 36;
    }

    fn escaped(&mut self, s: &str) {
        self.0 += s
            .bytes()
            .map(|b| match b {
                b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
                0..=0x1f => 6,
                _ => 1,
            })
            .sum::<usize>();
    }

    fn timestamp(&mut self, _unix_millis: u64, with_millis: bool) {
        self.0 += if with_millis { 24 } else { 20 };
    }
}

fn decimal_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// A UUID's text form from its two 64-bit halves.
pub(super) fn uuid_text(hi: u64, lo: u64) -> [u8; 36] {
    let mut t = [b'-'; 36];
    let mut put = |from: usize, to: usize, v: u64, digits: u32| {
        for (k, slot) in t[from..to].iter_mut().enumerate() {
            let shift = 4 * (digits - 1 - k as u32);
            *slot = HEX[((v >> shift) & 15) as usize];
        }
    };
    put(0, 8, hi >> 32, 8);
    put(9, 13, (hi >> 16) & 0xffff, 4);
    put(14, 18, hi & 0xffff, 4);
    put(19, 23, lo >> 48, 4);
    put(24, 36, lo & 0xffff_ffff_ffff, 12);
    t
}

/// 2025-01-01T00:00:00Z, where message timestamps start.
const BASE_MILLIS: u64 = 1_735_689_600_000;
/// Timestamps advance 1 ms per sequence number and wrap after about 50 years, so the year
/// always has four digits.
const SPAN_MILLIS: u64 = 50 * 365 * 86_400_000;

/// The time of message `seq`: a millisecond per sequence number, jittered under a second.
fn message_millis<S: Sink>(s: &mut S, seq: u64) -> u64 {
    BASE_MILLIS + seq % SPAN_MILLIS + s.below(1000)
}

/// Appends `unix_millis` as `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (years 1970 to 9999).
fn rfc3339(unix_millis: u64, with_millis: bool, out: &mut Vec<u8>) {
    let secs = unix_millis / 1000;
    let days = secs / 86_400;
    let sod = secs % 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (non-negative).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);

    push_digits(out, year, 4);
    out.push(b'-');
    push_digits(out, month, 2);
    out.push(b'-');
    push_digits(out, day, 2);
    out.push(b'T');
    push_digits(out, sod / 3600, 2);
    out.push(b':');
    push_digits(out, sod / 60 % 60, 2);
    out.push(b':');
    push_digits(out, sod % 60, 2);
    if with_millis {
        out.push(b'.');
        push_digits(out, unix_millis % 1000, 3);
    }
    out.push(b'Z');
}

/// Appends the last `n` decimal digits of `v`, zero-padded.
fn push_digits(out: &mut Vec<u8>, v: u64, n: u32) {
    for k in (0..n).rev() {
        out.push(b'0' + (v / 10u64.pow(k) % 10) as u8);
    }
}

// Kinds of entity_uuid.
const TENANT: u64 = 1;
const CUSTOMER: u64 = 2;
const CAMPAIGN: u64 = 3;

const HTTP_METHODS: &[&str] = &[
    "GET", "GET", "GET", "GET", "POST", "POST", "PUT", "PATCH", "DELETE",
];
const RESOURCES: &[&str] = &[
    "users",
    "tenants",
    "datasets",
    "pipelines",
    "reports",
    "invoices",
    "webhooks",
    "api-keys",
    "sessions",
    "configs",
    "health",
    "billing",
];
const ROUTE_SUFFIXES: &[&str] = &["", "/:id", "/:id", "/:id/status", "/:id/members", "/search"];
const QUERIES: &[&str] = &[
    "",
    "",
    "?page=2",
    "?limit=50&offset=100",
    "?include=owner",
    "?fields=id,name,updated_at",
];
const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Go-http-client/1.1",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "PostmanRuntime/7.37.3",
    "okhttp/4.12.0",
];
const SERVICES: &[&str] = &[
    "ds-health",
    "ds-catalog",
    "ds-ingest",
    "ds-billing",
    "ds-identity",
    "ds-config",
];
const SUBJECT_PREFIXES: &[&str] = &["auth0|", "auth0|", "google-oauth2|", "samlp|acme|", "okta|"];
const FIRST_OCTETS: &[&str] = &["10", "10", "172", "192", "34", "52", "81", "203"];
const PAYLOAD_ACTIONS: &[&str] = &[
    "read", "read", "create", "update", "delete", "export", "share",
];
const STATUS_CODES: &[&str] = &[
    "200", "200", "200", "201", "204", "400", "401", "403", "404", "409", "500",
];
const AUTH_OUTCOMES: &[(&str, &str)] = &[
    ("login.success", ""),
    ("login.success", ""),
    ("login.success", ""),
    ("login.success", ""),
    ("login.failure", "invalid credentials"),
    ("login.failure", "account locked after 5 failed attempts"),
    ("login.failure", "token expired"),
    ("login.failure", "mfa challenge failed"),
    ("login.failure", "unknown user"),
];
const AUTH_PATHS: &[&str] = &[
    "/auth/login",
    "/auth/login",
    "/oauth/token",
    "/auth/callback",
    "/auth/refresh",
    "/api/v1/session",
];
const WEBHOOK_TYPES: &[&str] = &[
    "user.created",
    "user.created",
    "user.updated",
    "user.verified",
    "referral.created",
    "referral.verified",
    "reward.issued",
    "waitlist.joined",
    "user.deleted",
];
const FIRST_NAMES: &[&str] = &[
    "alice", "bob", "carla", "dmitri", "emma", "farah", "goran", "hana", "ivan", "jun", "kofi",
    "lena",
];
const LAST_NAMES: &[&str] = &[
    "smith", "garcia", "nguyen", "muller", "rossi", "kowalski", "tanaka", "okafor", "silva", "berg",
];
const EMAIL_DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "mail.example.net",
    "corp.example.com",
];
const INVOICE_ACTIONS: &[&str] = &[
    "created", "created", "created", "updated", "sent", "paid", "paid", "overdue", "voided",
    "deleted",
];
const CURRENCIES: &[&str] = &[
    "USD", "USD", "USD", "EUR", "EUR", "GBP", "CAD", "JPY", "NOK",
];
const SPEC_TYPES: &[&str] = &[
    "all",
    "all",
    "all",
    "api",
    "data-model",
    "security",
    "privacy",
];
const FRAMEWORKS: &[&str] = &[
    "GDPR",
    "HIPAA",
    "SOC2",
    "PCI-DSS",
    "ISO27001",
    "CCPA",
    "DORA",
    "NIS2",
    "EU-AI-ACT",
];
const BOOLS: &[&str] = &["true", "true", "true", "false"];

/// Writes everything of a JSON value but its closing `,"pad":"..."}`.
fn body<S: Sink>(template: Template, s: &mut S, key: &str, seq: u64) {
    match template {
        Template::Audit => audit(s, key, seq),
        Template::Auth => auth(s, key, seq),
        Template::Webhook => webhook(s, key, seq),
        Template::Invoice => invoice(s, key, seq),
        Template::Compliance => compliance(s, key, seq),
        // Not JSON: `Generator::value` and `min_size_for_key` handle them.
        Template::Raw | Template::Verifiable => {}
    }
}

/// Appends `"ip:port"`'s inside: a client address as Go's `Request.RemoteAddr` gives it.
fn remote_addr<S: Sink>(s: &mut S) {
    s.put(FIRST_OCTETS);
    for _ in 0..2 {
        s.lit(".");
        let octet = s.below(256);
        s.uint(octet);
    }
    s.lit(".");
    let host = 1 + s.below(254);
    s.uint(host);
    s.lit(":");
    let port = 32_768 + s.below(28_232);
    s.uint(port);
}

fn subject<S: Sink>(s: &mut S) {
    s.put(SUBJECT_PREFIXES);
    s.hex(24);
}

fn audit<S: Sink>(s: &mut S, key: &str, seq: u64) {
    s.lit("{\"id\":\"");
    s.escaped(key);
    s.lit("\",\"tenant_id\":\"");
    let tenant = s.below(64);
    s.entity_uuid(TENANT, tenant);
    s.lit("\",\"subject\":\"");
    subject(s);
    s.lit("\",\"jti\":\"");
    s.uuid();
    s.lit("\",\"http_method\":\"");
    s.put(HTTP_METHODS);
    let resource = *s.pick(RESOURCES);
    let suffix = *s.pick(ROUTE_SUFFIXES);
    s.lit("\",\"resource\":\"");
    s.lit(resource);
    s.lit("\",\"timestamp\":\"");
    let millis = message_millis(s, seq);
    s.timestamp(millis, true);
    s.lit("\",\"source_ip\":\"");
    remote_addr(s);
    s.lit("\",\"user_agent\":\"");
    s.put(USER_AGENTS);
    s.lit("\",\"service\":\"");
    s.put(SERVICES);
    s.lit("\",\"endpoint\":\"/api/v1/");
    s.lit(resource);
    s.lit(suffix);
    s.lit("\",\"full_url\":\"https://api.example.com/api/v1/");
    s.lit(resource);
    s.lit("/");
    s.uuid();
    s.put(QUERIES);
    s.lit("\",\"payload\":{\"action\":\"");
    s.put(PAYLOAD_ACTIONS);
    s.lit("\",\"status\":");
    s.put(STATUS_CODES);
    s.lit(",\"duration_ms\":");
    let duration = 1 + s.below(1500);
    s.uint(duration);
    s.lit(",\"bytes\":");
    let bytes = s.below(65_536);
    s.uint(bytes);
    s.lit("}");
}

fn auth<S: Sink>(s: &mut S, key: &str, seq: u64) {
    s.lit("{\"id\":\"");
    s.escaped(key);
    s.lit("\",\"service_name\":\"");
    s.put(SERVICES);
    let &(kind, error) = s.pick(AUTH_OUTCOMES);
    s.lit("\",\"type\":\"");
    s.lit(kind);
    s.lit("\",\"subject\":\"");
    subject(s);
    s.lit("\",\"tenant_id\":\"");
    let tenant = s.below(64);
    s.entity_uuid(TENANT, tenant);
    s.lit("\",\"error\":\"");
    s.lit(error);
    s.lit("\",\"path\":\"");
    s.put(AUTH_PATHS);
    s.lit("\",\"user_agent\":\"");
    s.put(USER_AGENTS);
    s.lit("\",\"remote_addr\":\"");
    remote_addr(s);
    s.lit("\",\"timestamp\":\"");
    let millis = message_millis(s, seq);
    s.timestamp(millis, true);
    s.lit("\"");
}

fn webhook<S: Sink>(s: &mut S, key: &str, seq: u64) {
    s.lit("{\"id\":\"");
    s.uuid();
    s.lit("\",\"type\":\"");
    s.put(WEBHOOK_TYPES);
    s.lit("\",\"account_id\":\"");
    s.escaped(key);
    s.lit("\",\"campaign_id\":\"");
    let campaign = s.below(200);
    s.entity_uuid(CAMPAIGN, campaign);
    s.lit("\",\"data\":{\"user_id\":\"");
    s.uuid();
    s.lit("\",\"email\":\"");
    s.put(FIRST_NAMES);
    s.lit(".");
    s.put(LAST_NAMES);
    let n = s.below(1000);
    s.uint(n);
    s.lit("@");
    s.put(EMAIL_DOMAINS);
    s.lit("\",\"position\":");
    let position = 1 + s.below(100_000);
    s.uint(position);
    s.lit("},\"timestamp\":\"");
    let millis = message_millis(s, seq);
    s.timestamp(millis, false);
    s.lit("\"");
}

fn invoice<S: Sink>(s: &mut S, key: &str, seq: u64) {
    s.lit("{\"action\":\"");
    s.put(INVOICE_ACTIONS);
    s.lit("\",\"invoiceId\":\"");
    s.escaped(key);
    s.lit("\",\"customerId\":\"");
    let customer = s.below(5000);
    s.entity_uuid(CUSTOMER, customer);
    s.lit("\",\"amount\":");
    // In cents, like the team's events ($150.00 is 15000).
    let amount = 100 + s.below(2_500_000);
    s.uint(amount);
    s.lit(",\"currency\":\"");
    s.put(CURRENCIES);
    s.lit("\",\"timestamp\":\"");
    let millis = message_millis(s, seq);
    s.timestamp(millis, true);
    s.lit("\"");
}

fn compliance<S: Sink>(s: &mut S, key: &str, seq: u64) {
    let event = s.below(1 << 48);
    s.lit("{\"workspaceId\":\"");
    s.escaped(key);
    s.lit("\",\"specType\":\"");
    s.put(SPEC_TYPES);
    s.lit("\",\"changes\":{\"regulatoryEvent\":\"evt_");
    s.uint(event);
    s.lit("\",\"framework\":\"");
    s.put(FRAMEWORKS);
    s.lit("\",\"requiresReview\":");
    s.put(BOOLS);
    s.lit("},\"regulatoryEventId\":\"evt_");
    s.uint(event);
    s.lit("\",\"timestamp\":\"");
    let millis = message_millis(s, seq);
    s.timestamp(millis, true);
    s.lit("\"");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::key_string;
    use proptest::prelude::*;
    use serde_json::Value;

    fn generate(t: Template, size: usize, seed: u64, key: &str, seq: u64) -> Vec<u8> {
        let mut out = Vec::new();
        Generator::new(t, size, seed).value(key, seq, &mut out);
        out
    }

    fn parse(bytes: &[u8]) -> serde_json::Map<String, Value> {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(m)) => m,
            other => panic!(
                "not a JSON object: {other:?}: {}",
                String::from_utf8_lossy(bytes)
            ),
        }
    }

    /// Keys with quotes, backslashes, control characters and non-ASCII, besides anything.
    fn nasty_key() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[\"\\\\\\x00-\\x1f\\x7f a-zA-Z0-9é€😀\u{2028}]{0,40}",
            (0u64..1_000_000, 0usize..6).prop_map(|(i, t)| key_string(Template::ALL[t], i)),
        ]
    }

    const JSON_TEMPLATES: [Template; 5] = [
        Template::Audit,
        Template::Auth,
        Template::Webhook,
        Template::Invoice,
        Template::Compliance,
    ];

    proptest! {
        #[test]
        fn exact_size_valid_json_key_in_its_field(
            t in prop::sample::select(&JSON_TEMPLATES[..]),
            key in nasty_key(),
            spread in any::<u32>(),
            seed in any::<u64>(),
            seq in any::<u64>(),
        ) {
            let min = min_size_for_key(t, &key);
            let size = min + spread as usize % (64 * 1024 - min + 1);
            let value = generate(t, size, seed, &key, seq);
            prop_assert_eq!(value.len(), size);
            let obj = parse(&value);
            prop_assert_eq!(obj.get(key_field(t)), Some(&Value::String(key.clone())));
            prop_assert!(obj.get("pad").is_some_and(Value::is_string));
        }

        #[test]
        fn below_the_minimum_the_value_is_natural_and_bounded(
            t in prop::sample::select(&JSON_TEMPLATES[..]),
            key in nasty_key(),
            size in 0usize..64,
            seed in any::<u64>(),
            seq in any::<u64>(),
        ) {
            let value = generate(t, size, seed, &key, seq);
            prop_assert!(value.len() <= min_size_for_key(t, &key));
            let obj = parse(&value);
            prop_assert_eq!(obj.get("pad"), Some(&Value::String(String::new())));
            prop_assert_eq!(obj.get(key_field(t)), Some(&Value::String(key)));
        }

        #[test]
        fn raw_is_exact_and_deterministic(
            size in 0usize..=64 * 1024,
            key in any::<String>(),
            seed in any::<u64>(),
            seq in any::<u64>(),
        ) {
            let a = generate(Template::Raw, size, seed, &key, seq);
            prop_assert_eq!(a.len(), size);
            prop_assert_eq!(&a, &generate(Template::Raw, size, seed, &key, seq));
        }

        #[test]
        fn same_inputs_same_bytes(
            t in prop::sample::select(&Template::ALL[..]),
            key in nasty_key(),
            size in 0usize..4096,
            seed in any::<u64>(),
            seq in any::<u64>(),
        ) {
            let a = generate(t, size, seed, &key, seq);
            // A reused buffer holding something else gives the same bytes.
            let mut out = vec![b'?'; 10_000];
            let mut g = Generator::new(t, size, seed);
            g.value("other key", seq.wrapping_add(1), &mut out);
            g.value(&key, seq, &mut out);
            prop_assert_eq!(a, out);
        }
    }

    /// The smallest size met exactly for every key [`key_string`] makes (any index).
    fn measured_min_size(template: Template) -> usize {
        // The longest generated key: a UUID, or the prefix and all 20 digits of u64::MAX.
        min_size_for_key(template, &key_string(template, u64::MAX))
    }

    #[test]
    fn the_scenario_minimum_is_the_measured_one() {
        // If a template changed, copy the measured sizes into `Template::min_size`.
        assert_eq!(
            Template::ALL.map(Template::min_size),
            Template::ALL.map(measured_min_size)
        );
    }

    #[test]
    fn min_size_is_exact_for_generated_keys_at_every_size_up_to_64k() {
        for t in Template::ALL {
            let min = t.min_size();
            for index in [0, 1, 42, 999_999, 1_000_000, u64::MAX] {
                let key = key_string(t, index);
                assert!(min_size_for_key(t, &key) <= min, "{t} {key}");
                for size in (min..=min + 300).chain([1000, 1024, 4096, 10_000, 65_536]) {
                    let v = generate(t, size, index, &key, index ^ size as u64);
                    assert_eq!(v.len(), size, "{t} key {key} size {size}");
                    if t != Template::Raw {
                        parse(&v);
                    }
                }
            }
        }
        assert_eq!(measured_min_size(Template::Raw), 0);
    }

    #[test]
    fn the_measured_bound_holds_over_many_messages() {
        for t in JSON_TEMPLATES {
            let key = key_string(t, 7);
            let bound = min_size_for_key(t, &key);
            let mut longest = 0;
            let mut g = Generator::new(t, 0, 3);
            let mut out = Vec::new();
            for seq in 0..20_000 {
                g.value(&key, seq, &mut out);
                longest = longest.max(out.len());
            }
            assert!(longest <= bound, "{t}: {longest} > {bound}");
            // The bound is tight enough to be useful.
            assert!(
                bound - longest < 120,
                "{t}: bound {bound}, longest seen {longest}"
            );
        }
    }

    #[test]
    fn values_vary_with_seed_seq_and_key() {
        for t in Template::ALL {
            let base = generate(t, 1024, 1, "k", 1);
            assert_ne!(base, generate(t, 1024, 2, "k", 1), "{t} seed");
            assert_ne!(base, generate(t, 1024, 1, "k", 2), "{t} seq");
            assert_ne!(base, generate(t, 1024, 1, "j", 1), "{t} key");
        }
    }

    fn fields(t: Template) -> serde_json::Map<String, Value> {
        let key = key_string(t, 42);
        parse(&generate(t, 1024, 9, &key, 12_345))
    }

    fn is_rfc3339_utc(s: &str, millis: bool) -> bool {
        let b = s.as_bytes();
        let pattern: &[u8] = if millis {
            b"dddd-dd-ddTdd:dd:dd.dddZ"
        } else {
            b"dddd-dd-ddTdd:dd:ddZ"
        };
        b.len() == pattern.len()
            && b.iter().zip(pattern).all(|(&c, &p)| {
                if p == b'd' {
                    c.is_ascii_digit()
                } else {
                    c == p
                }
            })
    }

    fn names(m: &serde_json::Map<String, Value>) -> Vec<&str> {
        m.keys().map(String::as_str).collect()
    }

    #[test]
    fn audit_entry_fields() {
        let m = fields(Template::Audit);
        let mut want = vec![
            "id",
            "tenant_id",
            "subject",
            "jti",
            "http_method",
            "resource",
            "timestamp",
            "source_ip",
            "user_agent",
            "service",
            "endpoint",
            "full_url",
            "payload",
            "pad",
        ];
        let mut got = names(&m);
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(m["id"], key_string(Template::Audit, 42));
        assert!(
            is_rfc3339_utc(m["timestamp"].as_str().unwrap(), true),
            "{m:?}"
        );
        assert!(m["payload"].is_object());
        let resource = m["resource"].as_str().unwrap();
        assert!(
            m["endpoint"]
                .as_str()
                .unwrap()
                .starts_with(&format!("/api/v1/{resource}"))
        );
        assert!(
            m["full_url"]
                .as_str()
                .unwrap()
                .starts_with("https://api.example.com/api/v1/")
        );
        assert_eq!(m["tenant_id"].as_str().unwrap().len(), 36);
    }

    #[test]
    fn auth_event_fields_and_failure_carries_an_error() {
        let m = fields(Template::Auth);
        let mut got = names(&m);
        got.sort_unstable();
        let mut want = vec![
            "id",
            "service_name",
            "type",
            "subject",
            "tenant_id",
            "error",
            "path",
            "user_agent",
            "remote_addr",
            "timestamp",
            "pad",
        ];
        want.sort_unstable();
        assert_eq!(got, want);
        let mut seen = [false; 2];
        for seq in 0..200 {
            let m = parse(&generate(Template::Auth, 0, 1, "r", seq));
            let error = m["error"].as_str().unwrap();
            match m["type"].as_str().unwrap() {
                "login.success" => {
                    seen[0] = true;
                    assert_eq!(error, "");
                }
                "login.failure" => {
                    seen[1] = true;
                    assert_ne!(error, "");
                }
                other => panic!("type {other}"),
            }
        }
        assert_eq!(seen, [true, true]);
    }

    #[test]
    fn webhook_invoice_compliance_fields() {
        let m = fields(Template::Webhook);
        assert_eq!(m["account_id"], "acct-000042");
        let data = m["data"].as_object().unwrap();
        assert!(data["email"].as_str().unwrap().contains('@'));
        assert!(data["position"].as_u64().unwrap() >= 1);
        assert!(data["user_id"].is_string());
        assert!(m["type"].as_str().unwrap().contains('.'));
        assert!(is_rfc3339_utc(m["timestamp"].as_str().unwrap(), false));
        assert!(m["campaign_id"].is_string() && m["id"].is_string());

        let m = fields(Template::Invoice);
        assert_eq!(m["invoiceId"], "INV-000042");
        assert!(m["amount"].as_u64().unwrap() >= 100);
        assert_eq!(m["currency"].as_str().unwrap().len(), 3);
        for f in ["action", "customerId", "timestamp"] {
            assert!(m[f].is_string(), "{f}");
        }

        let m = fields(Template::Compliance);
        assert_eq!(m["workspaceId"], "ws-000042");
        let changes = m["changes"].as_object().unwrap();
        assert!(changes["requiresReview"].is_boolean());
        assert!(changes["framework"].is_string());
        assert_eq!(changes["regulatoryEvent"], m["regulatoryEventId"]);
        assert!(m["specType"].is_string());
    }

    #[test]
    fn entities_repeat_across_messages() {
        // A few dozen tenants, not one per message.
        let tenants: std::collections::HashSet<String> = (0..2000)
            .map(|seq| {
                let m = parse(&generate(Template::Audit, 0, 5, "k", seq));
                m["tenant_id"].as_str().unwrap().to_string()
            })
            .collect();
        assert!((2..=64).contains(&tenants.len()), "{}", tenants.len());
    }

    #[test]
    fn timestamps_format_known_instants() {
        for (millis, with, want) in [
            (0, true, "1970-01-01T00:00:00.000Z"),
            (BASE_MILLIS, false, "2025-01-01T00:00:00Z"),
            (951_782_400_000, true, "2000-02-29T00:00:00.000Z"),
            (1_709_251_199_999, true, "2024-02-29T23:59:59.999Z"),
            (4_102_444_799_999, true, "2099-12-31T23:59:59.999Z"),
            (253_402_300_799_000, false, "9999-12-31T23:59:59Z"),
        ] {
            let mut out = Vec::new();
            rfc3339(millis, with, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
        // The last timestamp any sequence number gets still has a four-digit year.
        let mut out = Vec::new();
        rfc3339(BASE_MILLIS + SPAN_MILLIS - 1 + 999, true, &mut out);
        assert!(out.starts_with(b"207"), "{}", String::from_utf8_lossy(&out));
    }

    #[test]
    fn padding_is_words() {
        let v = generate(Template::Invoice, 2048, 1, "INV-1", 1);
        let m = parse(&v);
        let pad = m["pad"].as_str().unwrap();
        assert!(pad.len() > 1500);
        assert!(pad.split(' ').filter(|w| !w.is_empty()).count() > 100);
        assert!(
            pad.bytes()
                .all(|b| b == b' ' || b == b'-' || b.is_ascii_alphanumeric())
        );
    }

    #[test]
    fn raw_has_no_key_field() {
        assert_eq!(key_field(Template::Raw), "");
    }

    #[test]
    fn pick_lists_need_no_escaping() {
        let lists: &[&[&str]] = &[
            &WORDS,
            HTTP_METHODS,
            RESOURCES,
            ROUTE_SUFFIXES,
            QUERIES,
            USER_AGENTS,
            SERVICES,
            SUBJECT_PREFIXES,
            FIRST_OCTETS,
            PAYLOAD_ACTIONS,
            STATUS_CODES,
            AUTH_PATHS,
            WEBHOOK_TYPES,
            FIRST_NAMES,
            LAST_NAMES,
            EMAIL_DOMAINS,
            INVOICE_ACTIONS,
            CURRENCIES,
            SPEC_TYPES,
            FRAMEWORKS,
            BOOLS,
        ];
        let outcomes = AUTH_OUTCOMES.iter().flat_map(|&(a, b)| [a, b]);
        for item in lists.iter().flat_map(|l| l.iter().copied()).chain(outcomes) {
            assert!(
                item.bytes()
                    .all(|b| b.is_ascii() && b >= 0x20 && b != b'"' && b != b'\\'),
                "{item:?}"
            );
        }
    }

    #[test]
    fn uuid_text_layout() {
        let t = uuid_text(0x0123_4567_89ab_4def, 0x8123_4567_89ab_cdef);
        assert_eq!(&t, b"01234567-89ab-4def-8123-456789abcdef");
    }
}
