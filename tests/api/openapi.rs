//! `openapi.json` is generated from the code; this fails when the checked-in copy is stale.
//! Regenerate with `make openapi`.

#[test]
fn the_checked_in_openapi_document_is_current() {
    let generated = doorstep_tests::openapi_document();
    let path = format!("{}/../openapi.json", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write openapi.json");
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(checked_in == generated, "openapi.json is stale: run `make openapi` and commit the result");

    let document: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    for path in [
        "/api/v1/properties",
        "/api/v1/properties/{property_id}",
        "/api/ai/properties",
        "/api/ai/properties/{property_id}",
    ] {
        assert!(document["paths"][path].is_object(), "{path} is documented");
    }
}
