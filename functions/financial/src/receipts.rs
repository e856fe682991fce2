//! Receipts and printable documents: a payment's receipt (JSON or PDF) and an invoice
//! as a PDF. PDFs use the standard Helvetica font (never embedded) in WinAnsi encoding,
//! so every reader opens them and their text extracts; characters outside Latin-1 print
//! as `?`.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};
use shared::domain::calendar;
use shared::domain::ids::{PropertyId, TenantId};
use shared::domain::invoice::Invoice;
use shared::domain::money::{Decimal2, Money};
use shared::domain::payment::Payment;
use shared::{ApiError, Services, time_format};

use crate::views::{AllocationView, InvoiceView, ReceiptLine, ReceiptParty, ReceiptView};

/// Whether the caller asked for a PDF (`Accept: application/pdf`).
pub fn wants_pdf(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/pdf")))
}

/// A 200 with a PDF body.
pub fn pdf_response(pdf: Vec<u8>) -> Response {
    let mut response = (StatusCode::OK, pdf).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    response
}

/// Who an invoice or a payment is about: the organization, the property, the lease's
/// first tenant.
struct Parties {
    organization: ReceiptParty,
    property: ReceiptParty,
    tenant: ReceiptParty,
}

async fn parties(
    services: &Services,
    org_id: &str,
    property_id: &str,
    tenant_ids: &[String],
) -> Result<Parties, ApiError> {
    let store = &services.store;
    let organization_name = store.ledger().organization_name(org_id).await?;
    let property = match PropertyId::parse(property_id) {
        Some(id) => store.properties().get(org_id, &id).await?,
        None => None,
    };
    let tenant_id = tenant_ids.first().cloned().unwrap_or_default();
    let tenant = match TenantId::parse(&tenant_id) {
        Some(id) => store.tenants().get(org_id, &id).await?,
        None => None,
    };
    Ok(Parties {
        organization: ReceiptParty { id: org_id.to_owned(), name: organization_name, address: None },
        property: ReceiptParty {
            id: property_id.to_owned(),
            name: property.as_ref().map(|p| p.fields.name.clone()),
            address: property.as_ref().map(|p| {
                let a = &p.fields.address;
                format!("{}, {}, {} {}", a.street, a.city, a.state, a.postal_code)
            }),
        },
        tenant: ReceiptParty { id: tenant_id, name: tenant.map(|t| t.fields.name), address: None },
    })
}

/// The receipt of `payment`.
pub async fn receipt(services: &Services, payment: &Payment) -> Result<ReceiptView, ApiError> {
    let parties = parties(services, &payment.org_id, &payment.property_id, &payment.tenant_ids).await?;
    let mut lines = Vec::with_capacity(payment.allocations.len() + 1);
    for allocation in &payment.allocations {
        let invoice = services.store.ledger().invoice(&payment.org_id, &allocation.invoice_id).await?;
        let what = invoice.map_or_else(String::new, |i| {
            i.line_items.iter().map(|l| l.description.as_str()).collect::<Vec<_>>().join(", ")
        });
        let description = if what.is_empty() {
            format!("Invoice {}", allocation.invoice_id)
        } else {
            format!("Invoice {} ({what})", allocation.invoice_id)
        };
        lines.push(ReceiptLine { description, amount: Decimal2(allocation.amount) });
    }
    if payment.unapplied.0 > 0 {
        lines.push(ReceiptLine { description: "Credit on account".into(), amount: Decimal2(payment.unapplied) });
    }
    Ok(ReceiptView {
        receipt_number: format!("R-{}", payment.id),
        payment_id: payment.id.clone(),
        organization: parties.organization,
        property: parties.property,
        tenant: parties.tenant,
        currency: payment.currency.as_str().to_owned(),
        amount: Decimal2(payment.amount),
        method: payment.method,
        reference: payment.reference.clone(),
        received_on: calendar::format_date(payment.received_on),
        lines,
        allocations: payment
            .allocations
            .iter()
            .map(|a| AllocationView { invoice_id: a.invoice_id.clone(), amount: Decimal2(a.amount) })
            .collect(),
        refunded_amount: Decimal2(payment.refunded_amount),
        balance_after: payment.balance_after.map(Decimal2),
        status: payment.state(),
        issued_at: time_format::format(time_format::now()),
    })
}

fn money(amount: Decimal2, currency: &str) -> String {
    format!("{} {currency}", amount.0.to_decimal_string())
}

fn named(party: &ReceiptParty) -> String {
    party.name.clone().unwrap_or_else(|| party.id.clone())
}

/// A receipt as a one-page PDF.
pub fn receipt_pdf(receipt: &ReceiptView) -> Vec<u8> {
    let currency = receipt.currency.as_str();
    let mut text = vec![
        (Style::Title, "Payment receipt".to_owned()),
        (Style::Body, named(&receipt.organization)),
        (Style::Body, format!("Receipt {}", receipt.receipt_number)),
        (Style::Gap, String::new()),
        (Style::Body, format!("Received from: {}", named(&receipt.tenant))),
        (Style::Body, format!("Property: {}", named(&receipt.property))),
    ];
    if let Some(address) = &receipt.property.address {
        text.push((Style::Body, address.clone()));
    }
    text.push((Style::Body, format!("Received on: {}", receipt.received_on)));
    let method = serde_json::to_value(receipt.method).ok().and_then(|v| v.as_str().map(str::to_owned));
    text.push((Style::Body, format!("Method: {}", method.unwrap_or_default())));
    if let Some(reference) = &receipt.reference {
        text.push((Style::Body, format!("Reference: {reference}")));
    }
    text.push((Style::Gap, String::new()));
    for line in &receipt.lines {
        text.push((Style::Body, format!("{}: {}", line.description, money(line.amount, currency))));
    }
    text.push((Style::Gap, String::new()));
    text.push((Style::Heading, format!("Amount paid: {}", money(receipt.amount, currency))));
    if receipt.refunded_amount.0.0 > 0 {
        text.push((Style::Body, format!("Refunded: {}", money(receipt.refunded_amount, currency))));
    }
    if let Some(balance) = receipt.balance_after {
        text.push((Style::Heading, format!("Balance after payment: {}", money(balance, currency))));
    }
    document(&text)
}

/// An invoice as a one-page PDF, with the lease's balance today.
pub async fn invoice_pdf(services: &Services, invoice: &Invoice) -> Result<Response, ApiError> {
    let parties = parties(services, &invoice.org_id, &invoice.property_id, &invoice.tenant_ids).await?;
    let balance = services.store.ledger().balance(&invoice.org_id, &invoice.lease_id).await?;
    let view = InvoiceView::from(invoice);
    let currency = view.currency.as_str();
    let status = serde_json::to_value(view.status).ok().and_then(|v| v.as_str().map(str::to_owned));
    let mut text = vec![
        (Style::Title, "Invoice".to_owned()),
        (Style::Body, named(&parties.organization)),
        (Style::Body, format!("Invoice {}", view.id)),
        (Style::Gap, String::new()),
        (Style::Body, format!("Bill to: {}", named(&parties.tenant))),
        (Style::Body, format!("Property: {}", named(&parties.property))),
    ];
    if let Some(address) = &parties.property.address {
        text.push((Style::Body, address.clone()));
    }
    text.push((Style::Body, format!("Issued: {}   Due: {}", view.issue_date, view.due_date)));
    text.push((Style::Body, format!("Status: {}", status.unwrap_or_default())));
    text.push((Style::Gap, String::new()));
    for line in &view.line_items {
        text.push((Style::Body, format!("{}: {}", line.description, money(line.amount, currency))));
    }
    text.push((Style::Gap, String::new()));
    text.push((Style::Heading, format!("Total: {}", money(view.total, currency))));
    text.push((Style::Body, format!("Paid: {}", money(view.amount_paid, currency))));
    text.push((Style::Heading, format!("Amount due: {}", money(view.amount_due, currency))));
    let balance = balance.map_or(Money(0), |b| b.balance);
    text.push((Style::Body, format!("Lease balance: {}", money(Decimal2(balance), currency))));
    if let Some(notes) = &invoice.notes {
        text.push((Style::Gap, String::new()));
        text.push((Style::Body, notes.clone()));
    }
    Ok(pdf_response(document(&text)))
}

#[derive(Debug, Clone, Copy)]
enum Style {
    Title,
    Heading,
    Body,
    Gap,
}

/// Characters past this many on one line are cut: an A4 line of 11 pt Helvetica.
const MAX_LINE_CHARS: usize = 95;

/// WinAnsi bytes of `text`: Latin-1 as is, anything else `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .take(MAX_LINE_CHARS)
        .map(|c| match u32::from(c) {
            code @ (0x20..=0x7e | 0xa0..=0xff) => code as u8,
            _ => b'?',
        })
        .collect()
}

/// One A4 page of `lines`, top to bottom.
fn document(lines: &[(Style, String)]) -> Vec<u8> {
    let (catalog, tree, page_id, regular, bold, contents) =
        (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4), Ref::new(5), Ref::new(6));
    let (regular_name, bold_name) = (Name(b"F1"), Name(b"F2"));
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    page.media_box(Rect::new(0.0, 0.0, 595.0, 842.0));
    page.parent(tree);
    page.contents(contents);
    let mut resources = page.resources();
    let mut fonts = resources.fonts();
    fonts.pair(regular_name, regular);
    fonts.pair(bold_name, bold);
    fonts.finish();
    resources.finish();
    page.finish();
    let win_ansi_encoding = Name(b"WinAnsiEncoding");
    pdf.type1_font(regular).base_font(Name(b"Helvetica")).encoding_predefined(win_ansi_encoding);
    pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold")).encoding_predefined(win_ansi_encoding);

    let mut content = Content::new();
    let mut y = 790.0;
    for (style, line) in lines {
        let (font, size, advance) = match style {
            Style::Title => (bold_name, 20.0, 28.0),
            Style::Heading => (bold_name, 12.0, 18.0),
            Style::Body => (regular_name, 11.0, 16.0),
            Style::Gap => {
                y -= 10.0;
                continue;
            }
        };
        if y < 40.0 {
            break;
        }
        content.begin_text();
        content.set_font(font, size);
        content.next_line(56.0, y);
        content.show(Str(&win_ansi(line)));
        content.end_text();
        y -= advance;
    }
    pdf.stream(contents, &content.finish());
    pdf.finish()
}
