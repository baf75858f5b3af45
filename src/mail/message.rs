//! Building the message the SMTP sender delivers: a text and an HTML part, and
//! the unsubscribe headers (RFC 2369 and the one-click POST of RFC 8058).

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;

/// One outbox row, ready to send.
pub struct Outgoing<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: Option<&'a str>,
    pub unsubscribe_url: Option<&'a str>,
}

pub fn build(from: &Mailbox, msg: &Outgoing<'_>) -> Result<Message, String> {
    let to: Mailbox = msg.to.parse().map_err(|e| format!("bad recipient: {e}"))?;
    let mut builder = Message::builder().from(from.clone()).to(to).subject(msg.subject);
    if let Some(url) = msg.unsubscribe_url {
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".to_string(),
            ));
    }
    let built = match msg.html {
        Some(html) => {
            builder.multipart(MultiPart::alternative_plain_html(msg.text.to_string(), html.to_string()))
        }
        None => builder.body(msg.text.to_string()),
    };
    built.map_err(|e| e.to_string())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The HTML part of a text message: every character escaped, paragraphs at blank
/// lines, line breaks kept, links made clickable.
pub fn text_to_html(subject: &str, text: &str) -> String {
    let mut body = String::new();
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        body.push_str("<p>");
        for (i, line) in para.lines().enumerate() {
            if i > 0 {
                body.push_str("<br>");
            }
            for (is_link, part) in super::split_links(line) {
                if is_link {
                    let href = escape(&part);
                    body.push_str(&format!("<a href=\"{href}\">{href}</a>"));
                } else {
                    body.push_str(&escape(&part));
                }
            }
        }
        body.push_str("</p>\n");
    }
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:sans-serif;line-height:1.5;color:#1b2330\">\n{body}</body></html>",
        escape(subject)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_have_both_parts_and_the_unsubscribe_headers() {
        let from: Mailbox = "autodoctor <no-reply@autodoctor.test>".parse().unwrap();
        let html = text_to_html("Paid", "Hello <Casey> & co,\n\nSee https://a.test/orders/1\nThanks");
        assert!(html.contains("<p>Hello &lt;Casey&gt; &amp; co,</p>"), "{html}");
        assert!(
            html.contains("<a href=\"https://a.test/orders/1\">https://a.test/orders/1</a><br>Thanks"),
            "{html}"
        );
        let msg = build(
            &from,
            &Outgoing {
                to: "c@example.com",
                subject: "Paid",
                text: "Hello",
                html: Some(&html),
                unsubscribe_url: Some("https://a.test/unsubscribe/tok"),
            },
        )
        .unwrap();
        let raw = String::from_utf8(msg.formatted()).unwrap();
        assert!(raw.contains("List-Unsubscribe: <https://a.test/unsubscribe/tok>"), "{raw}");
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        assert!(raw.contains("text/plain") && raw.contains("text/html"), "{raw}");

        let plain = build(
            &from,
            &Outgoing {
                to: "c@example.com",
                subject: "Hi",
                text: "Hello",
                html: None,
                unsubscribe_url: None,
            },
        )
        .unwrap();
        let raw = String::from_utf8(plain.formatted()).unwrap();
        assert!(!raw.contains("List-Unsubscribe") && !raw.contains("multipart"), "{raw}");
        let bad = Outgoing { to: "not an address", subject: "", text: "", html: None, unsubscribe_url: None };
        assert!(build(&from, &bad).is_err());
    }
}
