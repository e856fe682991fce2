//! Rolls into POST bodies: one property per body (per-property delivery) or every
//! property in one body (batch delivery, the RentSync guide §3.3), split into parts so
//! that no body exceeds the organization's `max_body_bytes`. Every entry lands in exactly
//! one part; a single entry larger than the bound goes alone in its part.

use serde::Serialize;
use shared::store::rent_roll::{DeliveryMode, PayloadFormat, SentChange};

use crate::delta::{Entry, PropertyRoll};
use crate::payload::{
    Flat, FlatUnit, NestedBatch, NestedProject, NestedProperty, NestedUnit, PropertySummary, RemovedUnit, RenderedBody,
    Singles, SyncMetadata, SyncRun, single_unit,
};

/// One POST body and what it changes once delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub rendered: RenderedBody,
    /// The properties it carries, in order.
    pub property_ids: Vec<String>,
    pub changes: Vec<SentChange>,
}

/// A property's entries within one part.
struct Chunk<'a> {
    roll: &'a PropertyRoll,
    entries: Vec<&'a Entry>,
}

fn size(value: &impl Serialize) -> usize {
    serde_json::to_vec(value).map(|v| v.len()).unwrap_or(0)
}

fn removed_list(delta: bool) -> Option<Vec<RemovedUnit>> {
    delta.then(Vec::new)
}

/// The bodies of `rolls` in `format`: with `DeliveryMode::PerProperty` every roll is one
/// group of parts; with `Batch` all rolls share them.
pub fn parts(
    rolls: &[PropertyRoll],
    format: PayloadFormat,
    delivery: DeliveryMode,
    max_body_bytes: u64,
    run: &SyncRun,
) -> Vec<Part> {
    let max = usize::try_from(max_body_bytes).unwrap_or(usize::MAX);
    match delivery {
        DeliveryMode::PerProperty => {
            rolls.iter().flat_map(|roll| split(std::slice::from_ref(roll), format, false, max, run)).collect()
        }
        DeliveryMode::Batch => split(rolls, format, true, max, run),
    }
}

fn split(rolls: &[PropertyRoll], format: PayloadFormat, batch: bool, max: usize, run: &SyncRun) -> Vec<Part> {
    let Some(first) = rolls.first() else { return Vec::new() };
    let delta = first.delta;
    // The body with no units, and what each further property adds to it.
    let (envelope, per_property) = match (format, batch) {
        (PayloadFormat::Nested, false) => (size(&nested_property(&Chunk { roll: first, entries: Vec::new() }, run)), 0),
        (PayloadFormat::Nested, true) => (
            size(&NestedBatch { sync_metadata: SyncMetadata::of(run), projects: Vec::new() }),
            size(&project(&Chunk { roll: first, entries: Vec::new() })) + 1,
        ),
        (PayloadFormat::Flat, _) => (size(&flat(&[], delta, run)), 0),
        (PayloadFormat::Single, _) => (size(&singles(&[], delta, run)), 0),
    };
    let entry_size = |roll: &PropertyRoll, entry: &Entry| {
        1 + match (entry, format) {
            (Entry::Unit(unit, _), PayloadFormat::Nested) => size(&NestedUnit::from(unit.as_ref())),
            (Entry::Unit(unit, _), PayloadFormat::Flat) => size(&FlatUnit::from(unit.as_ref())),
            (Entry::Unit(unit, _), PayloadFormat::Single) => size(&single_unit(&roll.property, unit, run)),
            (Entry::Removed(removed), _) => size(removed),
        }
    };
    let mut groups: Vec<Vec<Chunk>> = Vec::new();
    let mut current: Vec<Chunk> = Vec::new();
    let mut used = envelope;
    for roll in rolls {
        // A property's name and address can make its share of the body longer than the first's.
        let property_cost = if per_property > 0 { size(&project(&Chunk { roll, entries: Vec::new() })) + 1 } else { 0 };
        let mut started = false;
        for entry in &roll.entries {
            let cost = entry_size(roll, entry) + if started { 0 } else { property_cost };
            if used + cost > max && !current.is_empty() {
                groups.push(std::mem::take(&mut current));
                used = envelope;
                started = false;
            }
            if !started {
                current.push(Chunk { roll, entries: Vec::new() });
                used += property_cost;
                started = true;
            }
            used += entry_size(roll, entry);
            if let Some(chunk) = current.last_mut() {
                chunk.entries.push(entry);
            }
        }
        if !started {
            // A snapshot of a property without listed units still tells RentSync it has none.
            if used + property_cost > max && !current.is_empty() {
                groups.push(std::mem::take(&mut current));
                used = envelope;
            }
            current.push(Chunk { roll, entries: Vec::new() });
            used += property_cost;
        }
        if !batch {
            groups.push(std::mem::take(&mut current));
            used = envelope;
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups.iter().map(|chunks| render(chunks, format, batch, delta, run)).collect()
}

fn units_of(chunk: &Chunk) -> (Vec<NestedUnit>, Vec<FlatUnit>, Vec<RemovedUnit>) {
    let mut nested = Vec::new();
    let mut flat = Vec::new();
    let mut removed = Vec::new();
    for entry in &chunk.entries {
        match entry {
            Entry::Unit(unit, _) => {
                nested.push(NestedUnit::from(unit.as_ref()));
                flat.push(FlatUnit::from(unit.as_ref()));
            }
            Entry::Removed(r) => removed.push(r.clone()),
        }
    }
    (nested, flat, removed)
}

fn nested_property(chunk: &Chunk, run: &SyncRun) -> NestedProperty {
    let project = project(chunk);
    NestedProperty {
        sync_metadata: SyncMetadata::of(run),
        property: project.property,
        units: project.units,
        removed_units: project.removed_units,
    }
}

fn project(chunk: &Chunk) -> NestedProject {
    let (units, _, removed) = units_of(chunk);
    NestedProject {
        property: PropertySummary::from(&chunk.roll.property),
        units,
        removed_units: chunk.roll.delta.then_some(removed),
    }
}

fn flat(chunks: &[Chunk], delta: bool, run: &SyncRun) -> Flat {
    let mut body = Flat { sync_timestamp: run.timestamp(), units: Vec::new(), removed_units: removed_list(delta) };
    for chunk in chunks {
        let (_, rows, removed) = units_of(chunk);
        body.units.extend(rows);
        if let Some(list) = body.removed_units.as_mut() {
            list.extend(removed);
        }
    }
    body
}

fn singles(chunks: &[Chunk], delta: bool, run: &SyncRun) -> Singles {
    let mut body = Singles { units: Vec::new(), removed_units: removed_list(delta) };
    for chunk in chunks {
        for entry in &chunk.entries {
            match entry {
                Entry::Unit(unit, _) => body.units.push(single_unit(&chunk.roll.property, unit, run)),
                Entry::Removed(removed) => body.removed_units.get_or_insert_with(Vec::new).push(removed.clone()),
            }
        }
    }
    body
}

fn render(chunks: &[Chunk], format: PayloadFormat, batch: bool, delta: bool, run: &SyncRun) -> Part {
    let count = chunks.iter().map(|c| c.entries.len()).sum();
    let rendered = match (format, batch, chunks.first()) {
        (PayloadFormat::Nested, false, Some(chunk)) => RenderedBody::of(&nested_property(chunk, run), count),
        (PayloadFormat::Nested, _, _) => RenderedBody::of(
            &NestedBatch { sync_metadata: SyncMetadata::of(run), projects: chunks.iter().map(project).collect() },
            count,
        ),
        (PayloadFormat::Flat, _, _) => RenderedBody::of(&flat(chunks, delta, run), count),
        (PayloadFormat::Single, _, _) => RenderedBody::of(&singles(chunks, delta, run), count),
    };
    let mut property_ids: Vec<String> = chunks.iter().map(|c| c.roll.property.id.clone()).collect();
    property_ids.dedup();
    Part { rendered, property_ids, changes: chunks.iter().flat_map(|c| c.entries.iter().map(|e| e.change())).collect() }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use shared::store::rent_roll::SyncMode;
    use time::macros::datetime;

    use super::*;
    use crate::delta::roll;
    use crate::delta::tests::{property, unit};

    fn rolls(mode: SyncMode, properties: usize, units: usize) -> Vec<PropertyRoll> {
        (0..properties)
            .map(|p| {
                let id = format!("prop_{p}");
                let listed = (0..units).map(|u| unit(&id, &format!("unit_{p}_{u}"), 100_000 + u as i64)).collect();
                roll(mode, &property(&id), listed, &[])
            })
            .collect()
    }

    fn run() -> SyncRun {
        SyncRun::at(datetime!(2025-01-15 2:00 UTC))
    }

    fn unit_ids(body: &Value) -> Vec<String> {
        let lists: Vec<&Value> = match body.get("projects") {
            Some(projects) => projects.as_array().unwrap().iter().map(|p| &p["units"]).collect(),
            None => vec![&body["units"]],
        };
        lists.iter().flat_map(|l| l.as_array().unwrap()).map(|u| u["unit_id"].as_str().unwrap().to_owned()).collect()
    }

    #[test]
    fn a_batch_within_the_bound_is_one_body_with_every_project() {
        let rolls = rolls(SyncMode::Snapshot, 3, 2);
        let parts = parts(&rolls, PayloadFormat::Nested, DeliveryMode::Batch, 1_000_000, &run());
        assert_eq!(parts.len(), 1);
        let body: Value = serde_json::from_str(&parts[0].rendered.body).unwrap();
        assert_eq!(body["sync_metadata"]["sync_id"], "sync-2025-01-15-02-00-00");
        let projects = body["projects"].as_array().unwrap();
        assert_eq!(projects.len(), 3);
        assert_eq!(projects[1]["property"]["project_id"], "prop_1");
        assert_eq!(projects[1]["units"].as_array().unwrap().len(), 2);
        assert!(projects[1].get("removed_units").is_none(), "a snapshot carries no removals");
        assert_eq!(parts[0].property_ids, ["prop_0", "prop_1", "prop_2"]);
        assert_eq!(parts[0].changes.len(), 6);
    }

    #[test]
    fn a_batch_over_the_bound_is_split_into_parts_carrying_every_unit_once() {
        for format in [PayloadFormat::Nested, PayloadFormat::Flat] {
            let rolls = rolls(SyncMode::Delta, 4, 25);
            let whole = parts(&rolls, format, DeliveryMode::Batch, u64::MAX, &run());
            assert_eq!(whole.len(), 1);
            let bound = 4_000;
            let split = parts(&rolls, format, DeliveryMode::Batch, bound, &run());
            assert!(split.len() > 2, "{format:?}: {} parts", split.len());
            let mut seen = Vec::new();
            for part in &split {
                assert!(part.rendered.body.len() as u64 <= bound, "{format:?}: {} bytes", part.rendered.body.len());
                let body: Value = serde_json::from_str(&part.rendered.body).unwrap();
                seen.extend(unit_ids(&body));
                assert_eq!(part.changes.len(), part.rendered.unit_count as usize);
            }
            let mut expected = unit_ids(&serde_json::from_str(&whole[0].rendered.body).unwrap());
            assert_eq!(seen.len(), 100);
            seen.sort();
            expected.sort();
            assert_eq!(seen, expected, "{format:?}: every unit exactly once");
        }
    }

    #[test]
    fn per_property_delivery_is_one_body_per_property() {
        let rolls = rolls(SyncMode::Snapshot, 2, 1);
        let parts = parts(&rolls, PayloadFormat::Nested, DeliveryMode::PerProperty, 1_000_000, &run());
        assert_eq!(parts.len(), 2);
        let body: Value = serde_json::from_str(&parts[1].rendered.body).unwrap();
        assert_eq!(body["property"]["project_id"], "prop_1");
        assert_eq!(parts[1].property_ids, ["prop_1"]);
    }
}
