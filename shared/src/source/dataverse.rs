//! Dataverse (Dynamics 365): the connection names the environment (`https://org.crm.dynamics.com`) and
//! the Web API lives beneath it at `api/data/v9.2/` ("Use the Dataverse Web API"); entity sets sit
//! directly under that service root, plural (`accounts`, `contacts`).

/// The Web API version Ferry reads: v9.2 is the current one and what every documented example uses.
const WEB_API: &str = "api/data/v9.2/";

/// The service root for a connection's `url`: the environment URL with the Web API path appended, or
/// the URL as written when it already names a path (an operator who pasted the service root, or a
/// service behind a gateway).
pub fn service_root(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if parsed.path().trim_matches('/').is_empty() => {
            format!("{}/{WEB_API}", url.trim_end_matches('/'))
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::service_root;

    #[test]
    fn the_environment_url_gets_the_web_api_path_and_a_service_root_stays() {
        assert_eq!(
            service_root("https://org.crm.dynamics.com"),
            "https://org.crm.dynamics.com/api/data/v9.2/"
        );
        assert_eq!(
            service_root("https://org.crm.dynamics.com/"),
            "https://org.crm.dynamics.com/api/data/v9.2/"
        );
        assert_eq!(
            service_root("https://org.crm.dynamics.com/api/data/v9.2"),
            "https://org.crm.dynamics.com/api/data/v9.2"
        );
    }
}
