//! The TOTP enrolment's QR code, drawn by the server as inline SVG (no image, no script):
//! one path of the dark modules, with a quiet zone of four modules (ISO/IEC 18004 §6.3.8).

use qrcodegen::{QrCode, QrCodeEcc};

use crate::html::escape;

/// The QR code of `text` as an `<svg role="img">` titled `title`; empty when `text` is too
/// long for a QR code (an otpauth URI never is).
pub fn svg(text: &str, title: &str) -> String {
    let Ok(qr) = QrCode::encode_text(text, QrCodeEcc::Medium) else {
        return String::new();
    };
    let size = qr.size();
    let mut path = String::with_capacity((size * size) as usize * 6);
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + 4, y + 4));
            }
        }
    }
    let full = size + 8;
    format!(
        r##"<svg role="img" aria-labelledby="qr-title" class="qr" viewBox="0 0 {full} {full}" width="240" height="240" xmlns="http://www.w3.org/2000/svg" shape-rendering="crispEdges"><title id="qr-title">{}</title><rect width="{full}" height="{full}" fill="#ffffff"/><path d="{path}" fill="#000000"/></svg>"##,
        escape(title)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_an_svg_with_a_title() {
        let s = super::svg("otpauth://totp/X:a?secret=GEZDGNBV", "QR <code>");
        assert!(s.starts_with("<svg role=\"img\""));
        assert!(s.contains("<title id=\"qr-title\">QR &lt;code&gt;</title>"));
        assert!(
            s.contains("M4,4h1v1h-1z"),
            "the finder pattern's corner is dark"
        );
    }
}
