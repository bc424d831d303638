//! Who runs a domain's mail, from its MX host names. Recorded because
//! users route sending by it, and because the SMTP probe reads some
//! providers' replies differently (Microsoft 365).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    GoogleWorkspace,
    Microsoft365,
    Zoho,
    Proofpoint,
    Mimecast,
    Barracuda,
    Yahoo,
    Icloud,
    Yandex,
    Fastmail,
    Other,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::GoogleWorkspace => "google_workspace",
            Provider::Microsoft365 => "microsoft_365",
            Provider::Zoho => "zoho",
            Provider::Proofpoint => "proofpoint",
            Provider::Mimecast => "mimecast",
            Provider::Barracuda => "barracuda",
            Provider::Yahoo => "yahoo",
            Provider::Icloud => "icloud",
            Provider::Yandex => "yandex",
            Provider::Fastmail => "fastmail",
            Provider::Other => "other",
        }
    }
}

/// The provider of the most preferred MX host that we recognise; `Other`
/// when none is known (or there are no hosts).
pub fn detect(mx_hosts: &[String]) -> Provider {
    mx_hosts
        .iter()
        .map(|h| of_host(h))
        .find(|p| *p != Provider::Other)
        .unwrap_or(Provider::Other)
}

/// One MX host name (lower case, with or without the trailing dot).
pub fn of_host(host: &str) -> Provider {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    let ends = |suffix: &str| h == suffix || h.ends_with(&format!(".{suffix}"));
    if ends("google.com") || ends("googlemail.com") || ends("smtp.goog") {
        Provider::GoogleWorkspace
    } else if ends("mail.protection.outlook.com") || ends("outlook.com") || ends("hotmail.com") {
        Provider::Microsoft365
    } else if h.starts_with("mx.zoho.")
        || h.starts_with("mx2.zoho.")
        || h.starts_with("mx3.zoho.")
        || ends("zoho.com")
        || ends("zohomail.com")
        || ends("zoho.eu")
    {
        Provider::Zoho
    } else if ends("pphosted.com") || ends("ppe-hosted.com") {
        Provider::Proofpoint
    } else if ends("mimecast.com") || ends("mimecast.co.za") {
        Provider::Mimecast
    } else if ends("barracudanetworks.com") || ends("barracuda.com") || ends("cudamail.com") {
        Provider::Barracuda
    } else if ends("yahoodns.net") || ends("yahoo.com") {
        Provider::Yahoo
    } else if ends("icloud.com") || ends("me.com") {
        Provider::Icloud
    } else if ends("yandex.net") || ends("yandex.ru") {
        Provider::Yandex
    } else if ends("messagingengine.com") || ends("fastmail.com") {
        Provider::Fastmail
    } else {
        Provider::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_are_recognised_by_their_mx_hosts() {
        let table = [
            ("aspmx.l.google.com.", Provider::GoogleWorkspace),
            ("alt1.aspmx.l.google.com", Provider::GoogleWorkspace),
            ("gmail-smtp-in.l.google.com", Provider::GoogleWorkspace),
            ("aspmx2.googlemail.com", Provider::GoogleWorkspace),
            (
                "acme-com.mail.protection.outlook.com",
                Provider::Microsoft365,
            ),
            ("mx.zoho.com", Provider::Zoho),
            ("mx.zoho.eu", Provider::Zoho),
            ("mxa-001.pphosted.com", Provider::Proofpoint),
            ("mx1-us1.ppe-hosted.com", Provider::Proofpoint),
            ("us-smtp-inbound-1.mimecast.com", Provider::Mimecast),
            ("d123.ess.barracudanetworks.com", Provider::Barracuda),
            ("mta5.am0.yahoodns.net", Provider::Yahoo),
            ("mx01.mail.icloud.com", Provider::Icloud),
            ("mx.yandex.net", Provider::Yandex),
            ("in1-smtp.messagingengine.com", Provider::Fastmail),
            ("mail.acme.com", Provider::Other),
            ("notgoogle.com", Provider::Other),
        ];
        for (host, want) in table {
            assert_eq!(of_host(host), want, "{host}");
        }
        let hosts = vec!["mail.acme.com".to_owned(), "aspmx.l.google.com".to_owned()];
        assert_eq!(detect(&hosts), Provider::GoogleWorkspace);
        assert_eq!(detect(&[]), Provider::Other);
    }
}
