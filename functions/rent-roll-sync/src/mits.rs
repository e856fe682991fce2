//! The MITS 4.1 ILS XML feed that listing sites (Zillow, Apartments.com, HotPads, ...)
//! read: `PhysicalProperty` › `Property` with `PropertyID`, `ILS_Identification`,
//! `Floorplan` (grouping units by floorplan) and one `ILS_Unit` per listed unit with
//! `Units/Unit` and `Availability`. Written with quick-xml's writer, never by
//! concatenating strings, so every text and attribute is escaped.

use std::collections::BTreeMap;
use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};
use shared::domain::Property;
use shared::domain::money::Money;
use shared::domain::unit::{Unit, halves_number};
use time::Date;

/// The `OrganizationName` of every `Identification` Doorstep writes.
const ORGANIZATION: &str = "Doorstep";

/// `1500.00`.
fn amount(money: Money) -> String {
    let cents = money.0;
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.unsigned_abs() / 100, cents.unsigned_abs() % 100)
}

/// The floorplan a unit is listed under: its `floorplan`, or else one named after its
/// bedrooms and bathrooms (`2BR-1BA`).
fn floorplan_of(unit: &Unit) -> String {
    if let Some(name) = &unit.fields.floorplan {
        return name.clone();
    }
    let rooms = |halves: Option<u32>| halves.map_or_else(|| "0".to_owned(), |h| halves_number(h).to_string());
    format!("{}BR-{}BA", rooms(unit.fields.bedrooms_halves), rooms(unit.fields.bathrooms_halves))
}

/// A unit's `Availability`: whether a lease holds it `today`, the day that lease ends, and
/// the first day it can be moved into when its status lists it as available.
struct Availability {
    occupied: bool,
    vacate: Option<Date>,
    made_ready: Option<Date>,
}

impl Availability {
    fn of(unit: &Unit, today: Date) -> Self {
        let current = unit.booking_on(today);
        let vacate = current.map(|b| b.end);
        let made_ready = unit.fields.active.then_some(()).filter(|()| unit.status.is_available()).map(|()| {
            let free_from = vacate.and_then(Date::next_day).unwrap_or(today);
            unit.fields.possession_start.map_or(free_from, |start| start.max(free_from))
        });
        Self { occupied: current.is_some(), vacate, made_ready }
    }
}

type Xml = Writer<Vec<u8>>;

fn text(w: &mut Xml, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name).write_text_content(BytesText::new(value)).map(|_| ())
}

/// `<Name Month=".." Day=".." Year=".."/>`, MITS' form of a date.
fn date(w: &mut Xml, name: &str, day: Date) -> io::Result<()> {
    w.create_element(name)
        .with_attribute(("Month", u8::from(day.month()).to_string().as_str()))
        .with_attribute(("Day", day.day().to_string().as_str()))
        .with_attribute(("Year", day.year().to_string().as_str()))
        .write_empty()
        .map(|_| ())
}

fn identification(w: &mut Xml, kind: &str, id: &str) -> io::Result<()> {
    w.create_element("Identification")
        .with_attribute(("IDType", kind))
        .with_attribute(("IDValue", id))
        .with_attribute(("OrganizationName", ORGANIZATION))
        .write_empty()
        .map(|_| ())
}

/// The feed of `properties`, each with its listed units, as of `today`.
pub fn feed(properties: &[(Property, Vec<Unit>)], today: Date) -> Vec<u8> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing to a Vec cannot fail.
    let _ = write_feed(&mut w, properties, today);
    w.into_inner()
}

fn write_feed(w: &mut Xml, properties: &[(Property, Vec<Unit>)], today: Date) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("PhysicalProperty").write_inner_content(|w| {
        for (property, units) in properties {
            write_property(w, property, units, today)?;
        }
        Ok(())
    })?;
    Ok(())
}

fn write_property(w: &mut Xml, property: &Property, units: &[Unit], today: Date) -> io::Result<()> {
    let address = &property.fields.address;
    w.create_element("Property").with_attribute(("IDValue", property.id.as_str())).write_inner_content(|w| {
        w.create_element("PropertyID").write_inner_content(|w| {
            identification(w, "PropertyID", &property.id)?;
            text(w, "MarketingName", &property.fields.name)?;
            w.create_element("Address").with_attribute(("AddressType", "property")).write_inner_content(|w| {
                text(w, "AddressLine1", &address.street)?;
                text(w, "City", &address.city)?;
                text(w, "State", &address.state)?;
                text(w, "PostalCode", &address.postal_code)?;
                if let Some(country) = &address.country {
                    text(w, "Country", country)?;
                }
                Ok(())
            })?;
            Ok(())
        })?;
        w.create_element("ILS_Identification")
            .with_attribute(("ILS_IdentificationType", "Apartment"))
            .with_attribute(("RentalType", "Market Rate"))
            .write_inner_content(|w| date(w, "LastUpdate", property.updated_at.date()))?;
        let mut floorplans: BTreeMap<String, Vec<&Unit>> = BTreeMap::new();
        for unit in units {
            floorplans.entry(floorplan_of(unit)).or_default().push(unit);
        }
        for (name, members) in &floorplans {
            write_floorplan(w, name, members)?;
        }
        for unit in units {
            write_unit(w, unit, today)?;
        }
        Ok(())
    })?;
    Ok(())
}

fn write_floorplan(w: &mut Xml, name: &str, units: &[&Unit]) -> io::Result<()> {
    let first = units.first().map(|u| &u.fields);
    let range = |values: Vec<String>, w: &mut Xml, element: &str| -> io::Result<()> {
        match (values.first(), values.last()) {
            (Some(min), Some(max)) => {
                w.create_element(element)
                    .with_attribute(("Min", min.as_str()))
                    .with_attribute(("Max", max.as_str()))
                    .write_empty()?;
                Ok(())
            }
            _ => Ok(()),
        }
    };
    w.create_element("Floorplan").with_attribute(("IDValue", name)).write_inner_content(|w| {
        identification(w, "FloorplanID", name)?;
        text(w, "Name", name)?;
        text(w, "UnitCount", &units.len().to_string())?;
        for (room, halves) in
            [("Bedroom", first.and_then(|f| f.bedrooms_halves)), ("Bathroom", first.and_then(|f| f.bathrooms_halves))]
        {
            if let Some(halves) = halves {
                w.create_element("Room")
                    .with_attribute(("RoomType", room))
                    .write_inner_content(|w| text(w, "Count", &halves_number(halves).to_string()))?;
            }
        }
        let mut sizes: Vec<u32> = units.iter().filter_map(|u| u.fields.sqft).collect();
        sizes.sort_unstable();
        range(sizes.iter().map(u32::to_string).collect(), w, "SquareFeet")?;
        let mut rents: Vec<Money> = units.iter().map(|u| u.fields.base_rent).collect();
        rents.sort_unstable_by_key(|m| m.0);
        range(rents.into_iter().map(amount).collect(), w, "MarketRent")?;
        Ok(())
    })?;
    Ok(())
}

fn write_unit(w: &mut Xml, unit: &Unit, today: Date) -> io::Result<()> {
    let fields = &unit.fields;
    let availability = Availability::of(unit, today);
    w.create_element("ILS_Unit").with_attribute(("IDValue", unit.id.as_str())).write_inner_content(|w| {
        w.create_element("Units").write_inner_content(|w| {
            w.create_element("Unit").write_inner_content(|w| {
                identification(w, "UnitID", &unit.id)?;
                text(w, "MarketingName", &fields.unit_number)?;
                text(w, "FloorplanName", &floorplan_of(unit))?;
                if let Some(halves) = fields.bedrooms_halves {
                    text(w, "UnitBedrooms", &halves_number(halves).to_string())?;
                }
                if let Some(halves) = fields.bathrooms_halves {
                    text(w, "UnitBathrooms", &halves_number(halves).to_string())?;
                }
                if let Some(sqft) = fields.sqft {
                    text(w, "MinSquareFeet", &sqft.to_string())?;
                    text(w, "MaxSquareFeet", &sqft.to_string())?;
                }
                text(w, "UnitRent", &amount(fields.base_rent))?;
                text(w, "MarketRent", &amount(fields.price_amortized.unwrap_or(fields.base_rent)))?;
                text(w, "UnitLeasedStatus", if availability.occupied { "leased" } else { "available" })?;
                Ok(())
            })?;
            Ok(())
        })?;
        w.create_element("Availability").write_inner_content(|w| {
            if let Some(vacate) = availability.vacate {
                date(w, "VacateDate", vacate)?;
            }
            text(w, "VacancyClass", if availability.occupied { "Occupied" } else { "Unoccupied" })?;
            if let Some(ready) = availability.made_ready {
                date(w, "MadeReadyDate", ready)?;
            }
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(())
}

/// Reading a feed back with quick-xml's reader, to check what a feed says (tests do).
pub mod read {
    use std::collections::BTreeMap;

    use quick_xml::Reader;
    use quick_xml::events::{BytesStart, Event};

    /// An element of a parsed document.
    #[derive(Debug, Default, Clone, PartialEq, Eq)]
    pub struct Node {
        pub name: String,
        pub attributes: BTreeMap<String, String>,
        /// Its text, entities resolved, the indentation around child elements trimmed.
        pub text: String,
        pub children: Vec<Node>,
    }

    impl Node {
        /// The children named `name`.
        pub fn all(&self, name: &str) -> Vec<&Node> {
            self.children.iter().filter(|c| c.name == name).collect()
        }

        /// The first descendant at `path` (`Units/Unit/UnitRent`).
        pub fn at(&self, path: &str) -> Option<&Node> {
            path.split('/').try_fold(self, |node, name| node.children.iter().find(|c| c.name == name))
        }

        pub fn attr(&self, name: &str) -> Option<&str> {
            self.attributes.get(name).map(String::as_str)
        }
    }

    fn open(e: &BytesStart) -> Result<Node, String> {
        let mut attributes = BTreeMap::new();
        for attribute in e.attributes() {
            let attribute = attribute.map_err(|err| err.to_string())?;
            let value = attribute.unescape_value().map_err(|err| err.to_string())?;
            attributes.insert(String::from_utf8_lossy(attribute.key.as_ref()).into_owned(), value.into_owned());
        }
        Ok(Node { name: String::from_utf8_lossy(e.name().as_ref()).into_owned(), attributes, ..Node::default() })
    }

    /// The document's root element; why not, when it is not well-formed XML.
    pub fn parse(xml: &[u8]) -> Result<Node, String> {
        let mut reader = Reader::from_reader(xml);
        reader.config_mut().check_end_names = true;
        let mut stack = vec![Node::default()];
        let mut buf = Vec::new();
        loop {
            let event = reader.read_event_into(&mut buf).map_err(|err| err.to_string())?;
            let top = stack.len() - 1;
            match event {
                Event::Start(e) => stack.push(open(&e)?),
                Event::Empty(e) => stack[top].children.push(open(&e)?),
                Event::Text(t) => stack[top].text.push_str(&t.decode().map_err(|err| err.to_string())?),
                Event::GeneralRef(r) => {
                    let name = r.decode().map_err(|err| err.to_string())?;
                    let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or_else(|| format!("unknown entity &{name};"))?;
                    stack[top].text.push_str(resolved);
                }
                Event::End(_) if top > 0 => {
                    let mut done = stack.pop().unwrap_or_default();
                    done.text = done.text.trim().to_owned();
                    stack[top - 1].children.push(done);
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        match (stack.len(), stack.pop().map(|document| document.children)) {
            (1, Some(mut roots)) if roots.len() == 1 => Ok(roots.remove(0)),
            _ => Err("not one root element".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use shared::domain::unit::Booking;
    use time::macros::date;

    use super::read::parse;
    use super::*;
    use crate::delta::tests::{property, unit};

    #[test]
    fn the_feed_has_the_mits_elements_for_each_property_floorplan_and_unit() {
        let mut p = property("prop_1");
        p.fields.name = "Sunset & Vine".into();
        let mut vacant = unit("prop_1", "unit_101", 150_000);
        vacant.fields.floorplan = Some("1BR-OPEN".into());
        vacant.fields.sqft = Some(750);
        vacant.fields.bedrooms_halves = Some(2);
        vacant.fields.bathrooms_halves = Some(3);
        let mut leased = unit("prop_1", "unit_102", 210_000);
        leased.fields.floorplan = Some("1BR-OPEN".into());
        leased.fields.sqft = Some(800);
        leased.status = shared::domain::unit::UnitStatus::Notice;
        leased.bookings =
            vec![Booking { lease_id: "lease_1".into(), start: date!(2026 - 01 - 01), end: date!(2026 - 12 - 31) }];
        let today = date!(2026 - 12 - 01);

        let doc = parse(&feed(&[(p, vec![vacant, leased])], today)).unwrap();

        assert_eq!(doc.name, "PhysicalProperty");
        let property = doc.at("Property").unwrap();
        assert_eq!(property.at("PropertyID/Identification").unwrap().attr("IDValue").unwrap(), "prop_1");
        assert_eq!(property.at("PropertyID/MarketingName").unwrap().text, "Sunset & Vine", "escaped and read back");
        assert_eq!(property.at("PropertyID/Address/City").unwrap().text, "Calgary");
        assert_eq!(property.at("ILS_Identification").unwrap().attr("ILS_IdentificationType").unwrap(), "Apartment");
        let floorplans = property.all("Floorplan");
        assert_eq!(floorplans.len(), 1);
        assert_eq!(floorplans[0].at("Name").unwrap().text, "1BR-OPEN");
        assert_eq!(floorplans[0].at("UnitCount").unwrap().text, "2");
        assert_eq!(floorplans[0].at("SquareFeet").unwrap().attr("Min").unwrap(), "750");
        assert_eq!(floorplans[0].at("SquareFeet").unwrap().attr("Max").unwrap(), "800");
        assert_eq!(floorplans[0].at("MarketRent").unwrap().attr("Max").unwrap(), "2100.00");
        let units = property.all("ILS_Unit");
        assert_eq!(units.len(), 2);
        let first = units[0].at("Units/Unit").unwrap();
        assert_eq!(first.at("Identification").unwrap().attr("IDValue").unwrap(), "unit_101");
        assert_eq!(first.at("MarketingName").unwrap().text, "101");
        assert_eq!(first.at("UnitBedrooms").unwrap().text, "1");
        assert_eq!(first.at("UnitBathrooms").unwrap().text, "1.5");
        assert_eq!(first.at("MinSquareFeet").unwrap().text, "750");
        assert_eq!(first.at("MaxSquareFeet").unwrap().text, "750");
        assert_eq!(first.at("UnitRent").unwrap().text, "1500.00");
        assert_eq!(first.at("MarketRent").unwrap().text, "1500.00");
        assert_eq!(units[0].at("Availability/VacancyClass").unwrap().text, "Unoccupied");
        assert_eq!(units[0].at("Availability/MadeReadyDate").unwrap().attr("Day").unwrap(), "1");
        assert!(units[0].at("Availability").unwrap().all("VacateDate").is_empty());
        // The leased unit's tenant gave notice: occupied until the lease ends, ready the next day.
        let availability = units[1].at("Availability").unwrap();
        assert_eq!(availability.at("VacancyClass").unwrap().text, "Occupied");
        let vacate = availability.at("VacateDate").unwrap();
        assert_eq!(
            (vacate.attr("Month").unwrap(), vacate.attr("Day").unwrap(), vacate.attr("Year").unwrap()),
            ("12", "31", "2026")
        );
        let ready = availability.at("MadeReadyDate").unwrap();
        assert_eq!(
            (ready.attr("Month").unwrap(), ready.attr("Day").unwrap(), ready.attr("Year").unwrap()),
            ("1", "1", "2027")
        );
    }
}
