//! Fuzz target: redaction never panics, is idempotent (plain and keyed) and `scrub_str`
//! stays within its bound. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run redact`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use relay_shell::redact::Redactor;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for redactor in [Redactor::new(), Redactor::with_key(b"fuzz-key".to_vec())] {
        let once = redactor.redact(&text).into_owned();
        let twice = redactor.redact(&once).into_owned();
        assert_eq!(once, twice, "not idempotent for {text:?}");
        let bounded = redactor.scrub_str(&text, 64);
        let head = bounded.split("...(+").next().unwrap_or("");
        assert!(head.chars().count() <= 64);
    }
});
